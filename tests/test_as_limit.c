/*
 * The heap under an address-space limit (RLIMIT_AS, `ulimit -v`): it
 * reserves AT_HEAP_GROW_STEP at first and grows, a step or what a block
 * needs at a time, as blocks need it, into a second arena; when it cannot
 * grow (here: a mapping of the test's own right above it), large blocks
 * are mapped directly; charges stay exact throughout.
 *
 * The test runs itself three times under 4000000 KiB (`ulimit -v
 * 4000000`; fork, setrlimit, exec: the limit must be in force before the
 * heap is reserved): the heap growing to 1.5 GiB of large blocks (before it
 * grew by whole arenas with a shadow as large, and stopped at one arena
 * here), the heap blocked, and four threads making small objects of 16
 * bytes to 4 KiB at once (1.2 GB: their slabs' shadow windows mapped as
 * the slabs are made, concurrently), with exact totals.
 */
#include <alloctag.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "pages/page.h"

#define BLOCK (64ul << 20)
#define NBLOCKS 24 /* 1.5 GiB: more than one arena */

static void child(int grows)
{
	DEFINE_ALLOC_TAG(tag);
	void *small = at_malloc(100); /* the heap reserved, the shadow placed */
	CHECK(small);
	CHECK_EQ(at_heap_span, AT_HEAP_GROW_STEP);
	CHECK_EQ(at_heap_full(), 0);
	if (!grows) { /* the range above the heap taken */
		char *above = at_heap_base + at_heap_span;
		CHECK(mmap(above, AT_HEAP_GROW_STEP, PROT_NONE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) == above);
	}

	void *blk[NBLOCKS];
	unsigned int outside = 0;
	for (unsigned int i = 0; i < NBLOCKS; i++) {
		blk[i] = alloc_hooks_tag(tag, at_malloc_noprof(BLOCK));
		CHECK(blk[i]);
		memset((char *)blk[i] + BLOCK - 4096, 0x5a, 4096);
		((char *)blk[i])[0] = (char)i;
		CHECK_EQ(at_usable_size(blk[i]), BLOCK);
		outside += at_addr_to_pfn(blk[i]) == AT_PFN_NIL;
	}
	struct alloctag_counters c = alloctag_read(&tag);
	CHECK_EQ(c.bytes, (long long)NBLOCKS * BLOCK);
	CHECK_EQ(c.calls, NBLOCKS);
	if (grows) {
		/* the first step holds the small block's slab: the blocks
		 * from 64 MiB on, 15 in the first arena, 9 in the second */
		CHECK_EQ(at_heap_span, (size_t)(NBLOCKS + 1) * BLOCK);
		CHECK_EQ(at_heap_full(), 0);
		CHECK_EQ(outside, 0);
	} else {
		CHECK_EQ(at_heap_span, AT_HEAP_GROW_STEP);
		CHECK_EQ(at_heap_full(), 1);
		CHECK_EQ(outside, NBLOCKS);
	}
	/* a direct block grows and shrinks through realloc like any other */
	blk[NBLOCKS - 1] = alloc_hooks_tag(tag, at_realloc_noprof(blk[NBLOCKS - 1], 2 * BLOCK));
	CHECK(blk[NBLOCKS - 1]);
	CHECK_EQ(((char *)blk[NBLOCKS - 1])[0], NBLOCKS - 1);
	CHECK_EQ(((unsigned char *)blk[NBLOCKS - 1])[BLOCK - 1], 0x5a);
	c = alloctag_read(&tag);
	CHECK_EQ(c.bytes, (long long)(NBLOCKS + 1) * BLOCK);
	for (unsigned int i = 0; i < NBLOCKS; i++) {
		CHECK_EQ(((char *)blk[i])[0], (char)i);
		at_free(blk[i]);
	}
	c = alloctag_read(&tag);
	CHECK_EQ(c.bytes, 0);
	CHECK_EQ(c.calls, 0);
	at_free(small);
	printf("%s: ok\n", grows ? "4000000 KiB, grows" : "4000000 KiB, blocked: direct blocks");
}

#define NTHREADS 4
#define PER_THREAD 300000 /* objects: 16 bytes to 4 KiB in turn, 1.2 GB in all */

static struct alloc_tag *thread_tag;
static size_t thread_usable[NTHREADS];

static void *maker(void *arg)
{
	long t = (long)arg;
	unsigned char **p = mmap(NULL, PER_THREAD * sizeof(*p), PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	size_t usable = 0;
	for (long i = 0; i < PER_THREAD; i++) {
		size_t n = (size_t)16 << ((i + t) % 9);
		p[i] = alloc_hooks_tag(*thread_tag, at_malloc_noprof(n));
		CHECK(p[i]);
		if (i % 16 == 0) /* a sample written: the memory is not the point */
			p[i][0] = p[i][n - 1] = (unsigned char)(i + t);
		usable += at_usable_size(p[i]);
	}
	thread_usable[t] = usable;
	for (long i = 0; i < PER_THREAD; i += 16) {
		size_t n = (size_t)16 << ((i + t) % 9);
		CHECK_EQ(p[i][0], (unsigned char)(i + t));
		CHECK_EQ(p[i][n - 1], (unsigned char)(i + t));
	}
	return p;
}

static void threads(void)
{
	DEFINE_ALLOC_TAG(tag);
	thread_tag = &tag;
	pthread_t th[NTHREADS];
	unsigned char **p[NTHREADS];
	for (long t = 0; t < NTHREADS; t++)
		CHECK(!pthread_create(&th[t], NULL, maker, (void *)t));
	size_t usable = 0;
	for (int t = 0; t < NTHREADS; t++) {
		CHECK(!pthread_join(th[t], (void **)&p[t]));
		usable += thread_usable[t];
	}
	struct alloctag_counters c = alloctag_read(&tag);
	CHECK_EQ(c.bytes, (long long)usable);
	CHECK_EQ(c.calls, (long long)NTHREADS * PER_THREAD);
	for (int t = 0; t < NTHREADS; t++)
		for (long i = 0; i < PER_THREAD; i++)
			at_free(p[t][i]);
	c = alloctag_read(&tag);
	CHECK_EQ(c.bytes, 0);
	CHECK_EQ(c.calls, 0);
	printf("4000000 KiB, %d threads: %zu bytes of small objects: ok\n", NTHREADS, usable);
}

int main(int argc, char **argv)
{
	if (argc == 2) {
		if (argv[1][0] == 't')
			threads();
		else
			child(argv[1][0] == 'g');
		return 0;
	}
	static const struct {
		rlim_t limit;
		const char *arg;
	} runs[] = {{4000000ull << 10, "grows"}, {4000000ull << 10, "blocked"},
		    {4000000ull << 10, "threads"}};
	for (unsigned int i = 0; i < 3; i++) {
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (!pid) {
			struct rlimit rl = {runs[i].limit, runs[i].limit};
			if (setrlimit(RLIMIT_AS, &rl))
				_exit(3);
			execl("/proc/self/exe", argv[0], runs[i].arg, (char *)NULL);
			_exit(4);
		}
		int st;
		CHECK(waitpid(pid, &st, 0) == pid);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	return 0;
}
