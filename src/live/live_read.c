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
 *                                           clone(CLONE_VM|CLONE_VFORK) an
 *                                           intermediate I on a static stack;
 *                                           I forks (raw clone, no exit
 *                                           signal) the snapshot process S
 *                                           and exits; T reaps I (waitpid
 *                                           __WALL) and returns.
 *                                         S (alone in a copy-on-write copy of
 *                                         the target as it was at the fork):
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
 *  accept; SO_PEERCRED of S: same uid
 *    as the target (or root); read to
 *    EOF, check the `end` record
 *  target gone (kill(PID, 0) ESRCH)?
 *    say so in one line
 *
 * Why a fork: the handler may interrupt T anywhere, inside malloc with a
 * class or arena lock held, inside the loader (dl_iterate_phdr's lock),
 * inside stdio.  Nothing that takes such a lock or allocates may run in the
 * handler.  The handler only calls clone, waitpid and errno (all
 * async-signal-safe); the profile is written by S, which is not in a
 * handler and sees a frozen copy, so its counts are those of one instant
 * (a quiescent read: exact, bin_charge.h).  Locks held at the fork by other
 * threads stay held in S: the registry lock and the readers' scratch table
 * are reset (at_live_child_reset: only a thread that S does not have could
 * hold them); anything else (the loader's lock, held by a thread inside
 * dlopen or an unwind) would block S, and the alarm ends it: the tool then
 * says the read was cut off and may retry.
 *
 * Bounded stall: T stops for the handler only, i.e. two clones and one
 * exit.  Their cost is that of fork (copying page tables: proportional to
 * the target's mapped memory, not to its number of call sites); other
 * threads go on allocating (they wait only if they fault a page while the
 * kernel copies the address space).  bench/bench_live_read.c measures it
 * with 100k call sites.
 *
 * Nothing left behind: the socket is abstract (no file; it disappears with
 * the tool's descriptor); I is reaped by T before the handler returns; S is
 * reparented to init (or the nearest subreaper) when I exits and reaped
 * there.  If the target dies while S writes, S still finishes: its snapshot
 * is of an instant before the target died, and the tool says the target
 * has exited.  If the target dies before answering, no S exists and the tool
 * says so.
 *
 * Only one request at a time per process (a second one while the handler
 * runs is dropped; the tool times out and says so).  A program that already
 * handles AT_LIVE_SIGNAL at start-up keeps its handler, and its process
 * cannot be read; ALLOCTAG_LIVE=0 leaves the signal alone too.
 */
#define _GNU_SOURCE /* clone, close_range */
#include "live/live_read.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/control.h"
#include "core/message.h"
#include "core/tag_registry.h"
#include "live/http.h"
#include "live/sampler.h"
#include "live/peak.h"
#include "objects/bin_charge.h"
#include "report/profile.h"

static unsigned char busy;
static pid_t target_pid; /* set in the handler; nonzero in S only once S runs */
static unsigned char in_snapshot;
/* The intermediate's stack (shared with the target), and so S's (copied). */
static char snap_stack[128 << 10] __attribute__((aligned(64)));

void at_live_child_reset(void)
{
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
	memcpy(&at_registry_lock, &fresh, sizeof(fresh));
	at_bin_charges_forget();
	at_peak_child_reset();
	at_sampler_child_reset();
}

/* S: connect to the tool, check it, write the profile. */
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
	close_range(3, ~0u, 0); /* the target's descriptors: not S's business */

	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	size_t n = 1 + sizeof(AT_LIVE_SOCK_PREFIX) - 1;
	memcpy(sa.sun_path + 1, AT_LIVE_SOCK_PREFIX, sizeof(AT_LIVE_SOCK_PREFIX) - 1);
	for (int i = 7; i >= 0; i--)
		sa.sun_path[n++] = "0123456789abcdef"[(nonce >> (4 * i)) & 15];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)))
		_exit(1);
	struct ucred cr;
	socklen_t len = sizeof(cr);
	uid_t r, e, s;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) || getresuid(&r, &e, &s) ||
	    (cr.uid != 0 && cr.uid != r && cr.uid != e && cr.uid != s))
		_exit(1); /* someone else's socket: write nothing */
	at_live_child_reset();
	in_snapshot = 1;
	_exit(at_profile_write_fd(fd) ? 1 : 0);
}

/* I: runs on snap_stack, sharing the target's memory; T waits (vfork). */
static int intermediate(void *arg)
{
	long pid = syscall(SYS_clone, 0L, 0L, 0L, 0L, 0L); /* fork; no exit signal */
	if (pid == 0)
		snapshot((uint32_t)(uintptr_t)arg);
	return 0;
}

static void on_request(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (si->si_code != SI_QUEUE)
		return;
	int saved = errno;
	if (!__atomic_exchange_n(&busy, 1, __ATOMIC_ACQUIRE)) {
		uint32_t nonce = (uint32_t)si->si_value.sival_int;
		target_pid = getpid();
		pid_t pid = clone(intermediate, snap_stack + sizeof(snap_stack), CLONE_VM | CLONE_VFORK,
				  (void *)(uintptr_t)nonce);
		if (pid > 0)
			while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
				;
		__atomic_store_n(&busy, 0, __ATOMIC_RELEASE);
	}
	errno = saved;
}

static void install_handler(void)
{
	const char *s = getenv("ALLOCTAG_LIVE");
	int on = 1;
	if (s && at_parse_bool(s, &on)) {
		at_msg("ignoring ALLOCTAG_LIVE=\"%s\": expected 1 or 0 (or y/n, yes/no, on/off, "
		       "true/false); the process can be read", s);
		on = 1;
	}
	if (!on)
		return;
	struct sigaction old, sa;
	if (sigaction(AT_LIVE_SIGNAL, NULL, &old))
		return;
	if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL)
		return; /* the program's own: leave it */
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_request;
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
	sigfillset(&sa.sa_mask);
	sigaction(AT_LIVE_SIGNAL, &sa, NULL);
}

pid_t at_live_pid(void)
{
	return in_snapshot ? target_pid : getpid();
}

void at_live_start(void)
{
	static unsigned char started;
	if (__atomic_exchange_n(&started, 1, __ATOMIC_RELAXED))
		return;
	install_handler();
	if (AT_LOAD(&at_state) != AT_STATE_READY)
		return;
	at_peak_start();
	at_sampler_start();
	at_http_start();
}
