/*
 * The pages of the preload library's statics that a fork child's
 * allocations write (run with LD_PRELOAD=liballoctag-preload.so and
 * ALLOCTAG=never, a single-threaded program): a small object from the
 * bins writes none; a first object of a cold class (4096 bytes, from the
 * page allocator: src/objects/slab.h), one, the fork page
 * (src/core/compiler.h), which holds the cold classes' counts and the
 * lock that allocation takes.  Counted by /proc/self/pagemap's
 * "exclusively mapped" bit over the library's writable segment (its data
 * and .bss): each page is shared with the parent after the fork until the
 * child writes it.  An unmodified program: no alloctag header.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static uintptr_t lo[16], hi[16];
static int nr;

/* The pages of the ranges exclusive now and not at the last count. */
static int count(int fd, char *was)
{
	int n = 0, k = 0;
	for (int r = 0; r < nr; r++)
		for (uintptr_t pg = lo[r]; pg < hi[r]; pg += 4096, k++) {
			uint64_t w = 0;
			if (pread(fd, &w, sizeof(w), (off_t)(pg / 4096 * 8)) != sizeof(w))
				_exit(2);
			char e = (char)(w >> 56 & 1);
			n += e && !was[k];
			was[k] = e;
		}
	return n;
}

/* The library's writable segment (its data, .bss and the rest of it). */
static int segment(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size, (void)arg;
	if (!strstr(info->dlpi_name, "liballoctag-preload"))
		return 0;
	for (int i = 0; i < info->dlpi_phnum && nr < 16; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_W)) {
			lo[nr] = (info->dlpi_addr + ph->p_vaddr) & ~4095ul;
			hi[nr++] = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz + 4095) & ~4095ul;
		}
	}
	return 1;
}

int main(void)
{
	dl_iterate_phdr(segment, NULL);
	size_t pages = 0;
	for (int r = 0; r < nr; r++)
		pages += (hi[r] - lo[r]) / 4096;
	if (!nr || pages > 4096) {
		fprintf(stderr, "fork_writes: the library's data not found (run under LD_PRELOAD)\n");
		return 1;
	}
	void *volatile warm = malloc(40); /* volatile: no call elided */
	free(warm); /* the bin of 48 bytes holds objects at the fork */
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		char was[4096];
		int fd = open("/proc/self/pagemap", O_RDONLY);
		if (fd < 0)
			_exit(2);
		count(fd, was);
		void *volatile s = malloc(40);
		int small = count(fd, was);
		void *volatile p = malloc(4096);
		int cold = count(fd, was);
		_exit(s && p ? small * 10 + cold : 99);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return 1;
	int small = WEXITSTATUS(st) / 10, cold = WEXITSTATUS(st) % 10;
	printf("fork_writes: pages written, a small object %d, a cold object %d\n", small, cold);
	return small == 0 && cold == 1 ? 0 : 1;
}
