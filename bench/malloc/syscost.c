/* syscost: what a system call costs on this machine, against which the
 * unwinder's file reads at a program's start are weighed: a call that
 * does nothing (getppid), and preadv of 1, 4 and 16 KiB of a file in the
 * page cache (the kept CFI blocks are read 1 KiB at a time,
 * src/sites/eh_file.c), 20000 of each, in microseconds a call.
 *
 *   syscost [FILE]   (default: /proc/self/exe, read at offsets up to 800 KiB
 *                     or the file's end)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define CALLS 20000

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/proc/self/exe";
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) || st.st_size < 16384) {
		fprintf(stderr, "syscost: %s: cannot read 16 KiB of it\n", path);
		return 2;
	}
	static char buf[16384];
	long pages = (st.st_size - 16384) / 4096 + 1;
	if (pages > 200)
		pages = 200;
	double t0 = now();
	for (int i = 0; i < CALLS; i++)
		getppid();
	printf("getppid %.2f us", (now() - t0) / CALLS * 1e6);
	for (size_t size = 1024; size <= 16384; size *= 4) {
		t0 = now();
		for (int i = 0; i < CALLS; i++) {
			struct iovec v = {buf, size};
			if (preadv(fd, &v, 1, (off_t)(i * 7919L % pages) * 4096) != (ssize_t)size) {
				fprintf(stderr, "syscost: %s: short read\n", path);
				return 2;
			}
		}
		printf("  preadv %zu KiB %.2f us", size >> 10, (now() - t0) / CALLS * 1e6);
	}
	printf("\n");
	return 0;
}
