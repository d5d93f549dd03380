/*
 * The runtime's raw profile writer (src/report/profile.c) directly: exact
 * records for known allocations (a compile-time tag, a dynamic tag in this
 * executable, one at an address in no object), no malloc while writing
 * (this program's malloc counts calls made through it), and the tool's
 * reader (tools/profile) reading back the same numbers.
 */
#define _GNU_SOURCE
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "core/control.h"
#include "profile/profile.h"
#include "report/profile.h"
#include "sites/chains.h"

/* ---- malloc that counts the calls made while `counting` ------------- */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
static volatile int counting, calls;
void *malloc(size_t n)
{
	calls += counting;
	return __libc_malloc(n);
}
void *calloc(size_t n, size_t s)
{
	calls += counting;
	return __libc_calloc(n, s);
}
void *realloc(void *p, size_t n)
{
	calls += counting;
	return __libc_realloc(p, n);
}
void free(void *p)
{
	__libc_free(p);
}

static int find_bias(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	if (info->dlpi_name[0] == '\0') {
		*(uintptr_t *)arg = info->dlpi_addr;
		return 1;
	}
	return 0;
}

static __attribute__((noinline)) void code_here(void) { __asm__ volatile(""); }

int main(void)
{
	void *p = at_malloc(1000); int tag_line = __LINE__;
	CHECK(p);
	uintptr_t bias = 0;
	dl_iterate_phdr(find_bias, &bias);
	const void *ra = (const char *)(uintptr_t)code_here + 1;
	const uintptr_t f_ra[1] = {(uintptr_t)ra}, f_fake[1] = {0x10010};
	struct alloc_tag *t = at_chain_tag(f_ra, 1), *fake = at_chain_tag(f_fake, 1);
	CHECK(t && fake);
	alloctag_current_tag = t;
	void *q1 = at_malloc_noprof(5000), *q2 = at_malloc_noprof(5000);
	alloctag_current_tag = fake;
	void *r = at_malloc_noprof(64);
	alloctag_current_tag = NULL;
	CHECK(q1 && q2 && r);

	int fd = memfd_create("profile", 0);
	CHECK(fd >= 0);
	counting = 1; /* the count sees libc's own calls of malloc */
	free(strdup("x"));
	counting = 0;
	CHECK_EQ(calls, 1);
	calls = 0;
	counting = 1;
	int err = at_profile_write_fd(fd);
	counting = 0;
	CHECK_EQ(err, 0);
	CHECK_EQ(calls, 0); /* the writer never calls malloc */

	off_t len = lseek(fd, 0, SEEK_END);
	char *text = calloc(1, (size_t)len + 1);
	CHECK(pread(fd, text, (size_t)len, 0) == len);
	char exe[4096], want[8192];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	CHECK(n > 0);
	exe[n] = '\0';
	const char *store = getenv("ALLOCTAG") && strstr(getenv("ALLOCTAG"), "uncompressed")
				    ? "uncompressed" : "compressed";
	snprintf(want, sizeof(want), "alloctag-profile 1\npid %ld\nexe %s\n", (long)getpid(), exe);
	CHECK(strncmp(text, want, strlen(want)) == 0);
	snprintf(want, sizeof(want), "\ndepth 1\nstore %s\nchains %u %zu\nmap 0 0x", store,
		 at_chain_count(), at_chain_memory());
	CHECK(strstr(text, want));
	/* the map: this executable's text segment, its bias, a 40-digit build ID */
	char *m = strstr(text, "\nmap 0 ");
	unsigned long start, end, off, b;
	char id[64], path[4096];
	CHECK(sscanf(m, "\nmap 0 0x%lx 0x%lx 0x%lx 0x%lx %63s %4095[^\n]", &start, &end, &off,
		     &b, id, path) == 6);
	CHECK_EQ(b, bias);
	CHECK(start <= (uintptr_t)ra && (uintptr_t)ra < end);
	CHECK_EQ(strlen(id), 40);
	CHECK_STREQ(path, exe);
	CHECK(!strstr(text, "\nmap 1 ")); /* only maps a frame falls in */
	size_t us = at_usable_size(q1);
	snprintf(want, sizeof(want), "\nchain %zu 2 0 0 1 0:0x%lx\n", 2 * us,
		 (unsigned long)((uintptr_t)ra - bias));
	CHECK(strstr(text, want));
	snprintf(want, sizeof(want), "\nchain %zu 1 0 0 1 -:0x10010\n", at_usable_size(r));
	CHECK(strstr(text, want));
	snprintf(want, sizeof(want), "\ntag %zu 1 0 0 - tests/test_profile.c:%d func:main\n",
		 at_usable_size(p), tag_line);
	CHECK(strstr(text, want));
	CHECK(strlen(text) > 6 && strcmp(text + strlen(text) - 6, "end 4\n") == 0);

	/* the tool's reader: the same numbers */
	struct profile pr;
	CHECK_EQ(profile_parse("memfd", text, (size_t)len, &pr), 0);
	CHECK_EQ(pr.nr_maps, 1);
	CHECK_EQ(pr.nr_chains, 2);
	CHECK_EQ(pr.nr_tags, 1);
	CHECK_EQ(pr.pid, getpid());
	CHECK_EQ(pr.maps[0].bias, bias);
	int found = 0;
	for (size_t i = 0; i < pr.nr_chains; i++) {
		struct prof_chain *c = &pr.chains[i];
		if (c->frames[0].map == 0) {
			CHECK_EQ(c->live_bytes, 2 * us);
			CHECK_EQ(c->live_calls, 2);
			CHECK_EQ(c->frames[0].addr, (uintptr_t)ra - bias);
			found++;
		} else {
			CHECK_EQ(c->frames[0].map, -1);
			CHECK_EQ(c->frames[0].addr, 0x10010);
			CHECK_EQ(c->live_calls, 1);
			found++;
		}
	}
	CHECK_EQ(found, 2);
	CHECK_STREQ(pr.tags[0].file, "tests/test_profile.c");
	CHECK_EQ(pr.tags[0].line, tag_line);
	CHECK_STREQ(pr.tags[0].func, "main");
	CHECK(pr.tags[0].module == NULL);
	profile_free(&pr);

	/* freed: the counts go to zero in the next profile */
	at_free(q1);
	at_free(q2);
	CHECK(ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0);
	CHECK_EQ(at_profile_write_fd(fd), 0);
	len = lseek(fd, 0, SEEK_END);
	text = realloc(text, (size_t)len + 1);
	CHECK(pread(fd, text, (size_t)len, 0) == len);
	text[len] = '\0';
	/* nothing live and nothing counted since start: the chain is left out */
	snprintf(want, sizeof(want), " 0:0x%lx\n", (unsigned long)((uintptr_t)ra - bias));
	CHECK(!strstr(text, want));
	snprintf(want, sizeof(want), "\nchain %zu 1 0 0 1 -:0x10010\n", at_usable_size(r));
	CHECK(strstr(text, want));
	free(text);
	puts("profile writer: ok");
	return 0;
}
