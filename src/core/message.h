/*
 * Messages to stderr.  Every line starts with "alloctag: ".  Formatting uses
 * a stack buffer and write(2): the runtime never calls malloc, and stdio may.
 */
#ifndef AT_MESSAGE_H
#define AT_MESSAGE_H

#include "core/compiler.h"

/* Print one line "alloctag: <text>\n" to stderr. */
AT_HIDDEN void at_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print the line and abort the process (a detected heap error). */
AT_HIDDEN __attribute__((noreturn)) void at_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
/* Print once per `once` flag (a warning that could repeat). */
#define at_msg_once(flag, ...)                                                  \
	do {                                                                    \
		if (!__atomic_exchange_n(&(flag), 1, __ATOMIC_RELAXED))         \
			at_msg(__VA_ARGS__);                                    \
	} while (0)

#endif
