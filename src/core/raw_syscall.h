/*
 * A system call of up to six arguments made by the syscall instruction in
 * our own text (x86-64 Linux): the kernel's result, -errno on failure;
 * errno is never touched, and no libc function is called (nor bound by the
 * loader, nor its text paged in).
 */
#ifndef AT_RAW_SYSCALL_H
#define AT_RAW_SYSCALL_H

#if defined(__x86_64__) && defined(__linux__)
static inline long at_raw_syscall6(long nr, long a, long b, long c, long d, long e, long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ __volatile__("syscall"
			     : "=a"(ret)
			     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			     : "rcx", "r11", "memory");
	return ret;
}

static inline long at_raw_syscall4(long nr, long a, long b, long c, long d)
{
	return at_raw_syscall6(nr, a, b, c, d, 0, 0);
}
#endif

#endif
