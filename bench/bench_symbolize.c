/*
 * Symbolizing a profile of 100k chains (the alloctag command's report
 * path: tools/profile, tools/symbols, tools/report), and what it is
 * compared against.
 *
 * The profile is made here, in memory, over two real objects with DWARF:
 * libc.so.6 (its debug file found by build ID) and this executable (-g).
 * Return addresses are taken inside their functions (.symtab/.dynsym FUNC
 * symbols), one chain = D frames.  Two shapes:
 *   shared   100,000 chains of depth 8 drawn from 5,000 distinct addresses
 *            (many chains, few call sites: a real program's shape)
 *   distinct 100,000 chains of depth 1, each a different address (the
 *            worst case: every frame symbolized once)
 * For each: parse, then build the sites (every address symbolized with
 * inlined frames) and write allocinfo, then write pprof (gzipped), each to
 * /dev/null, seconds of wall time.  Compared against binutils' addr2line
 * -f -i -C over the same distinct addresses of libc (one process, the
 * addresses on its standard input), the usual way to do this by hand.
 *
 *   build/bench/bench_symbolize [chains]
 */
#define _GNU_SOURCE
#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "profile/profile.h"
#include "report/report.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct obj {
	char path[4096];
	char build_id[41];
	uint64_t *addrs; /* candidate return addresses (file addresses) */
	size_t n;
};

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Return addresses inside obj's functions: every 16th byte of each FUNC. */
static int load_obj(struct obj *o, const char *path)
{
	snprintf(o->path, sizeof(o->path), "%s", path);
	elf_version(EV_CURRENT);
	int fd = open(path, O_RDONLY);
	Elf *e = fd >= 0 ? elf_begin(fd, ELF_C_READ, NULL) : NULL;
	if (!e)
		return -1;
	const void *id;
	ssize_t n = dwelf_elf_gnu_build_id(e, &id);
	for (ssize_t i = 0; i < n && i < 20; i++)
		sprintf(o->build_id + 2 * i, "%02x", ((const unsigned char *)id)[i]);
	size_t cap = 0;
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		gelf_getshdr(scn, &sh);
		if (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym s;
			gelf_getsym(d, (int)i, &s);
			if (GELF_ST_TYPE(s.st_info) != STT_FUNC || s.st_size < 16 || !s.st_value)
				continue;
			for (uint64_t off = 5; off < s.st_size; off += 16) {
				if (o->n == cap) {
					cap = cap ? cap * 2 : 4096;
					o->addrs = realloc(o->addrs, cap * sizeof(*o->addrs));
				}
				o->addrs[o->n++] = s.st_value + off;
			}
		}
	}
	elf_end(e);
	close(fd);
	return o->n ? 0 : -1;
}

static int find_libc(struct dl_phdr_info *info, size_t size, void *ctx)
{
	(void)size;
	if (strstr(info->dlpi_name, "/libc.so.6"))
		snprintf(ctx, 4096, "%s", info->dlpi_name);
	return 0;
}

/* A profile text of `chains` chains of `depth` frames from `distinct` addresses. */
static char *make_profile(struct obj *objs, size_t chains, unsigned int depth, size_t distinct,
			  uint64_t *picked_libc, size_t *npicked, size_t *len)
{
	size_t cap = chains * (40 + depth * 24) + 65536, n = 0;
	char *t = malloc(cap);
	n += (size_t)sprintf(t + n, "alloctag-profile 1\ndepth %u\n", depth);
	for (int m = 0; m < 2; m++)
		n += (size_t)sprintf(t + n, "map %d 0x%x 0x%x 0x0 0x0 %s %s\n", m, 0x1000 * (m + 1),
				     0x1000 * (m + 2), objs[m].build_id, objs[m].path);
	/* the distinct (map, address) pairs, 3 of 4 from libc */
	int *pm = malloc(distinct * sizeof(*pm));
	uint64_t *pa = malloc(distinct * sizeof(*pa));
	*npicked = 0;
	for (size_t i = 0; i < distinct; i++) {
		pm[i] = (i % 4 == 3);
		pa[i] = objs[pm[i]].addrs[next() % objs[pm[i]].n];
		if (!pm[i])
			picked_libc[(*npicked)++] = pa[i];
	}
	for (size_t c = 0; c < chains; c++) {
		n += (size_t)sprintf(t + n, "chain %zu 1 0 0 1", 16 + c % 1000);
		for (unsigned int d = 0; d < depth; d++) {
			size_t k = distinct == chains * depth ? c * depth + d : next() % distinct;
			n += (size_t)sprintf(t + n, " %d:0x%" PRIx64, pm[k], pa[k]);
		}
		t[n++] = '\n';
	}
	n += (size_t)sprintf(t + n, "end %zu\n", chains + 2);
	free(pm);
	free(pa);
	*len = n;
	return t;
}

static double addr2line_secs(const char *lib, const uint64_t *a, size_t n)
{
	char in[] = "/tmp/bench_symbolize.XXXXXX";
	int fd = mkstemp(in);
	FILE *f = fdopen(fd, "w");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "0x%" PRIx64 "\n", a[i] - 1);
	fclose(f);
	char *cmd;
	if (asprintf(&cmd, "addr2line -f -i -C -e %s <%s >/dev/null", lib, in) < 0)
		return -1;
	double t0 = now();
	int rc = system(cmd);
	double t = now() - t0;
	unlink(in);
	free(cmd);
	return rc == 0 ? t : -1;
}

static void run(const char *shape, struct obj *objs, size_t chains, unsigned int depth,
		size_t distinct)
{
	uint64_t *picked = malloc(distinct * sizeof(*picked));
	size_t npicked, len;
	char *text = make_profile(objs, chains, depth, distinct, picked, &npicked, &len);
	FILE *null = fopen("/dev/null", "w");
	struct profile p;
	double t0 = now();
	if (profile_parse("bench", text, len, &p))
		exit(1);
	double t1 = now();
	report_write_to(&p, FMT_ALLOCINFO, NULL, null, 0);
	double t2 = now();
	report_write_to(&p, FMT_PPROF, NULL, null, 0);
	double t3 = now();
	double a2l = addr2line_secs(objs[0].path, picked, npicked);
	printf("%-9s %7zu chains x %u frames, %6zu distinct addresses: parse %.2f s, "
	       "symbolize + allocinfo %.2f s, pprof %.2f s; addr2line -i on its %zu libc "
	       "addresses %.2f s (ratio symbolize+allocinfo / addr2line %.2f)\n",
	       shape, chains, depth, distinct, t1 - t0, t2 - t1, t3 - t2, npicked, a2l,
	       (t2 - t1) / a2l);
	fflush(stdout);
	profile_free(&p);
	fclose(null);
	free(text);
	free(picked);
}

int main(int argc, char **argv)
{
	size_t chains = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	static struct obj objs[2];
	char libc[4096] = "";
	char self[4096];
	ssize_t k = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[k > 0 ? k : 0] = '\0';
	dl_iterate_phdr(find_libc, libc);
	if (load_obj(&objs[0], libc) || load_obj(&objs[1], self)) {
		fprintf(stderr, "bench_symbolize: cannot read %s or %s\n", libc, self);
		return 1;
	}
	printf("objects: %s (%zu candidate addresses), %s (%zu)\n", libc, objs[0].n, self, objs[1].n);
	run("shared", objs, chains, 8, 5000);
	run("distinct", objs, chains, 1, chains);
	return 0;
}
