/*
 * Reading a range of a file completely (short reads and EINTR retried),
 * with the pread64 system call made here rather than through libc (and
 * opening and closing a file start-up reads, the same way).
 *
 * The unwinder and the symbol index read object files when a new call
 * chain is made.  A fork child's page tables hold none of libc's text (a
 * file mapping's entries are not copied by fork), so libc's pread would
 * cost the child a page fault for its 64 KiB text window, on top of the
 * chain's own; the system call instruction here is in our text, which the
 * child's malloc has mapped already.  errno is left alone.  (preadv: the
 * unwinder's kept blocks of a file, a run of them a read.)
 */
#ifndef AT_READ_AT_H
#define AT_READ_AT_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>
#if defined(__x86_64__) && defined(__linux__)
#include <sys/syscall.h>

#include "core/raw_syscall.h"
#else
/* libc's call's result, or -errno; errno left as it was */
#define AT_NEG_ERRNO(call)                                                                 \
	({                                                                                 \
		int saved_ = errno;                                                        \
		ssize_t r_ = (call);                                                       \
		if (r_ < 0)                                                                \
			r_ = -errno;                                                       \
		errno = saved_;                                                            \
		r_;                                                                        \
	})
#endif

/* One pread64: the bytes read, or -errno. */
static inline ssize_t at_pread_once(int fd, void *buf, size_t n, uint64_t off)
{
#if defined(__x86_64__) && defined(__linux__)
	return (ssize_t)at_raw_syscall4(SYS_pread64, fd, (long)buf, (long)n, (long)off);
#else
	return AT_NEG_ERRNO(pread(fd, buf, n, (off_t)off));
#endif
}

/* One preadv (iovcnt buffers from off): the bytes read, or -errno. */
static inline ssize_t at_preadv_once(int fd, const struct iovec *iov, int iovcnt, uint64_t off)
{
#if defined(__x86_64__) && defined(__linux__)
	/* the offset's low and high words: on a 64-bit kernel the low one
	 * holds all of it */
	return (ssize_t)at_raw_syscall6(SYS_preadv, fd, (long)iov, iovcnt, (long)off, 0, 0);
#else
	return AT_NEG_ERRNO(preadv(fd, iov, iovcnt, (off_t)off));
#endif
}

/* open(path, O_RDONLY | O_CLOEXEC) and close(fd), the system calls made
 * here too, for a file start-up reads (counters.c: the CPU list): libc's
 * open and close would each cost every process start a lazy binding by the
 * loader (about 700 instructions).  open: the descriptor, or -errno. */
static inline int at_open_rdonly(const char *path)
{
#if defined(__x86_64__) && defined(__linux__)
	return (int)at_raw_syscall4(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC, 0);
#else
	return (int)AT_NEG_ERRNO(open(path, O_RDONLY | O_CLOEXEC));
#endif
}

static inline void at_close(int fd)
{
#if defined(__x86_64__) && defined(__linux__)
	at_raw_syscall4(SYS_close, fd, 0, 0, 0);
#else
	int saved = errno;
	close(fd);
	errno = saved;
#endif
}

/* n bytes at off into buf, fewer only at the end of the file; -1 on an
 * error (or an offset past what off_t holds). */
static inline ssize_t at_read_at(int fd, void *buf, size_t n, uint64_t off)
{
	size_t got = 0;
	if (off > (uint64_t)INT64_MAX - n)
		return -1;
	while (got < n) {
		ssize_t r = at_pread_once(fd, (char *)buf + got, n - got, off + got);
		if (r == -EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* The ELF readers' callback (at_elf_read_fn: tag_section.h, symtab.h):
 * exactly len bytes at off from descriptor *(int *)ctx; 0, else -1. */
static inline int at_read_fd(void *ctx, void *buf, size_t len, uint64_t off)
{
	return at_read_at(*(int *)ctx, buf, len, off) == (ssize_t)len ? 0 : -1;
}

#endif
