/*
 * The raw profile writer (format: docs/PROFILE_FORMAT.md, version 1).
 *
 * Three phases, so that no lock is held while another is taken:
 *   1. chains: at_sites_each() (registry lock held inside) copies every
 *      chain (counters, site, frames) into an mmap'd arena;
 *   2. objects: dl_iterate_phdr() (the loader's lock) lists the executable
 *      PT_LOAD segments of every loaded object with its load bias and
 *      NT_GNU_BUILD_ID (read from the object's loaded notes), sorted by
 *      address; each frame is looked up there, and the segments that some
 *      frame falls in get map ids in order of first use;
 *   3. output: header, maps, chains, then the compile-time tags (core and
 *      shared-object tags, a walk of the registry as allocinfo's), then
 *      `end N`.
 * Memory: three mmap'd arenas (chains, segments, names), grown by mremap and
 * unmapped at the end; text goes through a stack buffer to write(2).  A
 * failure to map memory or to write gives -errno and a partial file, which
 * the caller discards (exit_report.c writes to a temporary name first).
 */
#define _GNU_SOURCE /* dl_iterate_phdr, mremap */
#include "report/profile.h"

#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "core/control.h"
#include "core/tag_registry.h"
#include "objects/bin_charge.h"
#include "sites/chains.h"
#include "sites/sites_each.h"
#include "live/live_read.h"
#include "live/profile_records.h"

/* ---- arenas: growable mmap'd byte arrays ----------------------------- */

struct arena {
	char *p;
	size_t len, cap;
	int err;
};

static void *arena_push(struct arena *a, size_t n)
{
	if (a->err)
		return NULL;
	if (a->len + n > a->cap) {
		size_t cap = a->cap ? a->cap : 64 << 10;
		while (cap < a->len + n)
			cap *= 2;
		void *p = a->p ? mremap(a->p, a->cap, cap, MREMAP_MAYMOVE)
			       : mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				      -1, 0);
		if (p == MAP_FAILED) {
			a->err = -ENOMEM;
			return NULL;
		}
		a->p = p;
		a->cap = cap;
	}
	void *r = a->p + a->len;
	a->len += n;
	return r;
}

static void arena_free(struct arena *a)
{
	if (a->p)
		munmap(a->p, a->cap);
}

/* ---- phase 1: chains ------------------------------------------------- */

struct chain_rec { /* followed by nr frames (uintptr_t) */
	uint64_t lb, lc, ab, ac;
	uint32_t nr, site;
	uint32_t idx; /* live/profile_records.h: the "index" record */
};

struct chains {
	struct arena a;
	size_t count;
	unsigned int depth; /* most frames in any chain */
};

static void copy_chain(const struct at_chain_view *v, void *ctx)
{
	struct chains *c = ctx;
	struct chain_rec *r = arena_push(&c->a, sizeof(*r) + v->nr_frames * sizeof(uintptr_t));
	if (!r)
		return;
	r->lb = v->live_bytes;
	r->lc = v->live_calls;
	r->ab = v->alloc_bytes;
	r->ac = v->alloc_calls;
	r->nr = v->nr_frames;
	r->site = v->site;
	r->idx = v->idx;
	memcpy(r + 1, v->frames, v->nr_frames * sizeof(uintptr_t));
	c->count++;
	if (v->nr_frames > c->depth)
		c->depth = v->nr_frames;
}

/* ---- phase 2: objects ------------------------------------------------ */

struct seg {
	uintptr_t start, end, offset, bias;
	size_t name; /* offset in the names arena */
	int id;      /* map id, -1 until a frame uses it */
	char build_id[41];
};

struct objects {
	struct arena segs, names;
};

static size_t add_name(struct arena *names, const char *s)
{
	size_t n = strlen(s), off = names->len;
	char *d = arena_push(names, n + 1);
	if (d)
		memcpy(d, s, n + 1);
	return off;
}

static void find_build_id(const struct dl_phdr_info *info, char *out)
{
	out[0] = '\0';
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_NOTE || ph->p_vaddr % 4)
			continue;
		/* the notes as far as a loaded segment holds them (a corrupt
		 * object's PT_NOTE may point anywhere) */
		uint64_t end = ph->p_vaddr;
		for (int k = 0; k < info->dlpi_phnum; k++) {
			const ElfW(Phdr) *l = &info->dlpi_phdr[k];
			if (l->p_type == PT_LOAD && ph->p_vaddr >= l->p_vaddr &&
			    ph->p_vaddr - l->p_vaddr < l->p_filesz)
				end = l->p_vaddr + l->p_filesz;
		}
		if (ph->p_memsz < end - ph->p_vaddr)
			end = ph->p_vaddr + ph->p_memsz;
		const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
		const char *e = p + (end - ph->p_vaddr);
		while ((size_t)(e - p) >= sizeof(ElfW(Nhdr))) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
			const char *name = p + sizeof(*nh);
			size_t nsz = ((size_t)nh->n_namesz + 3) & ~(size_t)3;
			size_t dsz = ((size_t)nh->n_descsz + 3) & ~(size_t)3;
			if (nsz > (size_t)(e - name) || dsz > (size_t)(e - name) - nsz)
				break;
			const unsigned char *desc = (const unsigned char *)name + nsz;
			const char *next = (const char *)desc + dsz;
			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    memcmp(name, "GNU", 4) == 0 && nh->n_descsz > 0 && nh->n_descsz <= 20) {
				for (unsigned int k = 0; k < nh->n_descsz; k++) {
					out[2 * k] = "0123456789abcdef"[desc[k] >> 4];
					out[2 * k + 1] = "0123456789abcdef"[desc[k] & 15];
				}
				out[2 * nh->n_descsz] = '\0';
				return;
			}
			p = next;
		}
	}
}

static int list_segment(struct dl_phdr_info *info, size_t size, void *ctx)
{
	(void)size;
	struct objects *o = ctx;
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	size_t name = (size_t)-1;
	char build_id[41];
	int have_id = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X) || !ph->p_memsz)
			continue;
		if (name == (size_t)-1) {
			const char *n = info->dlpi_name;
			char exe[4096];
			if (!n || !n[0]) { /* the main executable */
				ssize_t k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
				exe[k > 0 ? k : 0] = '\0';
				n = k > 0 ? exe : "?";
			}
			name = add_name(&o->names, n);
		}
		if (!have_id) {
			find_build_id(info, build_id);
			have_id = 1;
		}
		struct seg *s = arena_push(&o->segs, sizeof(*s));
		if (!s)
			return 1;
		uintptr_t start = info->dlpi_addr + ph->p_vaddr;
		s->start = start & ~(page - 1);
		s->end = (start + ph->p_memsz + page - 1) & ~(page - 1);
		s->offset = ph->p_offset & ~(page - 1);
		s->bias = info->dlpi_addr;
		s->name = name;
		s->id = -1;
		memcpy(s->build_id, build_id, sizeof(build_id));
	}
	return 0;
}

/* Insertion sort by start (qsort may malloc; objects are few and come
 * nearly in order). */
static void sort_segs(struct seg *s, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct seg x = s[i];
		size_t j = i;
		for (; j > 0 && s[j - 1].start > x.start; j--)
			s[j] = s[j - 1];
		s[j] = x;
	}
}

static struct seg *seg_of(struct seg *segs, size_t n, uintptr_t addr)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (addr < segs[mid].start)
			hi = mid;
		else if (addr >= segs[mid].end)
			lo = mid + 1;
		else
			return &segs[mid];
	}
	return NULL;
}

/* ---- phase 3: output ------------------------------------------------- */

struct out {
	int fd, err;
	size_t n;
	char buf[8192];
};

static void out_flush(struct out *o)
{
	const char *p = o->buf;
	while (o->n && !o->err) {
		ssize_t w = write(o->fd, p, o->n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			o->err = w < 0 ? -errno : -EIO;
			break;
		}
		p += w;
		o->n -= (size_t)w;
	}
	o->n = 0;
}

static void out_fmt(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_fmt(struct out *o, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (k < 0)
		return;
	if ((size_t)k >= sizeof(line))
		k = sizeof(line) - 1;
	if (o->n + (size_t)k > sizeof(o->buf))
		out_flush(o);
	memcpy(o->buf + o->n, line, (size_t)k);
	o->n += (size_t)k;
}

/* A string field that runs to the end of its line: no newline in it. */
static void out_str(struct out *o, const char *s)
{
	for (; *s; s++) {
		if (o->n == sizeof(o->buf))
			out_flush(o);
		o->buf[o->n++] = *s == '\n' ? '?' : *s;
	}
}

/* A whole line for live/profile_records.h. */
static void put_line(void *ctx, const char *line)
{
	char l[1024];
	size_t n = strlen(line);
	if (n && line[n - 1] == '\n')
		n--;
	if (n >= sizeof(l))
		n = sizeof(l) - 1;
	memcpy(l, line, n);
	l[n] = '\0';
	out_str(ctx, l);
	out_fmt(ctx, "\n");
}

static void write_tags(struct out *o, size_t *records)
{
	if (AT_LOAD(&at_state) != AT_STATE_READY)
		return;
	pthread_mutex_lock(&at_registry_lock);
	uint32_t end = AT_LOAD(&at_nr_idx);
	at_bin_charges_gather(end);
	for (uint32_t i = AT_IDX_FIRST; i < end; i++) {
		const struct alloc_tag *t = AT_LOAD(at_tag_slot(i));
		struct alloctag_counters c = at_counters_read(i), b = at_bin_charges_take(i);
		c.bytes += b.bytes;
		c.calls += b.calls;
		if (!t || (!t->modname && !(t >= at_core_start && t < at_core_stop)))
			continue; /* a run-time tag: its chain is written as a chain */
		unsigned int flags = AT_LOAD_RELAXED(&t->flags);
		if ((flags & ALLOCTAG_FLAG_UNLOADED) && !c.bytes && !c.calls)
			continue;
		out_fmt(o, "tag %lld %lld 0 0 ", (long long)c.bytes, (long long)c.calls);
		if (t->modname) {
			for (const char *m = t->modname; *m; m++)
				out_fmt(o, "%c", *m == ' ' || *m == '\n' ? '?' : *m);
		} else {
			out_str(o, "-");
		}
		out_fmt(o, " ");
		out_str(o, t->filename);
		out_fmt(o, ":%u func:", t->lineno);
		out_str(o, t->function);
		if (flags & ALLOCTAG_FLAG_INACCURATE)
			out_str(o, " accurate:no");
		if (flags & ALLOCTAG_FLAG_UNLOADED)
			out_str(o, " loaded:no");
		out_fmt(o, "\n");
		++*records;
		at_live_index_record(i, put_line, o);
	}
	pthread_mutex_unlock(&at_registry_lock);
}

int at_profile_write_fd(int fd)
{
	struct chains ch = {0};
	struct objects ob = {0};
	AT_BIG_BSS static struct out o; /* 8 KiB: off the stack of a destructor */
	static int busy;
	if (__atomic_exchange_n(&busy, 1, __ATOMIC_ACQUIRE))
		return -EBUSY;
	o.fd = fd;
	o.err = 0;
	o.n = 0;

	/* every caller runs after start-up (the exit report, a live read, the
	 * endpoint); before it, the profile says store never and holds no chain */
	at_sites_each(copy_chain, &ch);
	dl_iterate_phdr(list_segment, &ob);
	int err = ch.a.err ? ch.a.err : ob.segs.err ? ob.segs.err : ob.names.err;
	if (err)
		goto done;
	size_t nsegs = ob.segs.len / sizeof(struct seg);
	struct seg *segs = (struct seg *)ob.segs.p;
	sort_segs(segs, nsegs);

	/* map ids in order of first use */
	int nmaps = 0;
	for (size_t off = 0, k = 0; k < ch.count; k++) {
		struct chain_rec *r = (struct chain_rec *)(ch.a.p + off);
		const uintptr_t *f = (const uintptr_t *)(r + 1);
		for (uint32_t j = 0; j < r->nr; j++) {
			struct seg *s = seg_of(segs, nsegs, f[j]);
			if (s && s->id < 0)
				s->id = nmaps++;
		}
		off += sizeof(*r) + r->nr * sizeof(uintptr_t);
	}

	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	char exe[4096];
	ssize_t k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[k > 0 ? k : 0] = '\0';
	out_fmt(&o, "alloctag-profile 1\npid %ld\nexe ", (long)at_live_pid());
	out_str(&o, k > 0 ? exe : "?");
	out_fmt(&o, "\ntime %lld.%06ld\ndepth %u\nstore %s\n", (long long)ts.tv_sec,
		ts.tv_nsec / 1000, ch.depth,
		AT_LOAD(&at_state) != AT_STATE_READY ? "never"
		: alloctag_compressed()		      ? "compressed"
						      : "uncompressed");
	/* what the call-chain table itself takes (sites/chains.h) */
	if (AT_LOAD(&at_state) == AT_STATE_READY)
		out_fmt(&o, "chains %u %zu\n", at_chain_count(), at_chain_memory());
	size_t records = 0;
	for (int id = 0; id < nmaps; id++) {
		for (size_t i = 0; i < nsegs; i++) {
			struct seg *s = &segs[i];
			if (s->id != id)
				continue;
			out_fmt(&o, "map %d 0x%lx 0x%lx 0x%lx 0x%lx %s ", id, (unsigned long)s->start,
				(unsigned long)s->end, (unsigned long)s->offset, (unsigned long)s->bias,
				s->build_id[0] ? s->build_id : "-");
			out_str(&o, ob.names.p + s->name);
			out_fmt(&o, "\n");
			records++;
			break;
		}
	}
	for (size_t off = 0, n = 0; n < ch.count; n++) {
		struct chain_rec *r = (struct chain_rec *)(ch.a.p + off);
		const uintptr_t *f = (const uintptr_t *)(r + 1);
		/* signed: a live count read while other threads allocate may be
		 * transiently negative (counters.h) */
		out_fmt(&o, "chain %lld %lld %lld %lld %u", (long long)r->lb, (long long)r->lc,
			(long long)r->ab, (long long)r->ac, r->site);
		for (uint32_t j = 0; j < r->nr; j++) {
			struct seg *s = seg_of(segs, nsegs, f[j]);
			if (s)
				out_fmt(&o, " %d:0x%lx", s->id, (unsigned long)(f[j] - s->bias));
			else
				out_fmt(&o, " -:0x%lx", (unsigned long)f[j]);
		}
		out_fmt(&o, "\n");
		records++;
		at_live_index_record(r->idx, put_line, &o);
		off += sizeof(*r) + r->nr * sizeof(uintptr_t);
	}
	write_tags(&o, &records);
	at_live_records(put_line, &o); /* peak and series: not counted in end */
	out_fmt(&o, "end %zu\n", records);
	out_flush(&o);
	err = o.err;
done:
	arena_free(&ch.a);
	arena_free(&ob.segs);
	arena_free(&ob.names);
	__atomic_store_n(&busy, 0, __ATOMIC_RELEASE);
	return err;
}
