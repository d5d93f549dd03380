/*
 * A system call of up to four arguments made by the syscall instruction in
 * our own text (x86-64 Linux): the kernel's result, -errno on failure;
 * errno is never touched, and no libc function is called (nor bound by the
 * loader, nor its text paged in).
 */
#ifndef AT_RAW_SYSCALL_H
#define AT_RAW_SYSCALL_H

#if defined(__x86_64__) && defined(__linux__)
static inline long at_raw_syscall4(long nr, long a, long b, long c, long d)
{
	long ret;
	register long r10 __asm__("r10") = d;
	__asm__ __volatile__("syscall"
			     : "=a"(ret)
			     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
			     : "rcx", "r11", "memory");
	return ret;
}
#endif

#endif
