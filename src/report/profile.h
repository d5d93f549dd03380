/*
 * The raw profile (docs/PROFILE_FORMAT.md): call chains as (object, build
 * ID, file address) and counters, compile-time tags with their names.
 * Written without malloc and without reading any symbol or debug data.
 */
#ifndef AT_PROFILE_H
#define AT_PROFILE_H

#include "core/compiler.h"

/* Write the whole profile to fd.  0, or -errno (nothing is retried). */
AT_HIDDEN int at_profile_write_fd(int fd);

#endif
