/*
 * The unwinder's CFI read from the object's file (records, descriptors,
 * the sparse index: eh_file.h).
 */
#define _GNU_SOURCE /* dl_iterate_phdr's types, F_DUPFD_CLOEXEC */
#include "sites/eh_file.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/read_at.h"
#include "sites/unwind.h"

#define CIE_MAX 256u
#define FDE_MAX 2048u
/* a stride's FDEs read at once (ld's: about 45 bytes each): at most what
 * buf holds in the tags' page (below); a longer stride's FDEs are out of
 * the table's order, and its table stretch and FDE are read instead */
#define WIN_MAX 3584u
#define NOT_FOUND 4   /* not in the stride's window: the table says */
#define AT_EH_FDE_BIG (1u << 20) /* longer FDEs are read in place */
#define READ_FAILED 3 /* a read came short: the descriptor is checked */

struct eh_obj {
	struct eh_obj *next; /* the record made before it */
	const uint8_t *hdr; /* key: the .eh_frame_hdr's run-time address */
	int fd;             /* -1: read in place */
	dev_t dev;
	ino_t ino;
	const char *path;   /* the loader's name for it (valid until it is unloaded) */
	uint64_t seg_off, seg_end; /* the segment's bytes in the file */
	uintptr_t seg_addr;        /* run-time address of seg_off */
	uint64_t hdr_off, tab_off; /* file offsets of the header and its table */
	uint64_t count;            /* table entries */
	const int32_t *sparse;     /* entry k * AT_EH_STRIDE's start and FDE, in pairs */
	struct eh_cie {            /* the last two CIEs read */
		uint64_t off;      /* its file offset (0: none) */
		int enc;           /* its FDEs' pointer encoding (-1: not usable) */
		struct at_eh_cie read; /* parsed, its initial instructions run */
	} cie[2];
	unsigned int cie_next;     /* the one a CIE read replaces */
};

/* Written with busy held (below).  The records and the sparse indexes
 * come from one arena, each record followed by its object's index: a
 * program's first records share the index's pages (git --version's three
 * records and their indexes, 6.1 KiB, two pages), where an array of
 * records in .bss took a page of its own. */
static struct eh_obj *objs; /* the newest record, NULL: none */
static unsigned int nobjs;
static int32_t *arena; /* AT_EH_ARENA bytes */
static size_t arena_used; /* entries */

/* What a miss writes besides the record it reads, in the fork page
 * (core/compiler.h), which a forked child's first chain writes anyway:
 * busy, the records' lock, taken by exchange and never waited for (a miss
 * that finds it taken, another thread's or the one a signal handler
 * interrupted, reads in place; an unload seen meanwhile is done by the
 * next taker); and what kept.buf holds, for the next miss to skip its reads
 * when it needs the same (a function's return addresses share its FDE,
 * neighbours a stretch): the stretch of the table of tab_obj (NULL: none)
 * from entry tab_first, tab_n entries; fde_got bytes at fde_at of
 * fde_obj's file. */
AT_CHAIN_HOT static struct {
	int busy, forget_pending;
	const struct eh_obj *tab_obj, *fde_obj;
	uint64_t tab_first, tab_n, fde_at;
	ssize_t fde_got;
	/* or the FDEs of stride win_k of win_obj's table, win_n bytes */
	const struct eh_obj *win_obj;
	uint64_t win_k, win_n;
} hot;

static void buf_forget(void)
{
	hot.tab_obj = hot.fde_obj = hot.win_obj = NULL;
}

/* The file blocks the misses read (busy held): EH_BLOCKS aligned blocks
 * of EH_BLOCK bytes of the records' files, the least recently used
 * replaced.  A program's misses come back to the same strides, FDEs and
 * CIEs (each new return address of a function it has met; a walk
 * alternating between two functions), and a miss that finds its bytes
 * here makes no system call; the blocks a read lacks are read by one
 * preadv (a run of them: one a run).  16 KiB: every block is a page
 * resident once used (1 KiB blocks, not 2 or 4: the same bytes hold more
 * of the scattered FDEs a program meets). */
#define EH_BLOCK_SHIFT 10
#define EH_BLOCK (1u << EH_BLOCK_SHIFT)
#define EH_BLOCKS 16u
struct eh_block {
	const struct eh_obj *obj; /* NULL: empty */
	uint64_t no;              /* the block's number in obj's file */
	uint32_t got;             /* its bytes read (fewer: the end of the file) */
	uint32_t used;            /* the clock at its last use */
};

/* What a miss writes (busy held), page-aligned: the blocks' tags, the
 * clock, the reads' count and buf (3.5 KiB) in one page (a stride's FDEs
 * are about 720 bytes, an FDE read at buf + 512; an 8 KiB buf, read whole
 * for a stride whose FDEs lay apart, made a page more resident), then the
 * blocks, page-aligned, in four pages of their own.  A miss that finds its bytes
 * in the blocks writes one page, not three (the count in .bss beside the
 * other small statics, the tags after the blocks, buf after them): a
 * forked child whose misses read bytes its parent's blocks hold copies
 * one page for the unwinder's reads. */
AT_BIG_BSS static struct {
	struct eh_block tag[EH_BLOCKS];
	uint32_t clock;
	unsigned long reads; /* the reads asked of the files (tests) */
	uint8_t buf[WIN_MAX]; /* a stride's FDEs; or a stretch of the table, then an FDE */
	uint8_t data[EH_BLOCKS][EH_BLOCK] __attribute__((aligned(4096)));
} kept __attribute__((aligned(4096)));
_Static_assert(512 + FDE_MAX <= WIN_MAX && offsetof(__typeof__(kept), buf) + WIN_MAX <= 4096,
	       "a table's stretch and an FDE in buf, buf in the tags' page");

/* at_read_at, counted */
static ssize_t read_at(int fd, void *dst, size_t n, uint64_t off)
{
	kept.reads++;
	return at_read_at(fd, dst, n, off);
}

static void blocks_forget(void)
{
	for (unsigned int i = 0; i < EH_BLOCKS; i++)
		kept.tag[i].obj = NULL;
}

/* A block to fill for the read of clock `now`: an empty one, else the one
 * used longest ago (the clock wraps), never one this read uses. */
static unsigned int block_victim(uint32_t now)
{
	unsigned int v = EH_BLOCKS;
	for (unsigned int i = 0; i < EH_BLOCKS; i++) {
		const struct eh_block *t = &kept.tag[i];
		if (t->used == now)
			continue;
		if (!t->obj)
			return i;
		if (v == EH_BLOCKS || (int32_t)(t->used - kept.tag[v].used) < 0)
			v = i;
	}
	return v;
}

/* Blocks first .. first + k - 1 of o's file into the blocks slot[0 .. k):
 * one preadv, the rest (a read cut short) block by block; 0, or -1 on an
 * error. */
static int blocks_read(const struct eh_obj *o, uint64_t first, const unsigned int *slot,
		       unsigned int k)
{
	struct iovec iov[EH_BLOCKS];
	for (unsigned int i = 0; i < k; i++) {
		iov[i].iov_base = kept.data[slot[i]];
		iov[i].iov_len = EH_BLOCK;
	}
	ssize_t r;
	do {
		kept.reads++;
		r = at_preadv_once(o->fd, iov, k, first << EH_BLOCK_SHIFT);
	} while (r == -EINTR);
	if (r < 0)
		return -1;
	for (unsigned int i = 0; i < k; i++) {
		struct eh_block *t = &kept.tag[slot[i]];
		size_t at = (size_t)i << EH_BLOCK_SHIFT;
		ssize_t got = (size_t)r >= at + EH_BLOCK ? (ssize_t)EH_BLOCK
			      : read_at(o->fd, kept.data[slot[i]], EH_BLOCK,
					   (first + i) << EH_BLOCK_SHIFT);
		if (got < 0)
			return -1;
		t->obj = o;
		t->no = first + i;
		t->got = (uint32_t)got;
	}
	return 0;
}

/* n bytes at off of o's file into dst through the kept blocks: at_read_at's
 * result (fewer only at the end of the file, -1 on an error). */
static ssize_t file_read(const struct eh_obj *o, void *dst, size_t n, uint64_t off)
{
	if (!n)
		return 0;
	uint64_t b0 = off >> EH_BLOCK_SHIFT, nb = ((off + n - 1) >> EH_BLOCK_SHIFT) - b0 + 1;
	if (off > (uint64_t)INT64_MAX - n || nb > EH_BLOCKS - 2)
		return read_at(o->fd, dst, n, off); /* longer than the blocks but two */
	uint32_t now = ++kept.clock;
	unsigned int slot[EH_BLOCKS];
	for (unsigned int i = 0; i < nb; i++) {
		slot[i] = EH_BLOCKS;
		for (unsigned int j = 0; j < EH_BLOCKS; j++)
			if (kept.tag[j].obj == o && kept.tag[j].no == b0 + i) {
				slot[i] = j;
				kept.tag[j].used = now;
				break;
			}
	}
	for (unsigned int i = 0; i < nb;) { /* each run of missing blocks */
		unsigned int k = 0;
		while (i + k < nb && slot[i + k] == EH_BLOCKS) {
			unsigned int v = block_victim(now);
			kept.tag[v].obj = NULL;
			kept.tag[v].used = now;
			slot[i + k++] = v;
		}
		if (k && blocks_read(o, b0 + i, slot + i, k))
			return -1;
		i += k ? k : 1;
	}
	size_t done = 0;
	for (unsigned int i = 0; i < nb; i++) {
		const struct eh_block *t = &kept.tag[slot[i]];
		size_t in = (size_t)((off + done) & (EH_BLOCK - 1));
		if (t->got <= in)
			break;
		size_t c = t->got - in < n - done ? t->got - in : n - done;
		memcpy((uint8_t *)dst + done, kept.data[slot[i]] + in, c);
		done += c;
		if (t->got < EH_BLOCK)
			break; /* the end of the file */
	}
	return (ssize_t)done;
}

static inline int32_t load32(const uint8_t *p)
{
	int32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

/* path opened, if it is the object of info (its program headers equal the
 * loaded ones); its descriptor (moved up when possible) and *st, or -1. */
static int open_object(const char *path, const struct dl_phdr_info *info, struct stat *st)
{
	ElfW(Ehdr) eh;
	ElfW(Phdr) ph[16]; /* 16 headers a read: a small stack frame (a chain's
			    * first walk reaches it under the allocation's) */
	if (info->dlpi_phnum > 64)
		return -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int same = !fstat(fd, st) && S_ISREG(st->st_mode) &&
		   read_at(fd, &eh, sizeof(eh), 0) == (ssize_t)sizeof(eh) &&
		   !memcmp(eh.e_ident, ELFMAG, SELFMAG) && eh.e_phnum == info->dlpi_phnum &&
		   eh.e_phentsize == sizeof(ElfW(Phdr));
	for (size_t i = 0; same && i < info->dlpi_phnum; i += 16) {
		size_t k = info->dlpi_phnum - i < 16 ? info->dlpi_phnum - i : 16;
		size_t n = k * sizeof(ElfW(Phdr));
		same = read_at(fd, ph, n, eh.e_phoff + i * sizeof(ElfW(Phdr))) == (ssize_t)n &&
		       !memcmp(ph, info->dlpi_phdr + i, n);
	}
	if (!same) {
		close(fd);
		return -1;
	}
	int hi = fcntl(fd, F_DUPFD_CLOEXEC, AT_EH_FD_MIN);
	if (hi >= 0) {
		close(fd);
		fd = hi;
	}
	return fd;
}

/* Whether o's descriptor is still the file it opened. */
static int still_ours(const struct eh_obj *o)
{
	struct stat st;
	return o->fd >= 0 && !fstat(o->fd, &st) && st.st_dev == o->dev && st.st_ino == o->ino;
}

/* k entries of the arena (8-byte aligned), mapped at the first; NULL when
 * it is full or cannot be mapped. */
static int32_t *arena_take(size_t k)
{
	if (!arena) {
		/* the flags of the allocator's other small mappings (no
		 * MAP_NORESERVE), so that the kernel merges it with a neighbour:
		 * every mapping is one more for each fork to copy */
		void *a = mmap(NULL, AT_EH_ARENA, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (a == MAP_FAILED)
			return NULL;
		arena = a;
	}
	k = (k + 1) & ~(size_t)1;
	if (k > AT_EH_ARENA / sizeof(int32_t) - arena_used)
		return NULL;
	int32_t *p = arena + arena_used;
	arena_used += k;
	return p;
}

/* The sparse index of o, read from its table; 0 or -1 (no room, a read
 * failed: o is read in place). */
static int index_table(struct eh_obj *o)
{
	size_t k = 2 * (size_t)((o->count + AT_EH_STRIDE - 1) / AT_EH_STRIDE);
	int32_t *idx = arena_take(k);
	if (!idx)
		return -1;
	/* entries a read brings: those buf's part in the tags' page holds, so
	 * that indexing an object writes no page a miss would not (a small
	 * program's objects are indexed and then missed in a stride or two) */
	const uint64_t per = (4096 - offsetof(__typeof__(kept), buf)) / 8;
	for (uint64_t e = 0; e < o->count; e += per) {
		uint64_t n = o->count - e < per ? o->count - e : per;
		if (read_at(o->fd, kept.buf, n * 8, o->tab_off + e * 8) != (ssize_t)(n * 8))
			return -1;
		for (uint64_t i = (AT_EH_STRIDE - e % AT_EH_STRIDE) % AT_EH_STRIDE; i < n;
		     i += AT_EH_STRIDE) {
			idx[2 * ((e + i) / AT_EH_STRIDE)] = load32(kept.buf + 8 * i);
			idx[2 * ((e + i) / AT_EH_STRIDE) + 1] = load32(kept.buf + 8 * i + 4);
		}
	}
	o->sparse = idx;
	return 0;
}

/* Fill o for the object of info: its file, segment, table and index; its
 * fd stays -1 when it is to be read in place. */
static void object_make(struct eh_obj *o, const struct dl_phdr_info *info, const uint8_t *hdr)
{
	buf_forget(); /* kept.buf is reused */
	blocks_forget();
	memset(o, 0, sizeof(*o)); /* arena bytes: a dropped record's, after an unload */
	o->hdr = hdr;
	o->fd = -1;
	uintptr_t h = (uintptr_t)hdr;
	const ElfW(Phdr) *seg = NULL, *relro = NULL;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t s = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && h >= s && h - s < ph->p_filesz)
			seg = ph;
		else if (ph->p_type == PT_GNU_RELRO)
			relro = ph;
	}
	if (!seg || (seg->p_flags & PF_W) ||
	    (relro && relro->p_vaddr < seg->p_vaddr + seg->p_memsz &&
	     seg->p_vaddr < relro->p_vaddr + relro->p_memsz))
		return; /* may have been relocated: the memory is not the file */
	struct stat st;
	o->path = info->dlpi_name && info->dlpi_name[0] ? info->dlpi_name : "/proc/self/exe";
	int fd = open_object(o->path, info, &st);
	if (fd < 0)
		return;
	o->fd = fd;
	o->dev = st.st_dev;
	o->ino = st.st_ino;
	o->seg_off = seg->p_offset;
	o->seg_end = seg->p_offset + seg->p_filesz;
	o->seg_addr = info->dlpi_addr + seg->p_vaddr;
	o->hdr_off = o->seg_off + (h - o->seg_addr);
	uint8_t b[64];
	size_t n = o->seg_end - o->hdr_off < sizeof(b) ? o->seg_end - o->hdr_off : sizeof(b);
	size_t at;
	if (read_at(fd, b, n, o->hdr_off) != (ssize_t)n ||
	    at_eh_hdr(b, n, h, &o->count, &at) || /* the mapping's reader says what */
	    o->count > (o->seg_end - o->hdr_off - at) / 8 ||
	    (o->tab_off = o->hdr_off + at, index_table(o))) {
		close(fd);
		o->fd = -1;
	}
}

static int cie_rule(struct eh_obj *o, uint64_t cie_off, const uint8_t *fde, size_t n,
		    uint64_t fde_off, uintptr_t pc, uint64_t *rule);
static const struct eh_cie *cie_load(struct eh_obj *o, uint64_t cie_off, int *err);

/* pc's rule from the FDEs of stride k of o's table, read in one piece:
 * from the stride's first FDE to the next stride's (the last stride: up
 * to WIN_MAX bytes), when ld wrote them in the table's order.  The FDE
 * whose range holds pc, if its CIE encodes addresses as ld does (pc-relative
 * 4 bytes: the one encoding the scan assumes); NOT_FOUND when none does
 * (or the window is out of order, larger than WIN_MAX, or cut short): the
 * table's stretch is read then. */
static int window_rule(struct eh_obj *o, size_t k, size_t strides, uintptr_t pc, uint64_t *rule)
{
	int64_t lo = (int64_t)o->hdr_off + o->sparse[2 * k + 1];
	int64_t hi = k + 1 < strides ? (int64_t)o->hdr_off + o->sparse[2 * k + 3]
				     : lo + (int64_t)WIN_MAX;
	if (hi > (int64_t)o->seg_end)
		hi = (int64_t)o->seg_end;
	if (lo < (int64_t)o->seg_off || hi <= lo || hi - lo > (int64_t)WIN_MAX)
		return NOT_FOUND;
	if (hot.win_obj != o || hot.win_k != k) {
		buf_forget();
		if (file_read(o, kept.buf, (size_t)(hi - lo), (uint64_t)lo) != hi - lo)
			return READ_FAILED;
		hot.win_obj = o;
		hot.win_k = k;
		hot.win_n = (uint64_t)(hi - lo);
	}
	uintptr_t base = o->seg_addr + (uint64_t)lo - o->seg_off; /* kept.buf[0]'s address */
	for (uint64_t p = 0; p + 16 <= hot.win_n;) {
		uint32_t len = (uint32_t)load32(kept.buf + p), id = (uint32_t)load32(kept.buf + p + 4);
		if (!len || len == 0xffffffffu || len > hot.win_n - p - 4)
			break; /* the end, 64-bit DWARF, or cut short */
		uintptr_t start = base + p + 8 + (uintptr_t)(intptr_t)load32(kept.buf + p + 8);
		if (id && len >= 12 && pc - start < (uint32_t)load32(kept.buf + p + 12)) {
			uint64_t fde_off = (uint64_t)lo + p;
			if (id > fde_off + 4 - o->seg_off)
				return NOT_FOUND;
			uint64_t cie_off = fde_off + 4 - id;
			int r;
			const struct eh_cie *c = cie_load(o, cie_off, &r);
			if (!c)
				return r;
			if (c->enc != 0x1b)
				return NOT_FOUND;
			return cie_rule(o, cie_off, kept.buf + p, (size_t)len + 4, fde_off, pc, rule);
		}
		p += (uint64_t)len + 4;
	}
	return NOT_FOUND;
}

/* pc's rule from o's file: at_eh_rule's results, AT_EH_MEMORY, or
 * READ_FAILED. */
static int lookup(struct eh_obj *o, uintptr_t pc, uint64_t *rule)
{
	int64_t rel = (int64_t)(pc - (uintptr_t)o->hdr);
	size_t strides = (size_t)((o->count + AT_EH_STRIDE - 1) / AT_EH_STRIDE), lo = 0, hi = strides;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (o->sparse[2 * mid] <= rel)
			lo = mid;
		else
			hi = mid;
	}
	if (rel < o->sparse[0])
		return AT_EH_STOP; /* before the first function: no FDE */
	int w = window_rule(o, lo, strides, pc, rule);
	if (w != NOT_FOUND)
		return w;
	uint64_t first = (uint64_t)lo * AT_EH_STRIDE;
	uint64_t n = o->count - first < AT_EH_STRIDE ? o->count - first : AT_EH_STRIDE;
	if (hot.tab_obj != o || hot.tab_first != first || hot.tab_n != n) {
		hot.tab_obj = hot.win_obj = NULL; /* the FDE after it stays */
		if (file_read(o, kept.buf, n * 8, o->tab_off + first * 8) != (ssize_t)(n * 8))
			return READ_FAILED;
		hot.tab_obj = o;
		hot.tab_first = first;
		hot.tab_n = n;
	}
	/* No test of rel against kept.buf's first start is needed: kept.buf's first
	 * entry is entry `first` = lo * AT_EH_STRIDE, read from the file
	 * offset index_table read o->sparse[2 * lo] from (the stretch is used
	 * only while hot says kept.buf holds it; every other use of kept.buf forgets
	 * it), so its start is sparse[2 * lo], which is <= rel: by the test
	 * above when lo = 0, by the search when lo > 0 (lo only takes a mid
	 * whose start is <= rel).  at_eh_search thus finds the last entry
	 * starting at or before rel.  Were the file rewritten in place since
	 * (the same inode), the FDE read is checked all the same: a pc outside
	 * its range is a stop (at_eh_fde_rule). */
	size_t i = at_eh_search(kept.buf, n, rel);
	int64_t fde_off = (int64_t)o->hdr_off + load32(kept.buf + 8 * i + 4);
	if (fde_off < (int64_t)o->seg_off || (uint64_t)fde_off + 8 > o->seg_end)
		return AT_EH_MEMORY; /* outside the segment: the mapping's reader says what */
	uint64_t want = o->seg_end - (uint64_t)fde_off < FDE_MAX ? o->seg_end - (uint64_t)fde_off
								  : FDE_MAX;
	uint8_t *fde = kept.buf + 512;
	ssize_t got = hot.fde_got;
	if (hot.fde_obj != o || hot.fde_at != (uint64_t)fde_off) {
		hot.fde_obj = hot.win_obj = NULL;
		if (file_read(o, fde, 8, (uint64_t)fde_off) != 8)
			return READ_FAILED;
		uint32_t n = (uint32_t)load32(fde); /* the FDE's bytes, not FDE_MAX */
		if (n != 0xffffffffu && n >= 8 && (uint64_t)n + 4 < want)
			want = (uint64_t)n + 4;
		got = file_read(o, fde, want, (uint64_t)fde_off);
		if (got < 8)
			return READ_FAILED;
		hot.fde_obj = o;
		hot.fde_at = (uint64_t)fde_off;
		hot.fde_got = got;
	}
	uint32_t len = (uint32_t)load32(fde), cie_id = (uint32_t)load32(fde + 4);
	if (!cie_id || cie_id > (uint64_t)fde_off + 4 - o->seg_off)
		return AT_EH_MEMORY;
	uint64_t cie_off = (uint64_t)fde_off + 4 - cie_id;
	uint8_t *big = NULL; /* an FDE longer than kept.buf: a mapping of its own, for this miss */
	size_t big_n = (size_t)len + 4;
	if (len != 0xffffffffu && len >= 8 && big_n > (uint64_t)got) {
		if (big_n > o->seg_end - (uint64_t)fde_off || big_n > AT_EH_FDE_BIG)
			return AT_EH_MEMORY; /* past the segment: the mapping's reader says what */
		big = mmap(NULL, big_n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (big == MAP_FAILED)
			return AT_EH_MEMORY;
		if (read_at(o->fd, big, big_n, (uint64_t)fde_off) != (ssize_t)big_n) {
			munmap(big, big_n);
			return READ_FAILED;
		}
		fde = big;
		got = (ssize_t)big_n;
	}
	int r = cie_rule(o, cie_off, fde, (size_t)got, (uint64_t)fde_off, pc, rule);
	if (big)
		munmap(big, big_n);
	return r;
}

/* The CIE at file offset cie_off (cached, or read now), or NULL with
 * *err READ_FAILED or AT_EH_MEMORY (longer than CIE_MAX). */
static const struct eh_cie *cie_load(struct eh_obj *o, uint64_t cie_off, int *err)
{
	for (unsigned int i = 0; i < 2; i++)
		if (o->cie[i].off == cie_off)
			return &o->cie[i];
	struct eh_cie *c = &o->cie[o->cie_next];
	o->cie_next ^= 1;
	uint64_t cn = o->seg_end - cie_off < CIE_MAX ? o->seg_end - cie_off : CIE_MAX;
	uint8_t b[CIE_MAX]; /* read only while it is parsed and run */
	c->off = 0;
	*err = READ_FAILED;
	if (cn < 4 || file_read(o, b, cn, cie_off) != (ssize_t)cn)
		return NULL;
	uint32_t clen = (uint32_t)load32(b);
	*err = AT_EH_MEMORY;
	if (clen != 0xffffffffu && (uint64_t)clen + 4 > cn)
		return NULL;
	c->off = cie_off;
	at_eh_cie_read(b, cn, o->seg_addr + (cie_off - o->seg_off), &c->read);
	c->enc = c->read.parsed ? -1 : c->read.cie.fde_enc;
	return c;
}

/* pc's rule from the FDE at fde[0 .. n) (file offset fde_off) and the CIE
 * at file offset cie_off (o's cached one, or read now). */
static int cie_rule(struct eh_obj *o, uint64_t cie_off, const uint8_t *fde, size_t n,
		    uint64_t fde_off, uintptr_t pc, uint64_t *rule)
{
	int r;
	const struct eh_cie *c = cie_load(o, cie_off, &r);
	if (!c)
		return r;
	return at_eh_fde_rule_cie(fde, n, o->seg_addr + (fde_off - o->seg_off), &c->read,
				  o->seg_addr + (cie_off - o->seg_off), pc, rule);
}

static int file_rule(const struct dl_phdr_info *info, const uint8_t *hdr, uintptr_t pc,
		     uint64_t *rule)
{
	struct eh_obj *o = objs;
	while (o && o->hdr != hdr)
		o = o->next;
	if (!o) {
		if (nobjs == AT_EH_OBJECTS ||
		    !(o = (struct eh_obj *)(void *)arena_take(sizeof(*o) / sizeof(int32_t))))
			return AT_EH_MEMORY;
		object_make(o, info, hdr);
		o->next = objs;
		objs = o;
		nobjs++;
	}
	if (o->fd < 0)
		return AT_EH_MEMORY;
	int r = lookup(o, pc, rule);
	if (r == 0 || r == AT_EH_MEMORY || still_ours(o))
		return r == READ_FAILED ? AT_EH_MEMORY : r;
	/* the program closed or replaced our descriptor: open the file again */
	buf_forget();
	blocks_forget();
	struct stat st;
	int fd = open_object(o->path, info, &st);
	o->fd = fd;
	o->cie[0].off = o->cie[1].off = 0;
	if (fd < 0 || st.st_dev != o->dev || st.st_ino != o->ino) {
		if (fd >= 0)
			close(fd);
		o->fd = -1;
		return AT_EH_MEMORY;
	}
	r = lookup(o, pc, rule);
	return r == READ_FAILED ? AT_EH_MEMORY : r;
}

static void forget_now(void);

/* hot.busy taken: an unload asked for done first */
static int take(void)
{
	if (__atomic_exchange_n(&hot.busy, 1, __ATOMIC_ACQUIRE))
		return 0;
	if (AT_LOAD_RELAXED(&hot.forget_pending))
		forget_now();
	return 1;
}

int at_eh_file_rule(const struct dl_phdr_info *info, const uint8_t *hdr, uintptr_t pc,
		    uint64_t *rule)
{
	if (!take())
		return AT_EH_MEMORY;
	int r = file_rule(info, hdr, pc, rule);
	__atomic_store_n(&hot.busy, 0, __ATOMIC_RELEASE);
	return r;
}

void at_eh_file_forget(void)
{
	AT_STORE(&hot.forget_pending, 1);
	if (take())
		__atomic_store_n(&hot.busy, 0, __ATOMIC_RELEASE);
}

static void forget_now(void)
{
	AT_STORE_RELAXED(&hot.forget_pending, 0);
	buf_forget();
	blocks_forget();
	for (const struct eh_obj *o = objs; o; o = o->next)
		if (still_ours(o))
			close(o->fd);
	objs = NULL;
	nobjs = 0;
	arena_used = 0;
}

unsigned int at_eh_file_objects(void)
{
	unsigned int n = 0;
	for (const struct eh_obj *o = objs; o; o = o->next)
		n += o->fd >= 0;
	return n;
}

unsigned long at_eh_file_reads(void)
{
	return kept.reads;
}
