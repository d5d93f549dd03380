/*
 * What a fork costs per mapping and per page-table page, whatever the
 * allocator: the kernel copies each mapping of the parent (its VMA, and an
 * anon_vma link for one that has pages) and each page-table page that maps
 * something, and the child's exit frees them again.  An allocator whose
 * metadata lies in many mappings, or in pages 2 MiB apart, pays that in
 * every fork.
 *
 *   gcc -O2 -o forkcost bench/malloc/forkcost.c
 *   forkcost [rounds] [forks] [n]
 *
 * Shapes, n of each (default 64), taking turns within each round:
 *   base      nothing added;
 *   maps      n items of two mappings each, no page touched (a
 *             read-write page, then a read-only one: the kernel cannot
 *             merge them);
 *   maps+page the same, the read-write page of each written (all within
 *             1 MiB: no page-table page added);
 *   ptpages   n pages written in one mapping, each 2 MiB from the next
 *             (one page-table page each);
 *   cow       n pages written in one mapping (within 1 MiB), each written
 *             again by the child: a copy-on-write fault each (the page
 *             copied, and freed at the child's exit);
 *   filewin   a file of n 64 KiB windows mapped read-only (in the page
 *             cache), one byte of each read by the child: a fault each
 *             that maps the window's 16 pages (fault-around), as a child
 *             running text in a window its parent ran pays (fork copies
 *             no page entry of a file mapping without private pages).
 * Each shape runs in a child of its own that forks `forks` times (the
 * grandchildren exit at once); CPU time per fork (parent and children),
 * median over rounds, and the cost per added item against base in the
 * same round (median of per-round differences).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXROUNDS 64
enum { BASE, MAPS, MAPS_PAGE, PTPAGES, COW, FILEWIN, NSHAPES };
static const char *const names[NSHAPES] = {"base", "maps", "maps+page", "ptpages", "cow",
						"filewin"};

static double cpu_sec(int who)
{
	struct rusage ru;
	getrusage(who, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

/* n 64 KiB windows of a file, written (in the page cache), mapped
 * read-only; the file unlinked.  Exits on error. */
static char *file_windows(int n)
{
	char path[] = "/tmp/forkcostXXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		_exit(2);
	unlink(path);
	static char buf[1 << 16];
	memset(buf, 1, sizeof(buf));
	for (int i = 0; i < n; i++)
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			_exit(2);
	char *w = mmap(NULL, (size_t)n << 16, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (w == MAP_FAILED)
		_exit(2);
	return w;
}

/* In a child: set up the shape, fork `forks` times; CPU us per fork. */
static double run(int shape, int forks, int n)
{
	int fd[2];
	if (pipe(fd))
		exit(2);
	pid_t pid = fork();
	if (pid < 0)
		exit(2);
	if (!pid) {
		size_t len = shape == PTPAGES ? (size_t)n << 21 : (size_t)n << 13;
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			_exit(2);
		volatile char *win = shape == FILEWIN ? file_windows(n) : NULL;
		for (int i = 0; shape != BASE && shape != FILEWIN && i < n; i++) {
			if (shape == PTPAGES) {
				p[(size_t)i << 21] = 1;
				continue;
			}
			if (shape == COW) {
				p[(size_t)i << 12] = 1;
				continue;
			}
			if (shape == MAPS_PAGE)
				p[(size_t)i << 13] = 1;
			if (mprotect(p + ((size_t)i << 13) + 4096, 4096, PROT_READ))
				_exit(2);
		}
		double t0 = cpu_sec(RUSAGE_SELF) + cpu_sec(RUSAGE_CHILDREN);
		for (int i = 0; i < forks; i++) {
			pid_t c = fork();
			if (c < 0)
				_exit(2);
			if (!c) {
				for (int j = 0; shape == COW && j < n; j++)
					p[(size_t)j << 12] = 2;
				for (int j = 0; win && j < n; j++)
					(void)win[(size_t)j << 16];
				_exit(0);
			}
			if (waitpid(c, NULL, 0) != c)
				_exit(2);
		}
		double us = (cpu_sec(RUSAGE_SELF) + cpu_sec(RUSAGE_CHILDREN) - t0) * 1e6 / forks;
		if (write(fd[1], &us, sizeof(us)) != sizeof(us))
			_exit(2);
		_exit(0);
	}
	close(fd[1]);
	double us = -1;
	if (read(fd[0], &us, sizeof(us)) != sizeof(us) || waitpid(pid, NULL, 0) != pid || us < 0) {
		fprintf(stderr, "forkcost: shape %s failed\n", names[shape]);
		exit(1);
	}
	close(fd[0]);
	return us;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 11, forks = argc > 2 ? atoi(argv[2]) : 2000;
	int n = argc > 3 ? atoi(argv[3]) : 64;
	if (rounds < 1 || rounds > MAXROUNDS || forks < 1 || n < 1 || n > 4096) {
		fprintf(stderr, "usage: forkcost [rounds<=%d] [forks] [n<=4096]\n", MAXROUNDS);
		return 2;
	}
	static double us[NSHAPES][MAXROUNDS], per[NSHAPES][MAXROUNDS];
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < NSHAPES; i++) {
			int s = (i + r) % NSHAPES;
			us[s][r] = run(s, forks, n);
		}
		for (int s = 0; s < NSHAPES; s++)
			per[s][r] = (us[s][r] - us[BASE][r]) / n;
	}
	printf("fork cost per added item, %d forks, %d items, median of %d rounds\n", forks, n,
	       rounds);
	for (int s = 0; s < NSHAPES; s++) {
		double m = median(per[s], rounds);
		printf("forkcost shape=%s us_per_fork=%.1f us_per_item=%.2f\n", names[s],
		       median(us[s], rounds), s == BASE ? 0.0 : m);
	}
	return 0;
}
