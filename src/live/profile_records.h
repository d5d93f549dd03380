/*
 * The raw profile's records from src/live/ (docs/PROFILE_FORMAT.md,
 * "Peak and series"): written by report/profile.c through `put`, which
 * takes one whole line at a time.
 */
#ifndef AT_PROFILE_RECORDS_H
#define AT_PROFILE_RECORDS_H

#include <stdint.h>

#include "core/compiler.h"

typedef void (*at_put_fn)(void *ctx, const char *line);

/* "index N": after each chain and tag record, the tag index it holds. */
AT_HIDDEN void at_live_index_record(uint32_t idx, at_put_fn put, void *ctx);
/* The peak and the series, if recorded; before the end record.  No
 * registry lock may be held by the caller. */
AT_HIDDEN void at_live_records(at_put_fn put, void *ctx);

#endif
