/*
 * The alloctag command's subcommands (one file each) and what they share.
 * Exit status: 0 done, 1 failed (bad input file, I/O), 2 usage error
 * (one "alloctag: " line naming it); `run` exits as its program did.
 */
#ifndef ALLOCTAG_TOOL_COMMANDS_H
#define ALLOCTAG_TOOL_COMMANDS_H

#include <stdint.h>

#include "../report/report.h"

int cmd_run(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_diff(int argc, char **argv);

/* A usage error of command cmd: one line, exit status 2. */
void usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
/* Parse a byte count with optional K, M, G (binary) suffix; 0 or -1. */
int parse_bytes(const char *s, int64_t *out);
/* Parse --format's value or exit 2. */
enum report_format parse_format(const char *cmd, const char *s);
/* Compile --match's regular expression (POSIX extended) into f or exit 2. */
void parse_match(const char *cmd, const char *re, struct filter *f);

#endif
