/*
 * Reports written when the process exits (exit() or return from main: a
 * destructor of liballoctag-preload.so, which runs after the program's own
 * destructors; _exit() and fatal signals write nothing and leave no file):
 *
 *   ALLOCTAG_ALLOCINFO=<path>   the allocinfo text (allocinfo.c)
 *   ALLOCTAG_PROFILE=<path>     the raw profile (profile.c,
 *                               docs/PROFILE_FORMAT.md)
 *
 * Values of either:
 *   -        standard error, as it was when the library was loaded (a copy
 *            of fd 2 is kept, close-on-exec: programs such as coreutils
 *            close fd 2 at exit); used only if it still names the same file
 *            at exit, otherwise fd 2
 *   <path>   every "%p" in it is replaced by the process id, so that the
 *            children of a program (which inherit the variable) do not
 *            overwrite its report.  At exit the report is written to
 *            "<path>.tmp.<pid>", created O_CREAT|O_EXCL|O_NOFOLLOW with mode
 *            0600 (a stale one of that name is unlinked first: unlink does
 *            not follow a symlink), then renamed over <path>; a write that
 *            fails removes the temporary file, and <path> is never a partial
 *            report.  An existing <path> owned by another user is left alone.
 *   empty    nothing is written; one message
 * The path is checked when the library is loaded, while stderr is surely
 * open: the temporary file is created and removed again (nothing is left
 * behind), and a path naming a directory is refused.  A path that fails
 * gets one "alloctag: " line naming it and why, nothing is written at exit,
 * and the program runs on.  A failure at exit gets the same kind of line.
 * No malloc: stack buffers and write(2).
 */
#define _GNU_SOURCE /* strerrordesc_np: untranslated, no allocation */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/control.h"
#include "core/message.h"
#include "report/profile.h"

/* path with each "%p" replaced by the pid; 0, or -ENAMETOOLONG. */
static int expand(const char *path, char *out, size_t len)
{
	char pid[24];
	int np = snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	size_t n = 0;
	for (const char *s = path; *s; s++) {
		const char *add = s;
		size_t k = 1;
		if (s[0] == '%' && s[1] == 'p') {
			add = pid;
			k = (size_t)np;
			s++;
		}
		if (n + k >= len)
			return -ENAMETOOLONG;
		memcpy(out + n, add, k);
		n += k;
	}
	out[n] = '\0';
	return 0;
}

static const char *why(int err)
{
	const char *d = strerrordesc_np(err);
	return d ? d : "unknown error";
}

struct report {
	const char *var;  /* the environment variable */
	const char *what; /* what is written, for messages */
	int (*write)(int fd);
	enum { OFF, TO_FILE, TO_STDERR } mode;
	int stderr_copy;
	struct stat stderr_st;
};

static struct report reports[] = {
	{"ALLOCTAG_ALLOCINFO", "allocinfo", alloctag_write_allocinfo_fd, OFF, -1, {0}},
	{"ALLOCTAG_PROFILE", "profile", at_profile_write_fd, OFF, -1, {0}},
};

/* The temporary file of the expanded path: fd or -errno; tmp receives its name. */
static int open_tmp(const char *file, char *tmp, size_t len)
{
	int n = snprintf(tmp, len, "%s.tmp.%ld", file, (long)getpid());
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	for (int tries = 0;; tries++) {
		int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST || tries || unlink(tmp))
			return -errno;
	}
}

/* Check that the path can be written: 0 or -errno; leaves nothing behind. */
static int check_path(const char *path)
{
	char file[4096], tmp[4200];
	struct stat st;
	int err = expand(path, file, sizeof(file));
	if (err)
		return err;
	if (stat(file, &st) == 0 && S_ISDIR(st.st_mode))
		return -EISDIR;
	int fd = open_tmp(file, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	close(fd);
	unlink(tmp);
	return 0;
}

static void start(struct report *r)
{
	const char *path = at_getenv(r->var);
	if (!path)
		return;
	if (!path[0]) {
		at_msg("%s is empty; expected a file path or \"-\" (standard error); no %s will "
		       "be written",
		       r->var, r->what);
		return;
	}
	if (strcmp(path, "-") == 0) {
		r->stderr_copy = fcntl(2, F_DUPFD_CLOEXEC, 3);
		if (r->stderr_copy >= 0 && fstat(r->stderr_copy, &r->stderr_st)) {
			close(r->stderr_copy);
			r->stderr_copy = -1;
		}
		r->mode = TO_STDERR;
		return;
	}
	int err = check_path(path);
	if (err) {
		at_msg("%s=%s: cannot open for writing: %s; no %s will be written", r->var, path,
		       why(-err), r->what);
		return;
	}
	r->mode = TO_FILE;
}

__attribute__((constructor)) static void exit_reports_check(void)
{
	for (size_t i = 0; i < sizeof(reports) / sizeof(reports[0]); i++)
		start(&reports[i]);
}

/* The copy of stderr if it still names the file it named at start-up. */
static int stderr_fd(const struct report *r)
{
	struct stat st;
	if (r->stderr_copy >= 0 && fstat(r->stderr_copy, &st) == 0 &&
	    st.st_dev == r->stderr_st.st_dev && st.st_ino == r->stderr_st.st_ino)
		return r->stderr_copy;
	return 2;
}

/* Report r to the file named by path: its 8 KiB of path buffers on the
 * stack only in a process that writes one (finish). */
static AT_NOINLINE void finish_file(struct report *r, const char *path)
{
	char file[4096], tmp[4200];
	struct stat st;
	int err = expand(path, file, sizeof(file));
	if (!err && lstat(file, &st) == 0 && st.st_uid != geteuid())
		err = -EPERM;
	int fd = err ? err : open_tmp(file, tmp, sizeof(tmp));
	if (fd < 0) {
		at_msg("%s=%s: cannot open for writing: %s", r->var, path, why(-fd));
		return;
	}
	err = r->write(fd);
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, file))
		err = -errno;
	if (err) {
		unlink(tmp);
		at_msg("%s=%s: cannot write: %s", r->var, path, why(-err));
	}
}

/* Reads nothing and grows no stack in a process with reports off (every
 * fork child of a program run without them). */
static void finish(struct report *r)
{
	if (r->mode == OFF)
		return;
	const char *path = at_getenv(r->var);
	if (!path)
		return;
	if (r->mode == TO_STDERR) {
		r->write(stderr_fd(r));
		return;
	}
	finish_file(r, path);
}

__attribute__((destructor)) static void exit_reports_write(void)
{
	for (size_t i = 0; i < sizeof(reports) / sizeof(reports[0]); i++)
		finish(&reports[i]);
}
