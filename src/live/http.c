/*
 * The pull endpoint for fleet profilers.  Off unless ALLOCTAG_HTTP is set:
 *
 *   ALLOCTAG_HTTP=PORT | :PORT       127.0.0.1:PORT (loopback)
 *   ALLOCTAG_HTTP=ADDR:PORT          that IPv4 address, as written
 *   ALLOCTAG_HTTP=[ADDR6]:PORT       that IPv6 address, as written
 *   ALLOCTAG_HTTP=/path/to/socket    a UNIX socket, mode 0600, removed at
 *                                    exit; a stale socket of ours (nobody
 *                                    listening) is replaced, anything else
 *                                    at the path is refused
 * Only what the user writes is listened on; the default is loopback.  A
 * TCP port is open to every local user; the UNIX socket to the owner only.  Once
 * listening, the variable is removed from the environment: the program's
 * children would only fail to listen on the same address.
 *
 * One thread, started at start-up when the variable is set (signals
 * blocked), serves one request at a time (HTTP/1.0, Connection: close;
 * 10 s timeouts on each connection).  Each report is written whole into
 * an anonymous memory file (memfd) and then sent, so no lock of the
 * runtime is held while a client reads:
 *
 *   GET /debug/allocinfo     the allocinfo 2.0 text (report/allocinfo.c)
 *   GET /debug/pprof/heap    the pprof profile: the raw profile piped into
 *                            `alloctag report --format pprof --unsymbolized
 *                            /dev/stdin`
 *                            (the installed tool: ALLOCTAG_TOOL if set, else
 *                            `alloctag` in PATH), whose output is sent with
 *                            its length; unsymbolized, with mappings and
 *                            build IDs, as continuous profilers expect (they
 *                            symbolize by build ID).  The runtime holds no
 *                            protobuf encoder: the tool's (protobuf-c) is used.
 *   GET /debug/alloctag/profile  the raw profile (docs/PROFILE_FORMAT.md)
 *   GET|POST /debug/pprof/symbol  Go's symbol service, answered "no symbols"
 *                            (num_symbols: 0; a POST's addresses get no
 *                            names): `go tool pprof URL` asks it for
 *                            addresses it could not symbolize locally and
 *                            fails on an error, so it is told there is none
 *   anything else            404 (405 for another method)
 *
 * The tool runs as a child started by clone(CLONE_VM|CLONE_VFORK) on a
 * static stack (no malloc, no fork handlers) with no exit signal (the
 * program's wait() never sees it), its environment the program's without
 * LD_PRELOAD and ALLOCTAG* (so it is not profiled and serves nothing); this
 * thread reaps it.  Its input, output and messages are memory files.  A
 * tool that fails gives a 500 reply with its message.
 */
#define _GNU_SOURCE
#include "live/http.h"
#include "live/thread.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/control.h"
#include "core/message.h"
#include "report/profile.h"

extern char **environ;

static int listen_fd = -1;
static char unix_path[108];

static int parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	const char *port_s = colon ? colon + 1 : s;
	size_t hl = colon ? (size_t)(colon - s) : 0;
	char *end;
	errno = 0;
	unsigned long port = strtoul(port_s, &end, 10);
	if (errno || end == port_s || *end || port == 0 || port > 65535 || hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
			return -1;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a);
		return 0;
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	if (inet_pton(AF_INET, hl ? host : "127.0.0.1", &a->sin_addr) != 1)
		return -1;
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	*len = sizeof(*a);
	return 0;
}

/* A UNIX socket at path: 0600, a stale one of ours replaced. */
static int listen_unix(const char *path)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) {
			errno = EEXIST;
			return -1;
		}
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int alive = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		if (probe >= 0)
			close(probe);
		if (alive) {
			errno = EADDRINUSE;
			return -1;
		}
		unlink(path);
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	mode_t old = umask(0177); /* srw------- */
	int err = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (err || listen(fd, 16)) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	strcpy(unix_path, path);
	return fd;
}

static int listen_inet(const char *s)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (parse_addr(s, &ss, &len)) {
		errno = EINVAL;
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 16)) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void reply_head(int fd, const char *status, const char *type, long long length)
{
	char h[256];
	int n = snprintf(h, sizeof(h), "HTTP/1.0 %s\r\nContent-Type: %s\r\nConnection: close\r\n",
			 status, type);
	if (length >= 0)
		n += snprintf(h + n, sizeof(h) - (size_t)n, "Content-Length: %lld\r\n", length);
	n += snprintf(h + n, sizeof(h) - (size_t)n, "\r\n");
	write_all(fd, h, (size_t)n);
}

static void reply_text(int fd, const char *status, const char *text)
{
	reply_head(fd, status, "text/plain; charset=utf-8", (long long)strlen(text));
	write_all(fd, text, strlen(text));
}

/* ---- the tool as a child ---------------------------------------------- */

AT_BIG_BSS static char spawn_stack[64 << 10] __attribute__((aligned(64)));

struct spawn {
	const char *path;
	char *const *argv;
	char **envp;
	int in, out, err;
};

static int spawned(void *arg)
{
	struct spawn *s = arg;
	if (dup2(s->in, 0) < 0 || dup2(s->out, 1) < 0 || dup2(s->err, 2) < 0)
		_exit(127);
	execve(s->path, s->argv, s->envp);
	_exit(127);
}

/* The tool's path into buf: ALLOCTAG_TOOL, else `alloctag` in PATH; 0 or -1. */
static int find_tool(char *buf, size_t len)
{
	const char *t = at_getenv("ALLOCTAG_TOOL");
	if (t && *t) {
		snprintf(buf, len, "%s", t);
		return access(buf, X_OK);
	}
	const char *p = getenv("PATH");
	if (!p)
		p = "/usr/local/bin:/usr/bin:/bin";
	while (*p) {
		const char *c = strchr(p, ':');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		if (n && n + sizeof("/alloctag") < len) {
			memcpy(buf, p, n);
			memcpy(buf + n, "/alloctag", sizeof("/alloctag"));
			if (access(buf, X_OK) == 0)
				return 0;
		}
		p += n + (c != NULL);
	}
	return -1;
}

/* Send the first size bytes of file fd to the client. */
static void send_file(int client, int fd, off_t size)
{
	off_t off = 0;
	while (off < size) {
		ssize_t k = sendfile(client, fd, &off, (size_t)(size - off));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
	}
}

/* memfd_create(name, MFD_CLOEXEC) and accept4(fd, NULL, NULL, SOCK_CLOEXEC)
 * by syscall(): libc's wrappers carry symbol versions (GLIBC_2.27, 2.10) of
 * their own, each one more version the loader checks at every process
 * start (BENCHMARKS.md, "Start: the loader and the constructor"). */
static int memfd(const char *name)
{
	return (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC);
}

static int accept_cloexec(int fd)
{
	return (int)syscall(SYS_accept4, fd, NULL, NULL, SOCK_CLOEXEC);
}

static void serve_pprof(int client)
{
	char tool[4096];
	if (find_tool(tool, sizeof(tool))) {
		reply_text(client, "500 Internal Server Error",
			   "alloctag: the alloctag tool was not found (set ALLOCTAG_TOOL or PATH)\n");
		return;
	}
	char *envp[512];
	size_t ne = 0;
	for (char **e = environ; e && *e && ne < AT_ARRAY_SIZE(envp) - 1; e++)
		if (strncmp(*e, "LD_PRELOAD=", 11) && strncmp(*e, "ALLOCTAG", 8))
			envp[ne++] = *e;
	envp[ne] = NULL;
	char *argv[] = {tool, "report", "--format", "pprof", "--unsymbolized", "/dev/stdin", NULL};
	/* the profile, the tool's output and its messages: memory files (no
	 * pipe to fill, no lock held while the tool runs) */
	int in = memfd("alloctag-profile");
	int out = memfd("alloctag-pprof");
	int err = memfd("alloctag-messages");
	pid_t pid = -1;
	if (in >= 0 && out >= 0 && err >= 0 && at_profile_write_fd(in) == 0 &&
	    lseek(in, 0, SEEK_SET) == 0) {
		struct spawn sp = {tool, argv, envp, in, out, err};
		pid = clone(spawned, spawn_stack + sizeof(spawn_stack), CLONE_VM | CLONE_VFORK, &sp);
	}
	int status = 1;
	if (pid > 0)
		while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR)
			;
	struct stat so, se;
	if (pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && fstat(out, &so) == 0) {
		reply_head(client, "200 OK", "application/octet-stream", (long long)so.st_size);
		send_file(client, out, so.st_size);
	} else if (pid > 0 && fstat(err, &se) == 0 && se.st_size > 0) {
		reply_head(client, "500 Internal Server Error", "text/plain; charset=utf-8",
			   (long long)se.st_size);
		send_file(client, err, se.st_size);
	} else {
		reply_text(client, "500 Internal Server Error",
			   "alloctag: the alloctag tool failed\n");
	}
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (err >= 0)
		close(err);
}

/*
 * A report written whole into an anonymous memory file first, then sent:
 * the writers hold the registry lock while they write, and a client that
 * reads slowly must not hold up the program's new call sites.
 */
static void serve_buffered(int client, int (*write_fn)(int fd))
{
	int m = memfd("alloctag-http");
	struct stat st;
	if (m < 0 || write_fn(m) || fstat(m, &st)) {
		if (m >= 0)
			close(m);
		reply_text(client, "500 Internal Server Error", "alloctag: cannot write the report\n");
		return;
	}
	reply_head(client, "200 OK", "text/plain; charset=utf-8", (long long)st.st_size);
	send_file(client, m, st.st_size);
	close(m);
}

/* Read and drop a request's body (Content-Length bytes, at most 1 MiB):
 * head = the text after the request line, have = bytes of it read. */
static void drain_body(int client, const char *head, ptrdiff_t have)
{
	const char *end = strstr(head, "\r\n\r\n");
	const char *cl = strcasestr(head, "\ncontent-length:");
	if (!end || !cl || cl > end)
		return;
	long long want = atoll(cl + 16);
	long long got = have - (end + 4 - head);
	char buf[4096];
	if (want > (1 << 20))
		want = 1 << 20;
	while (got < want) {
		ssize_t r = read(client, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += r;
	}
}

static void serve(int client)
{
	char req[8192];
	size_t n = 0;
	while (n < sizeof(req) - 1) {
		ssize_t r = read(client, req + n, sizeof(req) - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		req[n] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	req[n] = '\0';
	char *sp1 = strchr(req, ' ');
	char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2) {
		reply_text(client, "400 Bad Request", "alloctag: bad request\n");
		return;
	}
	*sp1 = *sp2 = '\0';
	char *path = sp1 + 1, *q = strchr(path, '?');
	if (q)
		*q = '\0';
	if (!strcmp(path, "/debug/pprof/symbol")) {
		if (!strcmp(req, "POST"))
			drain_body(client, sp2 + 1, req + n - (sp2 + 1));
		reply_text(client, "200 OK", strcmp(req, "POST") ? "num_symbols: 0\n" : "");
		return;
	}
	if (strcmp(req, "GET")) {
		reply_text(client, "405 Method Not Allowed", "alloctag: only GET is served\n");
		return;
	}
	if (!strcmp(path, "/debug/allocinfo")) {
		serve_buffered(client, alloctag_write_allocinfo_fd);
	} else if (!strcmp(path, "/debug/alloctag/profile")) {
		serve_buffered(client, at_profile_write_fd);
	} else if (!strcmp(path, "/debug/pprof/heap")) {
		serve_pprof(client);
	} else {
		reply_text(client, "404 Not Found",
			   "alloctag: not found; served: /debug/pprof/heap /debug/allocinfo "
			   "/debug/alloctag/profile\n");
	}
}

static void *run(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept_cloexec(listen_fd);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE)
				continue;
			return NULL;
		}
		struct timeval tv = {10, 0};
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		serve(c);
		shutdown(c, SHUT_WR);
		close(c);
	}
}

__attribute__((destructor)) static void http_stop(void)
{
	/* listen_fd first: it is in .data, unix_path on a .bss page that a
	 * process without an endpoint never touched (its read would fault) */
	if (listen_fd >= 0 && unix_path[0])
		unlink(unix_path);
}

void at_http_start(void)
{
	const char *s = at_getenv("ALLOCTAG_HTTP");
	if (!s)
		return;
	listen_fd = s[0] == '/' ? listen_unix(s) : listen_inet(s);
	if (listen_fd < 0) {
		const char *d = strerrordesc_np(errno);
		at_msg("ALLOCTAG_HTTP=%s: cannot listen: %s (expected PORT, ADDR:PORT, [ADDR6]:PORT "
		       "or an absolute socket path); no endpoint",
		       s, d ? d : "unknown error");
		return;
	}
	int err = at_live_thread_start(run, "alloctag-http");
	if (err) {
		at_msg("ALLOCTAG_HTTP=%s: cannot start the endpoint's thread; no endpoint", s);
		close(listen_fd);
		listen_fd = -1;
		if (unix_path[0])
			unlink(unix_path);
		unix_path[0] = '\0';
		return;
	}
	unsetenv("ALLOCTAG_HTTP"); /* children would only fail to listen on the same address */
}
