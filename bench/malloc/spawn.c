/*
 * Process start and fork under each allocator: what a shell script or a
 * build pays per command.
 *
 *   spawn [rounds] [starts] [forks] name=[/path/lib.so][:ENV=VAL...] ...
 *
 * start: posix_spawn of /bin/true, `starts` times per round (wall and the
 *        children's CPU time (user + system) per start; their minor page
 *        faults per start);
 * fork:  a process of the configuration (spawned with its LD_PRELOAD) that
 *        holds 2000 small blocks (a shell's heap, more or less) forks
 *        `forks` times; each child checks a block, allocates and frees,
 *        and exits; wall, CPU time and minor page faults per fork (the
 *        parent's and the children's), and what each fork copies: the
 *        parent's page tables (VmPTE, KiB) and its mappings (lines of
 *        /proc/self/maps), read before the first fork.
 * `spawn --stop fork` (that parent, holding its blocks) and `spawn --stop
 * start` (a process that never allocates, as /bin/true) stop themselves
 * (SIGSTOP) for maptable.py to read their mappings, and exit when continued.
 * Configurations take turns within each round, the first one rotating.
 * One line per configuration: medians over rounds, and the median of each
 * round's ratio to the first configuration's run of the same round.
 * An empty library path means no preload (glibc).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_common.h"

extern char **environ;

#define MAXCFG 8
#define MAXROUNDS 64
#define NBLOCKS 2000

struct cfg {
	const char *name;
	char *env[16];
	double start_ms[MAXROUNDS], start_flt[MAXROUNDS], fork_ms[MAXROUNDS], fork_flt[MAXROUNDS];
	double start_cpu[MAXROUNDS], fork_cpu[MAXROUNDS];
	double fork_pte[MAXROUNDS], fork_maps[MAXROUNDS];
};

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	double t[MAXROUNDS];
	memcpy(t, v, n * sizeof(double));
	qsort(t, n, sizeof(double), cmp_d);
	return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static void parse_cfg(struct cfg *c, char *arg)
{
	char *eq = strchr(arg, '=');
	if (!eq) {
		fprintf(stderr, "spawn: bad configuration '%s' (name=[lib][:ENV=VAL...])\n", arg);
		exit(2);
	}
	*eq = 0;
	c->name = arg;
	int n = 0;
	c->env[n++] = "PATH=/usr/bin:/bin";
	char *lib = eq + 1, *rest = strchr(lib, ':');
	if (rest)
		*rest++ = 0;
	if (*lib) {
		char *e = malloc(strlen(lib) + 12);
		sprintf(e, "LD_PRELOAD=%s", lib);
		c->env[n++] = e;
	}
	while (rest && *rest && n < 15) {
		char *next = strchr(rest, ':');
		if (next)
			*next++ = 0;
		c->env[n++] = rest;
		rest = next;
	}
	c->env[n] = NULL;
}

static pid_t spawn(char *const argv[], char *const env[], int out_fd)
{
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	if (out_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	pid_t pid;
	int err = posix_spawn(&pid, argv[0], &fa, NULL, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	if (err) {
		fprintf(stderr, "spawn: cannot start %s: %s\n", argv[0], strerror(err));
		exit(2);
	}
	return pid;
}

static void run_starts(struct cfg *c, int r, int starts)
{
	char *argv[] = {"/bin/true", NULL};
	long flt = 0;
	double cpu = 0;
	double t0 = now_sec();
	for (int i = 0; i < starts; i++) {
		int st;
		struct rusage ru;
		pid_t pid = spawn(argv, c->env, -1);
		if (wait4(pid, &st, 0, &ru) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "spawn: /bin/true failed under %s\n", c->name);
			exit(1);
		}
		flt += ru.ru_minflt;
		cpu += (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
	}
	c->start_cpu[r] = cpu * 1e3 / starts;
	c->start_ms[r] = (now_sec() - t0) * 1e3 / starts;
	c->start_flt[r] = (double)flt / starts;
}

static void run_forks(struct cfg *c, int r, const char *self, int forks)
{
	char n[32];
	snprintf(n, sizeof(n), "%d", forks);
	char *argv[] = {(char *)self, "--forkloop", n, NULL};
	int fd[2];
	if (pipe(fd)) {
		perror("pipe");
		exit(2);
	}
	pid_t pid = spawn(argv, c->env, fd[1]);
	close(fd[1]);
	char buf[128] = {0};
	ssize_t k = read(fd[0], buf, sizeof(buf) - 1);
	close(fd[0]);
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) || k <= 0) {
		fprintf(stderr, "spawn: the fork loop failed under %s\n", c->name);
		exit(1);
	}
	char *end;
	c->fork_ms[r] = strtod(buf, &end);
	c->fork_flt[r] = strtod(end, &end);
	c->fork_cpu[r] = strtod(end, &end);
	c->fork_pte[r] = strtod(end, &end);
	c->fork_maps[r] = strtod(end, NULL);
}

/* Every block of the fork loop comes from this one call site, the
 * parent's and the children's alike, as a shell's child allocates in code
 * its parent ran (a child allocating from a site the parent never used
 * also pays for making that site's dynamic tag under profiling). */
static __attribute__((noinline)) char *blk_new(size_t n)
{
	return xmalloc(n);
}

/* The bytes of /proc/self/FILE into buf (no stdio: its buffer would come
 * from the allocator under test); the length, 0 if unreadable. */
static size_t read_proc(const char *file, char *buf, size_t size)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/%s", file);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;
	ssize_t k;
	while (fd >= 0 && got < size - 1 && (k = read(fd, buf + got, size - 1 - got)) > 0)
		got += (size_t)k;
	if (fd >= 0)
		close(fd);
	buf[got] = 0;
	return got;
}

/* What a fork copies: the page tables' KiB (VmPTE) and the mappings. */
static void fork_copies(long *pte_kib, long *maps)
{
	static char buf[1 << 16];
	size_t n = read_proc("status", buf, sizeof(buf));
	char *v = n ? strstr(buf, "VmPTE:") : NULL;
	*pte_kib = v ? strtol(v + 6, NULL, 10) : -1;
	n = read_proc("maps", buf, sizeof(buf));
	*maps = 0;
	for (size_t i = 0; i < n; i++)
		*maps += buf[i] == '\n';
}

static char *blk[NBLOCKS];

/* The fork loop's parent's heap: NBLOCKS small blocks of one call site. */
static void blocks_new(void)
{
	uint64_t s = xs_seed(0);
	for (int i = 0; i < NBLOCKS; i++) {
		size_t n = 16 + xs_below(&s, 240);
		blk[i] = blk_new(n);
		memset(blk[i], (unsigned char)i, n);
	}
}

/* The fork loop, in a process of the configuration. */
static int forkloop(int forks)
{
	blocks_new();
	long pte_kib, maps;
	fork_copies(&pte_kib, &maps);
	double t0 = now_sec();
	for (int i = 0; i < forks; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (!pid) {
			int j = i % NBLOCKS;
			char *p = blk_new(64);
			p[0] = blk[j][0];
			int ok = (unsigned char)p[0] == (unsigned char)j;
			free(p);
			_exit(ok ? 0 : 3);
		}
		int st;
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "forkloop: child %d failed\n", i);
			return 1;
		}
	}
	struct rusage self, kids;
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	double cpu = (double)(self.ru_utime.tv_sec + self.ru_stime.tv_sec + kids.ru_utime.tv_sec +
			      kids.ru_stime.tv_sec) +
		     (double)(self.ru_utime.tv_usec + self.ru_stime.tv_usec + kids.ru_utime.tv_usec +
			      kids.ru_stime.tv_usec) * 1e-6;
	printf("%.6f %.1f %.6f %ld %ld\n", (now_sec() - t0) * 1e3 / forks,
	       (double)(self.ru_minflt + kids.ru_minflt) / forks, cpu * 1e3 / forks, pte_kib, maps);
	for (int i = 0; i < NBLOCKS; i++)
		free(blk[i]);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--forkloop"))
		return forkloop(atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "--stop")) {
		if (!strcmp(argv[2], "fork"))
			blocks_new();
		raise(SIGSTOP);
		return 0;
	}
	int a = 1, rounds = 5, starts = 200, forks = 300;
	if (a < argc && strchr(argv[a], '=') == NULL)
		rounds = (int)parse_pos(argv[0], "rounds", argv[a++]);
	if (a < argc && strchr(argv[a], '=') == NULL)
		starts = (int)parse_pos(argv[0], "starts", argv[a++]);
	if (a < argc && strchr(argv[a], '=') == NULL)
		forks = (int)parse_pos(argv[0], "forks", argv[a++]);
	static struct cfg cfg[MAXCFG];
	int ncfg = 0;
	for (; a < argc && ncfg < MAXCFG; a++)
		parse_cfg(&cfg[ncfg++], argv[a]);
	if (!ncfg || rounds > MAXROUNDS) {
		fprintf(stderr, "usage: %s [rounds<=%d] [starts] [forks] name=[lib][:ENV=VAL...] ...\n",
			argv[0], MAXROUNDS);
		return 2;
	}
	char self[4096];
	ssize_t k = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (k <= 0)
		return 2;
	self[k] = 0;
	for (int r = 0; r < rounds; r++)
		for (int i = 0; i < ncfg; i++) {
			struct cfg *c = &cfg[(i + r) % ncfg];
			run_starts(c, r, starts);
			run_forks(c, r, self, forks);
		}
	for (int i = 0; i < ncfg; i++) {
		double rs[MAXROUNDS], rf[MAXROUNDS], rsc[MAXROUNDS], rfc[MAXROUNDS];
		for (int r = 0; r < rounds; r++) {
			rs[r] = cfg[i].start_ms[r] / cfg[0].start_ms[r];
			rf[r] = cfg[i].fork_ms[r] / cfg[0].fork_ms[r];
			rsc[r] = cfg[i].start_cpu[r] / cfg[0].start_cpu[r];
			rfc[r] = cfg[i].fork_cpu[r] / cfg[0].fork_cpu[r];
		}
		printf("spawn config=%s rounds=%d start_ms=%.3f start_cpu_ms=%.3f start_faults=%.0f "
		       "fork_ms=%.3f fork_cpu_ms=%.3f fork_faults=%.1f fork_pte_kib=%.0f fork_maps=%.0f "
		       "start_vs_%s=%.3f "
		       "start_cpu_vs_%s=%.3f fork_vs_%s=%.3f fork_cpu_vs_%s=%.3f\n",
		       cfg[i].name, rounds, median(cfg[i].start_ms, rounds),
		       median(cfg[i].start_cpu, rounds), median(cfg[i].start_flt, rounds),
		       median(cfg[i].fork_ms, rounds), median(cfg[i].fork_cpu, rounds),
		       median(cfg[i].fork_flt, rounds), median(cfg[i].fork_pte, rounds),
		       median(cfg[i].fork_maps, rounds), cfg[0].name, median(rs, rounds), cfg[0].name,
		       median(rsc, rounds), cfg[0].name, median(rf, rounds), cfg[0].name,
		       median(rfc, rounds));
	}
	return 0;
}
