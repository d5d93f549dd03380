/*
 * Reading a live process and the commands built on it (the protocol is
 * written once, at the top of src/live/live_read.c):
 *   alloctag snapshot PID -o FILE     the raw profile of PID, now
 *   alloctag top PID [--once] [-d SECONDS] [-n N]
 *                                     a refreshing table, largest live bytes
 *                                     first, with deltas; q quits
 */
#ifndef ALLOCTAG_TOOL_LIVE_H
#define ALLOCTAG_TOOL_LIVE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Read the raw profile of process pid into *text (malloc'd, *len bytes,
 * NUL-terminated).  0; 1 when the process exited during the read (the text
 * is whole, a snapshot of a moment before; one line said so); -1 after one
 * "alloctag: " line (no such process, another user's, not running alloctag,
 * exited before answering, no answer in time, cut off).
 */
int live_read(pid_t pid, char **text, size_t *len);

int cmd_snapshot(int argc, char **argv);
int cmd_top(int argc, char **argv);
/* "100ms", "0.5s", "2" (seconds): nanoseconds, or -1 (the runtime's
 * ALLOCTAG_INTERVAL grammar, src/live/sampler.c). */
long long live_parse_interval(const char *s);
/* Set ALLOCTAG_TOOL to this executable's path (for the HTTP endpoint). */
void live_set_tool_env(void);
/* "PID" (command cmd): the number, or a usage error. */
pid_t live_parse_pid(const char *cmd, const char *s);

#endif
