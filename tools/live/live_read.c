/*
 * The tool's side of a live read (protocol: src/live/live_read.c): check
 * that the target answers the request signal, listen on a fresh abstract
 * socket, send the signal with the socket's nonce, accept the snapshot
 * process's connection (its uid must be the target's or root's), read the
 * profile to EOF.  Nothing is created in the file system.
 */
#define _GNU_SOURCE
#include "live.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../common/common.h"

#define LIVE_SIGNAL (SIGRTMAX - 3) /* AT_LIVE_SIGNAL (src/live/live_read.h) */
#define SOCK_PREFIX "alloctag-live."
#define ANSWER_MS 10000 /* for the snapshot process to connect */
#define READ_MS 60000   /* for the whole profile */
#define RESEND_MS 1000  /* ask again after this long without an answer */

/* /proc/PID/status: the caught-signal mask and the uids; 0, or -1 (gone). */
static int proc_status(pid_t pid, unsigned long long *caught, uid_t uids[3], char *state)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	*caught = 0;
	*state = '?';
	while (fgets(line, sizeof(line), f)) {
		unsigned long r, e, s;
		if (sscanf(line, "SigCgt: %llx", caught) == 1)
			continue;
		if (sscanf(line, "State: %c", state) == 1)
			continue;
		if (sscanf(line, "Uid: %lu %lu %lu", &r, &e, &s) == 3) {
			uids[0] = (uid_t)r;
			uids[1] = (uid_t)e;
			uids[2] = (uid_t)s;
		}
	}
	fclose(f);
	return 0;
}

static int gone(pid_t pid)
{
	unsigned long long caught;
	uid_t u[3];
	char st;
	if (kill(pid, 0) && errno == ESRCH)
		return 1;
	return proc_status(pid, &caught, u, &st) || st == 'Z' || st == 'X';
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The last line is "end N". */
static int has_end(const char *t, size_t n)
{
	if (n < 6 || t[n - 1] != '\n')
		return 0;
	size_t i = n - 1;
	while (i > 0 && t[i - 1] != '\n')
		i--;
	return strncmp(t + i, "end ", 4) == 0;
}

/* One request; -2 (nothing said yet) when the read was cut off while the
 * process lives: the snapshot process may have been stopped by a lock that
 * a thread held at the fork (src/live/live_read.c), worth one more try. */
static int read_once(pid_t pid, char **text, size_t *len, int last);

int live_read(pid_t pid, char **text, size_t *len)
{
	int r = read_once(pid, text, len, 0);
	return r == -2 ? read_once(pid, text, len, 1) : r;
}

static int read_once(pid_t pid, char **text, size_t *len, int last)
{
	unsigned long long caught;
	uid_t uids[3] = {0, 0, 0};
	char state;
	if (pid <= 0 || proc_status(pid, &caught, uids, &state)) {
		tool_msg("no process %ld", (long)pid);
		return -1;
	}
	if (kill(pid, 0) && errno == EPERM) {
		tool_msg("process %ld belongs to another user: only its owner or root can read it",
			 (long)pid);
		return -1;
	}
	char dir[64];
	struct stat st;
	snprintf(dir, sizeof(dir), "/proc/%ld/status", (long)pid);
	/* not dumpable: the kernel makes its /proc files root's; only root reads it */
	if (geteuid() != 0 && stat(dir, &st) == 0 && st.st_uid == 0 && uids[1] != 0) {
		tool_msg("process %ld is not dumpable (PR_SET_DUMPABLE 0): it cannot be read",
			 (long)pid);
		return -1;
	}
	if (!(caught & (1ull << (LIVE_SIGNAL - 1)))) {
		tool_msg("process %ld does not answer reads: it does not run alloctag "
			 "(liballoctag or liballoctag-preload.so), or ALLOCTAG_LIVE=0",
			 (long)pid);
		return -1;
	}

	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		tool_die(1, "cannot make a socket: %s", strerror(errno));
	struct sockaddr_un sa;
	socklen_t salen = 0;
	uint32_t nonce = 0;
	for (int tries = 0;; tries++) {
		if (getrandom(&nonce, sizeof(nonce), 0) != sizeof(nonce))
			nonce = (uint32_t)getpid() * 2654435761u + (uint32_t)now_ms() + (uint32_t)tries;
		memset(&sa, 0, sizeof(sa));
		sa.sun_family = AF_UNIX;
		int n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, SOCK_PREFIX "%08x", nonce);
		salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
		if (bind(lfd, (struct sockaddr *)&sa, salen) == 0)
			break;
		if (errno != EADDRINUSE || tries > 16)
			tool_die(1, "cannot bind the reading socket: %s", strerror(errno));
	}
	if (listen(lfd, 4))
		tool_die(1, "cannot listen on the reading socket: %s", strerror(errno));

	union sigval v;
	v.sival_int = (int)nonce;
	if (sigqueue(pid, LIVE_SIGNAL, v)) {
		int e = errno;
		close(lfd);
		if (e == EPERM)
			tool_msg("process %ld belongs to another user: only its owner or root can "
				 "read it", (long)pid);
		else if (e == ESRCH)
			tool_msg("process %ld exited before it could be read", (long)pid);
		else
			tool_msg("cannot signal process %ld: %s", (long)pid, strerror(e));
		return -1;
	}

	/* wait for the snapshot process, watching the target */
	int cfd = -1;
	long long start = now_ms(), last_ask = start;
	for (;;) {
		struct pollfd p = {lfd, POLLIN, 0};
		int r = poll(&p, 1, 100);
		if (r > 0) {
			cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (cfd < 0)
				continue;
			struct ucred cr;
			socklen_t cl = sizeof(cr);
			if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) ||
			    (cr.uid != 0 && cr.uid != uids[0] && cr.uid != uids[1] &&
			     cr.uid != uids[2])) {
				close(cfd); /* not the target's: ignore it */
				cfd = -1;
				continue;
			}
			break;
		}
		if (gone(pid)) {
			close(lfd);
			tool_msg("process %ld exited before it could be read", (long)pid);
			return -1;
		}
		if (now_ms() - last_ask > RESEND_MS) {
			/* dropped while a previous read's thread still ran: ask again;
			 * a late second answer finds the socket closed */
			last_ask = now_ms();
			sigqueue(pid, LIVE_SIGNAL, v);
		}
		if (now_ms() - start > ANSWER_MS) {
			close(lfd);
			tool_msg("process %ld did not answer within %d s (stopped, busy with another "
				 "read, or the signal blocked)", (long)pid, ANSWER_MS / 1000);
			return -1;
		}
	}
	close(lfd);

	size_t cap = 1 << 16, n = 0;
	char *buf = xmalloc(cap);
	for (;;) {
		if (n + 1 >= cap) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		struct pollfd p = {cfd, POLLIN, 0};
		int r = poll(&p, 1, 1000);
		if (r == 0) {
			if (now_ms() - start > READ_MS)
				break;
			continue;
		}
		ssize_t k = read(cfd, buf + n, cap - 1 - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	close(cfd);
	buf[n] = '\0';
	if (!has_end(buf, n)) {
		free(buf);
		if (gone(pid))
			tool_msg("process %ld exited while being read", (long)pid);
		else if (!last)
			return -2;
		else
			tool_msg("process %ld: the read was cut off twice (the snapshot process ended "
				 "before the end record)", (long)pid);
		return -1;
	}
	*text = buf;
	*len = n;
	if (gone(pid)) {
		tool_msg("process %ld exited during the read; the snapshot is of a moment before",
			 (long)pid);
		return 1;
	}
	return 0;
}
