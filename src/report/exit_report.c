/*
 * ALLOCTAG_ALLOCINFO=<path>: the preload library writes the allocinfo text
 * (allocinfo.c) to <path> when the process exits (exit() or return from
 * main: a destructor of liballoctag-preload.so, which runs after the
 * program's own destructors; _exit() and fatal signals write nothing).
 *
 *   -        standard error, as it was when the library was loaded (a copy
 *            of fd 2 is kept, close-on-exec: programs such as coreutils
 *            close fd 2 at exit); used only if it still names the same file
 *            at exit, otherwise fd 2
 *   <path>   created or truncated at exit (mode 0666 & ~umask); every "%p"
 *            in it is replaced by the process id, so that the children of a
 *            program (which inherit the variable) do not overwrite its report
 *   empty    nothing is written; one message
 * The path is checked when the library is loaded (opened for writing,
 * created if missing, not truncated), while stderr is surely open: a path
 * that cannot be opened gets one "alloctag: " line naming it and why, and
 * nothing is written at exit; the program runs on.  A failure at exit gets
 * the same line.  No malloc: stack buffers and write(2).
 */
#define _GNU_SOURCE /* strerrordesc_np: untranslated, no allocation */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/message.h"

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

/* Open the expanded path; fd or -errno (the message is printed here). */
static int open_report(const char *path, int flags)
{
	char file[4096];
	int err = expand(path, file, sizeof(file));
	if (!err) {
		int fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0666);
		if (fd >= 0)
			return fd;
		err = -errno;
	}
	at_msg("ALLOCTAG_ALLOCINFO=%s: cannot open for writing: %s; no allocinfo will be written",
	       path, why(-err));
	return err;
}

static enum { OFF, TO_FILE, TO_STDERR } report;
static int stderr_copy = -1;
static struct stat stderr_st;

__attribute__((constructor)) static void allocinfo_check(void)
{
	const char *path = getenv("ALLOCTAG_ALLOCINFO");
	if (!path)
		return;
	if (!path[0]) {
		at_msg("ALLOCTAG_ALLOCINFO is empty; expected a file path or \"-\" (standard "
		       "error); no allocinfo will be written");
		return;
	}
	if (strcmp(path, "-") == 0) {
		stderr_copy = fcntl(2, F_DUPFD_CLOEXEC, 3);
		if (stderr_copy >= 0 && fstat(stderr_copy, &stderr_st)) {
			close(stderr_copy);
			stderr_copy = -1;
		}
		report = TO_STDERR;
		return;
	}
	int fd = open_report(path, 0);
	if (fd < 0)
		return;
	close(fd);
	report = TO_FILE;
}

/* The copy of stderr if it still names the file it named at start-up. */
static int stderr_fd(void)
{
	struct stat st;
	if (stderr_copy >= 0 && fstat(stderr_copy, &st) == 0 && st.st_dev == stderr_st.st_dev &&
	    st.st_ino == stderr_st.st_ino)
		return stderr_copy;
	return 2;
}

__attribute__((destructor)) static void allocinfo_at_exit(void)
{
	const char *path = getenv("ALLOCTAG_ALLOCINFO");
	if (report == OFF || !path)
		return;
	if (report == TO_STDERR) {
		alloctag_write_allocinfo_fd(stderr_fd());
		return;
	}
	int err, fd = open_report(path, O_TRUNC);
	if (fd < 0)
		return;
	err = alloctag_write_allocinfo_fd(fd);
	if (close(fd) && !err)
		err = -errno;
	if (err)
		at_msg("ALLOCTAG_ALLOCINFO=%s: cannot write: %s", path, why(-err));
}
