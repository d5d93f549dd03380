/*
 * libc functions the preload library defines for itself, hidden: what the
 * loader does for the library at every process start, however little the
 * program runs.
 *
 * Each symbol version the library needs is checked by the loader against
 * libc's definitions at every start (about 300 instructions each), and each
 * libc function the constructor calls is bound lazily at that first call
 * (about 1,100 instructions: the trampoline, a lookup through the whole
 * scope, the version match).  The library's own code calls libc by its
 * ordinary names; these definitions, linked into the preload library only
 * (CMakeLists.txt), take those references instead of libc:
 *
 * - versions no longer needed: GLIBC_2.14 (memcpy, whose one newer version
 *   split it from memmove: memmove is called, the same routine in glibc's
 *   x86-64 string functions), GLIBC_2.33 (stat, lstat, fstat: the system
 *   calls made here; the kernel's struct stat is glibc's on x86-64), and
 *   GLIBC_2.17 (clock_gettime, clock_nanosleep: bound to their
 *   GLIBC_2.2.5 definitions, the same functions libc kept from librt),
 *   GLIBC_2.3.2 (pthread_atfork bound to libc's GLIBC_2.2.5 definition
 *   rather than libc_nonshared.a's call of __register_atfork);
 * - bindings start-up no longer makes: mmap and getrlimit, the heap's
 *   reservation (page_alloc.c), made here as the same system calls libc
 *   makes (mmap, prlimit64).
 *
 * Each sets errno and returns as libc's does.  The static library and
 * liballoctag.so call libc's: their program links libc's definitions
 * anyway.  The test start_bindings asserts the versions and bindings left.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include "core/raw_syscall.h"

#if defined(__x86_64__) && defined(__linux__)

#define AT_LOCAL __attribute__((visibility("hidden")))

/* A system call's result as libc returns it: -1 and errno on failure. */
static long ret(long r)
{
	if ((unsigned long)r > -4096ul) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/* libc's memmove by a name the compiler does not know as a built-in:
 * memmove called from a function named memcpy may be made memcpy. */
extern void *at_libc_memmove(void *, const void *, size_t) __asm__("memmove");

AT_LOCAL void *memcpy(void *restrict d, const void *restrict s, size_t n)
{
	return at_libc_memmove(d, s, n);
}

AT_LOCAL int stat(const char *restrict path, struct stat *restrict st)
{
	return (int)ret(at_raw_syscall4(SYS_newfstatat, AT_FDCWD, (long)path, (long)st, 0));
}

AT_LOCAL int lstat(const char *restrict path, struct stat *restrict st)
{
	return (int)ret(at_raw_syscall4(SYS_newfstatat, AT_FDCWD, (long)path, (long)st,
			     AT_SYMLINK_NOFOLLOW));
}

AT_LOCAL int fstat(int fd, struct stat *st)
{
	return (int)ret(at_raw_syscall4(SYS_fstat, fd, (long)st, 0, 0));
}

AT_LOCAL int getrlimit(__rlimit_resource_t res, struct rlimit *lim)
{
	return (int)ret(at_raw_syscall4(SYS_prlimit64, 0, res, 0, (long)lim));
}

AT_LOCAL void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return (void *)ret(at_raw_syscall6(SYS_mmap, (long)addr, (long)len, prot, flags, fd, off));
}

/* libc's GLIBC_2.2.5 definitions of these (the same functions). */
extern int at_clock_gettime_225(clockid_t, struct timespec *);
extern int at_clock_nanosleep_225(clockid_t, int, const struct timespec *, struct timespec *);
extern int at_pthread_atfork_225(void (*)(void), void (*)(void), void (*)(void));
__asm__(".symver at_clock_gettime_225, clock_gettime@GLIBC_2.2.5");
__asm__(".symver at_clock_nanosleep_225, clock_nanosleep@GLIBC_2.2.5");
__asm__(".symver at_pthread_atfork_225, pthread_atfork@GLIBC_2.2.5");

/* In place of libc_nonshared.a's, which calls __register_atfork
 * (GLIBC_2.3.2) with the library's DSO handle, used only to drop the
 * handlers when the object is unloaded: this one never is (-z nodelete). */
AT_LOCAL int pthread_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
	return at_pthread_atfork_225(prepare, parent, child);
}

AT_LOCAL int clock_gettime(clockid_t c, struct timespec *ts)
{
	return at_clock_gettime_225(c, ts);
}

AT_LOCAL int clock_nanosleep(clockid_t c, int flags, const struct timespec *t, struct timespec *rem)
{
	return at_clock_nanosleep_225(c, flags, t, rem);
}

#endif
