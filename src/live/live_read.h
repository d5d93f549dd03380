/*
 * Reading a live process (live_read.c holds the protocol): the signal the
 * `alloctag` command sends, the name of the socket it listens on, and the
 * start-up of everything in src/live/ (live read, peak, interval series,
 * HTTP endpoint).
 */
#ifndef AT_LIVE_READ_H
#define AT_LIVE_READ_H

#include <signal.h>
#include <sys/types.h>

#include "core/compiler.h"

/* The request signal: SIGRTMAX - 3 (61 on Linux x86-64), the command's
 * (tools/live/live_read.c).  glibc's SIGRTMAX is a call
 * (__libc_current_sigrtmax) that answers _NSIG - 1 until a program takes
 * real-time signals with __libc_allocate_rtsig, which none can have done
 * before start-up installs the handler: the constant spares every process
 * start the loader's binding of that call. */
#define AT_LIVE_SIGNAL (_NSIG - 4)
/* Abstract UNIX socket name, "\0" + this prefix + 8 lower-case hex digits
 * of the request's nonce (the sigqueue value). */
#define AT_LIVE_SOCK_PREFIX "alloctag-live."
/* Seconds a snapshot process may take before it is killed (SIGALRM). */
#define AT_LIVE_TIMEOUT 20

/* Start-up (init.c's constructor, after alloctag_init): install the request
 * handler unless ALLOCTAG_LIVE=0; start the peak recorder, the interval
 * sampler and the HTTP endpoint if their variables ask for them. */
AT_HIDDEN void at_live_start(void);

/* The process id a profile names: the target's in a snapshot process. */
AT_HIDDEN pid_t at_live_pid(void);

/* In a snapshot process (alone in a copy of the target): make the locks
 * that threads which do not exist here may have held usable again. */
AT_HIDDEN void at_live_child_reset(void);

#endif
