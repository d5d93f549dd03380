/*
 * Reading a live process: the protocol between `alloctag top|snapshot PID`
 * and the target.  Nothing runs in the target until it is read: no thread,
 * no socket, no file; start-up installs one signal handler.
 *
 *  tool                                   target (any thread T)
 *  ----                                   ---------------------
 *  check /proc/PID/status: the target
 *    catches AT_LIVE_SIGNAL (SigCgt)
 *  bind + listen on the abstract UNIX
 *    socket "\0alloctag-live.NNNNNNNN"
 *    (NNNNNNNN: a random nonce)
 *  sigqueue(PID, AT_LIVE_SIGNAL, nonce)   the kernel checks the sender may
 *    (EPERM: not the owner, not root)       signal PID: its owner or root
 *                                         handler, on T (si_code SI_QUEUE
 *                                         only; a plain kill is ignored):
 *                                           unless a previous read's I still
 *                                           runs, clone a bare thread I
 *                                           (CLONE_THREAD, a static stack,
 *                                           every signal blocked, the
 *                                           kernel clears i_tid when it
 *                                           ends) and return.
 *                                         I (raw system calls only, no
 *                                         errno, no glibc state):
 *                                           fork S (no exit signal), wait
 *                                           for it (__WALL), exit.
 *                                         S: fork S2, exit (so S2 has no
 *                                           parent in the target: init, or
 *                                           the nearest subreaper, reaps it)
 *                                         S2, alone in a copy-on-write copy
 *                                         of the process as it was at I's
 *                                         fork:
 *                                           blocks every signal but SIGALRM,
 *                                           SIGALRM default, alarm(TIMEOUT),
 *                                           closes inherited descriptors,
 *                                           connects to the socket, checks
 *                                           the listener's SO_PEERCRED (uid
 *                                           of the target's real, effective
 *                                           or saved uid, or root), resets
 *                                           the locks of threads that do not
 *                                           exist in it, writes the raw
 *                                           profile, exits.
 *  accept; SO_PEERCRED of S2: the
 *    target's uid (or root); read to
 *    EOF, check the `end` record
 *  target gone (kill(PID, 0) ESRCH)?
 *    say so in one line
 *
 * Why so: the handler may interrupt T anywhere, inside malloc with a class
 * or arena lock held, inside the loader (dl_iterate_phdr's lock), inside
 * stdio.  Nothing that takes such a lock or allocates may run in the
 * handler, nor in I, which shares T's thread-local storage (it has no TCB
 * of its own: it makes raw system calls only, so it never writes errno).
 * The profile is written by S2, which runs no handler and sees a frozen
 * copy, so its counts are those of one instant (a quiescent read: exact,
 * bin_charge.h).  Locks held at the fork by any thread stay held in S2:
 * the registry lock, the readers' scratch table and src/live's own locks
 * are reset (at_live_child_reset: only a thread that S2 does not have
 * could hold them); anything else (the loader's lock, held by a thread
 * inside dlopen or an unwind) would block S2, and the alarm ends it: the
 * tool then says the read was cut off and may retry.
 *
 * Bounded stall: T stops for one clone of a thread (tens of microseconds,
 * whatever the number of call sites).  The forks run in I and S: copying
 * page tables, proportional to the process's mapped memory; meanwhile
 * other threads wait only if they fault a page or map memory while the
 * kernel copies the address space (mmap lock), and afterwards each first
 * write to a page copies it.  bench/bench_live_read.c measures both with
 * 100k call sites.
 *
 * Nothing left behind: the socket is abstract (no file; it disappears with
 * the tool's descriptor); I is a thread (no zombie); S is reaped by I; S2
 * is reparented to init (or the nearest subreaper) when S exits and reaped
 * there.  If the target dies while S2 writes, S2 still finishes: its
 * snapshot is of an instant before the target died, and the tool says the
 * target has exited.  If the target dies before answering, no S2 exists
 * and the tool says so.
 *
 * Who may read: whoever may signal the process (its owner or root, checked
 * by the kernel) and listens with that uid (SO_PEERCRED, checked by S2);
 * a process that is not dumpable (prctl PR_SET_DUMPABLE 0, as ssh-agent
 * sets it) is read by root only, as ptrace allows (S2 writes nothing to
 * anyone else; the tool says so first: the kernel makes such a process's
 * /proc files root's).  A process in secure execution (setuid, AT_SECURE)
 * installs no handler: its real user could signal it.
 *
 * Only one request at a time per process (a second one while the handler
 * runs is dropped; the tool times out and says so).  A program that already
 * handles AT_LIVE_SIGNAL at start-up keeps its handler, and its process
 * cannot be read; ALLOCTAG_LIVE=0 leaves the signal alone too.
 */
#define _GNU_SOURCE /* clone, close_range */
#include "live/live_read.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/control.h"
#include "core/message.h"
#include "core/raw_syscall.h"
#include "core/tag_registry.h"
#include "live/http.h"
#include "live/sampler.h"
#include "live/peak.h"
#include "objects/bin_charge.h"
#include "report/profile.h"

AT_DATA_PAGE static unsigned char busy;
AT_DATA_PAGE static pid_t i_tid; /* I's thread id while it runs; the kernel clears it */
static pid_t target_pid; /* set in the handler; used in S2 only */
static unsigned char in_snapshot;
/* I's stack (in the target), and so S's and S2's (copied). */
AT_BIG_BSS static char snap_stack[128 << 10] __attribute__((aligned(64)));

void at_live_child_reset(void)
{
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
	memcpy(&at_registry_lock, &fresh, sizeof(fresh));
	at_bin_charges_forget();
	at_peak_child_reset();
	at_sampler_child_reset();
}

/* S2: connect to the tool, check it, write the profile. */
static __attribute__((noreturn)) void snapshot(uint32_t nonce)
{
	sigset_t mask;
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigfillset(&mask);
	sigdelset(&mask, SIGALRM);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	sigaction(SIGALRM, &dfl, NULL);
	alarm(AT_LIVE_TIMEOUT);
	prctl(PR_SET_NAME, "alloctag-read", 0, 0, 0);
	close_range(3, ~0u, 0); /* the target's descriptors: not S2's business */

	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	size_t n = 1 + sizeof(AT_LIVE_SOCK_PREFIX) - 1;
	memcpy(sa.sun_path + 1, AT_LIVE_SOCK_PREFIX, sizeof(AT_LIVE_SOCK_PREFIX) - 1);
	for (int i = 7; i >= 0; i--)
		sa.sun_path[n++] = "0123456789abcdef"[(nonce >> (4 * i)) & 15];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)))
		_exit(1);
	struct ucred cr;
	socklen_t len = sizeof(cr);
	uid_t r, e, s;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) || getresuid(&r, &e, &s) ||
	    (cr.uid != 0 && cr.uid != r && cr.uid != e && cr.uid != s))
		_exit(1); /* someone else's socket: write nothing */
	if (cr.uid != 0 && prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 1)
		_exit(1); /* not dumpable: root only, as for ptrace */
	at_live_child_reset();
	in_snapshot = 1;
	_exit(at_profile_write_fd(fd) ? 1 : 0);
}

#if defined(__x86_64__)
#define RAW_FORK() at_raw_syscall4(SYS_clone, 0, 0, 0, 0) /* no exit signal */
#define RAW_WAIT(pid) at_raw_syscall4(SYS_wait4, (pid), 0, __WALL, 0)
#define RAW_EXIT_GROUP(v) at_raw_syscall4(SYS_exit_group, (v), 0, 0, 0)
#else
#define RAW_FORK() syscall(SYS_clone, 0L, 0L, 0L, 0L, 0L)
#define RAW_WAIT(pid) syscall(SYS_wait4, (long)(pid), 0L, (long)__WALL, 0L)
#define RAW_EXIT_GROUP(v) syscall(SYS_exit_group, (long)(v))
#endif

/* I: a bare thread of the target on snap_stack; raw system calls only. */
static int intermediate(void *arg)
{
	long s = RAW_FORK();
	if (s == 0) { /* S */
		long s2 = RAW_FORK();
		if (s2 == 0)
			snapshot((uint32_t)(uintptr_t)arg); /* S2 */
		RAW_EXIT_GROUP(0);
	}
	if (s > 0)
		while (RAW_WAIT(s) == -EINTR)
			;
	return 0; /* clone's wrapper: exit(2) of this thread; the kernel clears i_tid */
}

static void on_request(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (si->si_code != SI_QUEUE)
		return;
	int saved = errno;
	if (!__atomic_exchange_n(&busy, 1, __ATOMIC_ACQUIRE)) {
		if (!AT_LOAD(&i_tid)) { /* else the previous read's I still runs: dropped */
			target_pid = getpid();
			clone(intermediate, snap_stack + sizeof(snap_stack),
			      CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
				      CLONE_SYSVSEM | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID,
			      (void *)(uintptr_t)(uint32_t)si->si_value.sival_int, &i_tid, NULL,
			      &i_tid);
		}
		__atomic_store_n(&busy, 0, __ATOMIC_RELEASE);
	}
	errno = saved;
}

/* A fork's child: no I of its own may be running (its i_tid copy would
 * refuse every read). */
AT_FORK_TEXT static void forked_child(void)
{
	/* stores only when set: an unwritten page is not copied into the child */
	if (i_tid)
		i_tid = 0;
	if (busy)
		busy = 0;
}

/*
 * The handler is installed by the rt_sigaction system call made here, not
 * by libc's sigaction: that call would cost every process start a lazy
 * binding by the loader (about 750 instructions).  Its mask: every signal but glibc's two
 * internal ones (SIGCANCEL, 32, and SIGSETXID, 33), which sigfillset leaves
 * out.  The handler returns through at_sigreturn, the same two
 * instructions as glibc's __restore_rt, byte for byte: debuggers and
 * libgcc's unwinder recognise a signal frame by them.  Elsewhere than
 * x86-64 Linux, libc's sigaction and sigfillset.
 */
#define LIVE_FLAGS (SA_SIGINFO | SA_RESTART | SA_ONSTACK)
#if defined(__x86_64__) && defined(__linux__)
#define LIVE_RAW_SIGACTION 1
struct kernel_sigaction {
	void (*handler)(int, siginfo_t *, void *);
	unsigned long flags;
	void (*restorer)(void);
	unsigned long mask; /* the kernel's sigset: 64 signals */
};
#define SA_RESTORER_FLAG 0x04000000ul

AT_HIDDEN void at_sigreturn(void);
__asm__(".text\n"
	".globl at_sigreturn\n"
	".hidden at_sigreturn\n"
	".type at_sigreturn, @function\n"
	".align 16\n"
	"at_sigreturn:\n"
	"\tmovq $15, %rax\n" /* rt_sigreturn */
	"\tsyscall\n"
	".size at_sigreturn, .-at_sigreturn\n");

/* 0, or -errno */
static long rt_sigaction(int sig, const struct kernel_sigaction *sa, struct kernel_sigaction *old)
{
	return at_raw_syscall4(SYS_rt_sigaction, sig, (long)sa, (long)old, sizeof(unsigned long));
}
#endif

static void install_handler(void)
{
	if (at_secure())
		return;
	const char *s = at_getenv("ALLOCTAG_LIVE");
	int on = 1;
	if (s && at_parse_bool(s, &on)) {
		at_msg("ignoring ALLOCTAG_LIVE=\"%s\": expected 1 or 0 (or y/n, yes/no, on/off, "
		       "true/false); the process can be read", s);
		on = 1;
	}
	if (!on)
		return;
	/* Installed and the old disposition read in one call (the usual case:
	 * the default); anything else is the program's own (or an inherited
	 * SIG_IGN): put back at once. */
#ifdef LIVE_RAW_SIGACTION
	struct kernel_sigaction sa = {on_request, LIVE_FLAGS | SA_RESTORER_FLAG, at_sigreturn,
				      ~(3ul << 31)},
				old;
	if (rt_sigaction(AT_LIVE_SIGNAL, &sa, &old))
		return;
	if ((old.flags & SA_SIGINFO) || (void *)old.handler != (void *)SIG_DFL) {
		rt_sigaction(AT_LIVE_SIGNAL, &old, NULL);
		return; /* the program's own: leave it */
	}
#else
	struct sigaction old, sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_request;
	sa.sa_flags = LIVE_FLAGS;
	sigfillset(&sa.sa_mask);
	if (sigaction(AT_LIVE_SIGNAL, &sa, &old))
		return;
	if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) {
		sigaction(AT_LIVE_SIGNAL, &old, NULL);
		return; /* the program's own: leave it */
	}
#endif
	pthread_atfork(NULL, NULL, forked_child);
}

pid_t at_live_pid(void)
{
	return in_snapshot ? target_pid : getpid();
}

void at_live_start(void)
{
	AT_DATA_PAGE static unsigned char started;
	if (__atomic_exchange_n(&started, 1, __ATOMIC_RELAXED))
		return;
	install_handler();
	if (AT_LOAD(&at_state) != AT_STATE_READY)
		return;
	at_peak_start();
	at_sampler_start();
	at_http_start();
}
