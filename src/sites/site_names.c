/*
 * Frames, objects, symbols and wrappers (names, layout and invariants:
 * site_names.h).
 */
#define _GNU_SOURCE /* dladdr, _dl_find_object */
#include "sites/site_names.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/message.h"
#include "core/read_at.h"
#include "core/tag_registry.h"
#include "sites/dynsym_index.h"
#include "sites/runtime_index.h"
#include "sites/symtab.h"
#include "sites/unwind.h"
#include "sites/wrappers.h"

#define AT_NAMES_FD_MIN 512

/* ---- strings: loops of our own, not libc's string functions ---------- */
/* libc's vector string functions lie in text pages that a small program
 * may never touch: each first call there maps a 64 KiB window of libc's
 * text (fault-around) into the process for naming alone. */

static size_t name_len(const char *s)
{
	const char *p = s;
	while (*p)
		p++;
	return (size_t)(p - s);
}

static int name_eq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

struct at_frame *at_named_frames;

/* ---- pool: bump allocation in mmap'd blocks -------------------------- */

/* The cursor: one word, the current block's address (page-aligned, mmap's)
 * shifted down by its page bits in the high POOL_BASE_BITS, the bytes
 * handed out from it in the low POOL_OFF_BITS (at most POOL_BLOCK: a
 * block is handed out whole, from its first byte; a request that does not
 * fit in what is left maps the next block).  Taken by compare-and-swap,
 * so a thread never hands out bytes of a block another thread has just
 * replaced.  The word is in the fork page (core/compiler.h), not in the
 * block's first page: a forked child's first new chain writes the fork
 * page anyway, and its records go to the block's last pages, so it no
 * longer copies the first page (where the parent's first records lie)
 * for the cursor alone. */
#define POOL_BLOCK (1u << 20)
#define POOL_OFF_BITS 24
#define POOL_BASE_BITS (64 - POOL_OFF_BITS)
_Static_assert(POOL_BLOCK < 1u << POOL_OFF_BITS, "an offset of a whole block fits");

/* In one of the fork page's 64-byte slots: the pool's cursor, and (registry
 * lock) a forked process's own frame table and whether it puts new frames
 * there (site_names.h, "A forked process's frames"). */
struct frame_table;
AT_CHAIN_HOT static struct {
	uint64_t pool_word;
	struct frame_table *child_frames;
	unsigned char frames_forked;
} hot;
static size_t pool_bytes, table_bytes;

static char *pool_base(uint64_t w)
{
	return (char *)(uintptr_t)((w >> POOL_OFF_BITS) << 12);
}

void *at_sites_pool_alloc(size_t n)
{
	n = (n + 7) & ~(size_t)7;
	if (n > POOL_BLOCK)
		return NULL;
	uint64_t w = AT_LOAD(&hot.pool_word);
	for (;;) {
		uint64_t off = w & (((uint64_t)1 << POOL_OFF_BITS) - 1);
		if (w && off + n <= POOL_BLOCK) {
			if (__atomic_compare_exchange_n(&hot.pool_word, &w, w + n, 0, __ATOMIC_ACQ_REL,
							 __ATOMIC_ACQUIRE))
				return pool_base(w) + off;
			continue;
		}
		char *nb = mmap(NULL, POOL_BLOCK, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (nb == MAP_FAILED)
			return NULL;
		uint64_t nw = ((uint64_t)(uintptr_t)nb >> 12) << POOL_OFF_BITS | n;
		if ((uintptr_t)nb >> 12 >> POOL_BASE_BITS) { /* beyond the word's reach */
			munmap(nb, POOL_BLOCK);
			return NULL;
		}
		if (__atomic_compare_exchange_n(&hot.pool_word, &w, nw, 0, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE)) {
			__atomic_fetch_add(&pool_bytes, POOL_BLOCK, __ATOMIC_RELAXED);
			return nb;
		}
		munmap(nb, POOL_BLOCK); /* another thread moved the cursor: again */
	}
}

static char *pool_strdup(const char *s)
{
	size_t n = name_len(s);
	char *c = at_sites_pool_alloc(n + 1);
	if (c)
		memcpy(c, s, n + 1);
	return c;
}

/* ---- objects --------------------------------------------------------- */

struct at_object {
	struct at_object *next;
	const void *lm;
	uintptr_t l_addr;
	const char *path;
	unsigned char layer;
	unsigned char dyn_state; /* a layer object's dyn: DYN_NONE ... DYN_FAILED */
	unsigned int dl_names;   /* its names asked for before dyn was built */
	const ElfW(Dyn) *ld;     /* its dynamic section */
	uintptr_t start, end;    /* and where it is mapped */
	struct at_symtab sym; /* .symtab, else .dynsym, read from the file */
	struct at_dynsym dyn; /* a layer object's mapped .dynsym, by address */
	const char *strs;     /* its string table as loaded (NULL: read from fd) */
	int fd;               /* the file, kept open for its names (-1: none) */
	dev_t dev;
	ino_t ino;
};

static struct at_object *objects; /* registry lock */

enum { DYN_NONE, DYN_BUILDING, DYN_OK, DYN_FAILED };

static const char *const layer_names[] = {
	"libc.so", "libstdc++.so", "libgcc_s.so", "libc++.so", "libc++abi.so",
	"ld-linux", "ld64.so", "liballoctag",
};

static int layer_object(const char *path)
{
	const char *base = path;
	for (const char *p = path; *p; p++)
		if (*p == '/')
			base = p + 1;
	for (size_t i = 0; i < AT_ARRAY_SIZE(layer_names); i++) {
		const char *a = base, *b = layer_names[i];
		while (*b && *a == *b)
			a++, b++;
		if (!*b)
			return 1;
	}
	return 0;
}

/* A string table read in place at most this long: one fault-around
 * window (the kernel's default fault_around_bytes), so that a name read
 * maps at most the pages the loader's own lookups have mapped anyway
 * (bash's 40 KiB, python3's 38).  A larger one is read from the file: the
 * loader reads only the names of its lookups (cc1's 1287 KiB .dynstr: 584
 * KiB resident under ALLOCTAG=never), and each name read in place maps a
 * 64 KiB window of it (cc1's 1424 frame names: all of it, +704 KiB). */
#define AT_NAMES_MAPPED_MAX AT_SYMTAB_MAPPED_MAX

/* o's dynamic entry `tag` (0: none); an address the loader did not
 * relocate (outside the mapping) made a run-time one when `addr`. */
static uint64_t dyn_entry(const struct at_object *o, ElfW(Sxword) tag, int addr)
{
	uint64_t v = 0;
	for (const ElfW(Dyn) *d = o->ld; d->d_tag != DT_NULL; d++)
		if (d->d_tag == tag)
			v = d->d_un.d_val;
	if (addr && v && !(v >= o->start && v < o->end))
		v += o->l_addr;
	return v;
}

/* Whether the string table of `addr` (file address) and `size` is the
 * loader's (DT_STRTAB at its run-time address, DT_STRSZ its size: bytes
 * never relocated), at most AT_NAMES_MAPPED_MAX long, inside o's mapping. */
static int strs_loaded(const struct at_object *o, uint64_t addr, uint64_t size)
{
	if (!addr || !o->ld)
		return 0;
	uintptr_t at = dyn_entry(o, DT_STRTAB, 1);
	return at && at == o->l_addr + addr && size == dyn_entry(o, DT_STRSZ, 0) &&
	       size <= AT_NAMES_MAPPED_MAX && at >= o->start && o->end - at >= size;
}

/* The string table of o's index as the loader mapped it: when the index
 * is the file's .dynsym and its strings are the loader's (strs_loaded),
 * else NULL. */
static const char *loaded_strs(const struct at_object *o)
{
	if (!strs_loaded(o, o->sym.straddr, o->sym.strsz))
		return NULL;
	return (const char *)(o->l_addr + o->sym.straddr);
}

/* objects whose symbols were indexed where the loader mapped them (tests) */
static unsigned long syms_in_place;

/* at_syms_mapped_fn for object ctx: its .dynsym where the loader mapped it
 * (DT_SYMTAB at the section's address, the table inside the mapping, never
 * relocated) when its strings are the loader's too, else NULL. */
static const Elf64_Sym *loaded_syms(void *ctx, const Elf64_Shdr *sym, const Elf64_Shdr *str)
{
	const struct at_object *o = ctx;
	if (!strs_loaded(o, (str->sh_flags & SHF_ALLOC) ? str->sh_addr : 0, str->sh_size))
		return NULL;
	uintptr_t at = dyn_entry(o, DT_SYMTAB, 1);
	if (!at || at != o->l_addr + sym->sh_addr || at % 8 || at < o->start ||
	    o->end - at < sym->sh_size)
		return NULL;
	syms_in_place++;
	return (const Elf64_Sym *)at;
}

unsigned long at_sites_syms_in_place(void)
{
	return syms_in_place;
}

/* Index path's .symtab (else its .dynsym) into o, keeping the file open
 * for the names unless they are read from the loaded string table
 * (nothing if it has neither). */
static void load_symtab(struct at_object *o, const char *path)
{
	o->fd = -1;
	o->strs = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat st;
	int rc = fstat(fd, &st) == 0 && S_ISREG(st.st_mode)
			 ? at_symtab_read_mapped(at_read_fd, &fd, (uint64_t)st.st_size, &o->sym,
						 loaded_syms, o)
			 : 1;
	if (rc == 0 && at_symtab_size(&o->sym) <= AT_SITES_SMALL) {
		/* a small index in the pool, beside the records, not in a page
		 * of its own (the pool is never given back, nor is an index) */
		size_t n = at_symtab_size(&o->sym);
		void *v = at_sites_pool_alloc(n);
		if (v) {
			memcpy(v, o->sym.funcs, n);
			munmap(o->sym.funcs, o->sym.bytes);
			o->sym.funcs = v;
			o->sym.bytes = 0; /* counted in the pool's */
		}
	}
	if (rc == 0 && (o->strs = loaded_strs(o))) {
		__atomic_fetch_add(&table_bytes, o->sym.bytes, __ATOMIC_RELAXED);
		close(fd);
		return; /* index for the process's lifetime, names from the mapping */
	}
	if (rc == 0) {
		__atomic_fetch_add(&table_bytes, o->sym.bytes, __ATOMIC_RELAXED);
		int hi = fcntl(fd, F_DUPFD_CLOEXEC, AT_NAMES_FD_MIN);
		if (hi >= 0) { /* away from the numbers a program expects open() to give */
			close(fd);
			fd = hi;
		}
		o->fd = fd;
		o->dev = st.st_dev;
		o->ino = st.st_ino;
		return; /* index and descriptor stay for the process's lifetime */
	}
	if (rc == AT_SYMTAB_CORRUPT)
		at_msg("%s: corrupt symbol table; its frames are named from its dynamic symbols",
		       path);
	close(fd);
}

/* o's descriptor, checked to be still its file (a program may close or
 * replace descriptors it did not open): opened again when not; -1 when
 * the file is gone or another. */
static int object_fd(struct at_object *o)
{
	struct stat st;
	int fd = AT_LOAD(&o->fd);
	if (fd < 0 || (!fstat(fd, &st) && st.st_dev == o->dev && st.st_ino == o->ino))
		return fd;
	int nfd = open(o->path, O_RDONLY | O_CLOEXEC);
	if (nfd >= 0 && (fstat(nfd, &st) || st.st_dev != o->dev || st.st_ino != o->ino)) {
		close(nfd);
		nfd = -1;
	}
	if (!__atomic_compare_exchange_n(&o->fd, &fd, nfd, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		if (nfd >= 0)
			close(nfd); /* another thread's is in place */
		return fd;
	}
	return nfd;
}

/* The name of o's function fi in buf (size bytes), or NULL: from the
 * loaded string table (the object holds the frame being named: mapped),
 * else from the file. */
static const char *object_name(struct at_object *o, size_t fi, char *buf, size_t size)
{
	if (o->strs)
		return at_symtab_name_mapped(&o->sym, o->strs, fi, buf, size);
	int fd = object_fd(o);
	return fd < 0 ? NULL : at_symtab_name(&o->sym, at_read_fd, &fd, fi, buf, size);
}

/* The function of o holding file address off (at_symtab_find: its
 * symbols read from the file when its entries are references) and its
 * name in buf (size bytes) in *sym, or NULL (unreadable). */
static long object_find(struct at_object *o, uintptr_t off, char *buf, size_t size,
			const char **sym)
{
	struct at_fsym f;
	int fd = o->strs ? -1 : object_fd(o);
	long fi = at_symtab_find(&o->sym, at_read_fd, &fd, off, &f);
	if (fi >= 0)
		*sym = o->strs ? at_symtab_fname_mapped(&o->sym, o->strs, &f, buf, size)
			       : fd < 0 ? NULL : at_symtab_fname(&o->sym, at_read_fd, &fd, &f, buf, size);
	return fi;
}

/* The object holding pc (*fo): from the unwinder's objects never unloaded
 * (no loader text run), else _dl_find_object's; 0, or -1 when none. */
static int find_object(uintptr_t pc, struct dl_find_object *fo)
{
	return at_unwind_object(pc, fo) && _dl_find_object((void *)pc, fo) ? -1 : 0;
}

static const char *exe_path; /* the main executable's path, once read */

/* buf (size bytes) is the caller's scratch: the path is read into it and
 * kept in the pool.  A path longer than buf is read again into a block of
 * the pool of the kernel's limit (once a process). */
static const char *main_exe_path(char *buf, size_t size)
{
	const char *p = AT_LOAD(&exe_path);
	if (p)
		return p;
	ssize_t n = readlink("/proc/self/exe", buf, size - 1);
	char *copy;
	if (n <= 0)
		return NULL;
	if ((size_t)n < size - 1) {
		buf[n] = '\0';
		copy = pool_strdup(buf);
	} else { /* perhaps longer than buf */
		copy = at_sites_pool_alloc(4096);
		n = copy ? readlink("/proc/self/exe", copy, 4095) : -1;
		if (n <= 0)
			return NULL;
		copy[n] = '\0';
	}
	if (!copy)
		return NULL;
	const char *none = NULL;
	if (!__atomic_compare_exchange_n(&exe_path, &none, copy, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return none;
	return copy;
}

static struct at_object *object_new(const struct link_map *lm, const char *path,
				    uintptr_t start, uintptr_t end);

/* The object record of link map lm (path as named, mapped at
 * [start, end)), created on first use. */
static struct at_object *object_get(const struct link_map *lm, const char *path,
				    uintptr_t start, uintptr_t end)
{
	if (pthread_mutex_lock(&at_registry_lock))
		return NULL;
	struct at_object *o;
	for (o = objects; o; o = o->next)
		if (o->lm == lm && o->l_addr == lm->l_addr && name_eq(o->path, path))
			break;
	pthread_mutex_unlock(&at_registry_lock);
	return o ? o : object_new(lm, path, start, end);
}

/* object_get's record made (not inlined: its reading of the file stays
 * off frame_make's stack). */
static AT_NOINLINE struct at_object *object_new(const struct link_map *lm, const char *path,
						uintptr_t start, uintptr_t end)
{
	struct at_object *n = at_sites_pool_alloc(sizeof(*n));
	if (!n)
		return NULL;
	n->lm = lm;
	n->l_addr = lm->l_addr;
	n->path = pool_strdup(path);
	if (!n->path)
		return NULL;
	n->layer = (unsigned char)layer_object(path);
	n->fd = -1;
	n->ld = lm->l_ld;
	n->start = start;
	n->end = end;
	if (!n->layer)
		load_symtab(n, path); /* layer objects are named as dladdr names them */
	if (pthread_mutex_lock(&at_registry_lock))
		return n; /* used once, not listed */
	n->next = objects;
	objects = n;
	pthread_mutex_unlock(&at_registry_lock);
	return n;
}

/* ---- frames ---------------------------------------------------------- */

struct frame_table {
	uint32_t shift, count;
	struct at_frame *slots[];
};

static struct frame_table *frames; /* registry lock; a forked process's own: hot */

static inline uint32_t frame_slot(const struct frame_table *t, uintptr_t addr)
{
	return (uint32_t)(((uint64_t)addr * 0x9E3779B97F4A7C15ull) >> (64 - t->shift));
}

static struct at_frame *frame_find(struct frame_table *t, uintptr_t addr, uint32_t *slot)
{
	uint32_t mask = (1u << t->shift) - 1, i = frame_slot(t, addr);
	for (;; i = (i + 1) & mask) {
		struct at_frame *f = t->slots[i];
		if (!f || f->addr == addr) {
			*slot = i;
			return f;
		}
	}
}

static struct frame_table *frame_table_new(uint32_t shift)
{
	size_t bytes = sizeof(struct frame_table) + ((size_t)1 << shift) * sizeof(struct at_frame *);
	struct frame_table *t;
	if (bytes <= AT_SITES_SMALL) { /* the first: in the pool, never given back */
		if (!(t = at_sites_pool_alloc(bytes)))
			return NULL;
	} else {
		t = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (t == MAP_FAILED)
			return NULL;
		__atomic_fetch_add(&table_bytes, bytes, __ATOMIC_RELAXED);
	}
	t->shift = shift;
	return t;
}

/* Insert f into *tp, made with 2^first slots when NULL (registry lock
 * held); 0 or -ENOMEM. */
static int table_insert(struct frame_table **tp, uint32_t first, struct at_frame *f)
{
	uint32_t i;
	struct frame_table *t = *tp;
	if (!t && !(t = *tp = frame_table_new(first))) /* header and slots: in the pool */
		return -ENOMEM;
	if ((t->count + 1) * 2 > (1u << t->shift)) {
		struct frame_table *nt = frame_table_new(t->shift + 1);
		if (!nt)
			return -ENOMEM;
		for (uint32_t k = 0; k < (1u << t->shift); k++)
			if (t->slots[k]) {
				frame_find(nt, t->slots[k]->addr, &i);
				nt->slots[i] = t->slots[k];
			}
		nt->count = t->count;
		size_t old = sizeof(struct frame_table) + ((size_t)1 << t->shift) * sizeof(void *);
		if (old > AT_SITES_SMALL) { /* (a pool one stays) */
			munmap(t, old); /* only ever read under the lock */
			__atomic_fetch_sub(&table_bytes, old, __ATOMIC_RELAXED);
		}
		t = *tp = nt;
	}
	frame_find(t, f->addr, &i);
	t->slots[i] = f;
	t->count++;
	return 0;
}

/* The frame of addr met before, or NULL (registry lock held). */
static struct at_frame *frame_known(uintptr_t addr)
{
	uint32_t i;
	struct at_frame *f = frames ? frame_find(frames, addr, &i) : NULL;
	if (!f && hot.child_frames)
		f = frame_find(hot.child_frames, addr, &i);
	return f;
}

/* Insert f (registry lock held): in a forked process, in its own table;
 * 0 or -ENOMEM. */
static int frame_insert(struct at_frame *f)
{
	return hot.frames_forked ? table_insert(&hot.child_frames, AT_FRAMES_CHILD_SHIFT, f)
			     : table_insert(&frames, 8, f);
}

AT_FORK_TEXT void at_sites_forked(void)
{
	hot.frames_forked = frames != NULL;
	at_registry_runtime_forked();
	at_unwind_forked();
}

const void *at_sites_frame_table(size_t *bytes)
{
	*bytes = frames ? sizeof(*frames) + ((size_t)1 << frames->shift) * sizeof(void *) : 0;
	return frames;
}

/* Whether a function of o starting where function i does (an alias;
 * i's own name sym) is a wrapper.  Not inlined: its buffer is on the stack only while it runs,
 * not under the file reads frame_make's other calls make (every page of
 * stack a chain's creation reaches stays resident). */
static AT_NOINLINE int alias_wrapper(struct at_object *o, size_t i, const char *sym)
{
	const struct at_symtab *t = &o->sym;
	char name[1040];
	size_t k = i;
	while (k > 0 && at_symtab_start(t, k - 1) == at_symtab_start(t, i))
		k--;
	for (; k < t->nfuncs && at_symtab_start(t, k) == at_symtab_start(t, i); k++)
		if (at_is_wrapper(k == i ? sym : object_name(o, k, name, sizeof(name))))
			return 1;
	return 0;
}

/* s appended to buf[0 .. at) (size bytes, the last kept for a NUL): the
 * new length, the string cut at the end. */
static size_t put_str(char *buf, size_t size, size_t at, const char *s)
{
	while (*s && at < size - 1)
		buf[at++] = *s++;
	return at;
}

/* The length of s, at most max (no libc call: see frame_make). */
static size_t str_len_max(const char *s, size_t max)
{
	size_t n = 0;
	while (n < max && s[n])
		n++;
	return n;
}

/* The digits of v in hex, no leading zeros. */
static size_t hex_len(uintptr_t v)
{
	size_t n = 1;
	while (v >>= 4)
		n++;
	return n;
}

/* v in lower-case hex, no leading zeros, appended as put_str does. */
static size_t put_hex(char *buf, size_t size, size_t at, uintptr_t v)
{
	char d[16];
	unsigned int n = 0;
	do
		d[n++] = "0123456789abcdef"[v & 15];
	while (v >>= 4);
	while (n && at < size - 1)
		buf[at++] = d[--n];
	return at;
}

/* A frame's names are cut to these lengths. */
#define FILE_MAX 4199
#define FUNC_MAX 1039

/* The length of a function's name: sym's, else "0x<off>"'s. */
static size_t func_len(const char *sym, uintptr_t off)
{
	size_t ns = sym ? str_len_max(sym, FUNC_MAX) : 2 + hex_len(off);
	return ns > FUNC_MAX ? FUNC_MAX : ns;
}

/* That name in fn[0 .. ns], ns its func_len. */
static void func_put(char *fn, size_t ns, const char *sym, uintptr_t off)
{
	if (sym)
		put_str(fn, ns + 1, 0, sym);
	else
		put_hex(fn, ns + 1, put_str(fn, ns + 1, 0, "0x"), off);
	fn[ns] = '\0';
}

/* The name dladdr gives addr in layer object o: dladdr's for its first
 * AT_LAYER_DLADDR names, then its dynamic-symbol index's (built by the
 * thread that passes the count; the others meanwhile ask dladdr). */
static const char *layer_sym(struct at_object *o, uintptr_t addr)
{
	unsigned char st = AT_LOAD(&o->dyn_state);
	if (st == DYN_NONE &&
	    __atomic_add_fetch(&o->dl_names, 1, __ATOMIC_RELAXED) > AT_LAYER_DLADDR &&
	    __atomic_compare_exchange_n(&o->dyn_state, &st, DYN_BUILDING, 0, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE)) {
		st = at_dynsym_index(&o->dyn, o->l_addr, o->ld, o->start, o->end) ? DYN_FAILED
										   : DYN_OK;
		AT_STORE(&o->dyn_state, st);
	}
	if (st == DYN_OK)
		return at_dynsym_find(&o->dyn, o->l_addr, addr);
	Dl_info info;
	return dladdr((void *)addr, &info) ? info.dli_sname : NULL;
}

int at_frame_name(struct at_frame *f)
{
	if (AT_LOAD(&f->tag.function))
		return 0;
	struct at_object *o = f->obj;
	struct dl_find_object fo;
	const char *sym = NULL;
	uintptr_t off = f->addr - o->l_addr;
	/* still the object the frame was made in (else: unloaded, "0x<off>") */
	if (!find_object(f->addr - 1, &fo) &&
	    fo.dlfo_link_map == o->lm &&
	    fo.dlfo_link_map->l_addr == o->l_addr)
		sym = layer_sym(o, f->addr);
	size_t ns = func_len(sym, off);
	char *fn = at_sites_pool_alloc(ns + 1);
	if (!fn)
		return -ENOMEM;
	func_put(fn, ns, sym, off);
	const char *none = NULL; /* a racing thread's name is the same */
	__atomic_compare_exchange_n(&f->tag.function, &none, fn, 0, __ATOMIC_ACQ_REL,
				    __ATOMIC_ACQUIRE);
	return 0;
}

/* A new record naming addr (no lock held).  The object from the
 * unwinder's objects never unloaded, else _dl_find_object (no lock, no
 * symbol search); the function from its index
 * (.symtab or .dynsym), else dladdr's symbol (a file that cannot be read);
 * a layer object's frame is left for at_frame_name. */
static struct at_frame *frame_make(uintptr_t addr)
{
	struct dl_find_object fo;
	struct link_map *lm = NULL;
	struct at_object *later = NULL;
	const char *obj = "?", *sym = NULL;
	uintptr_t off = addr;
	unsigned char layer = 0;
	char name[1040]; /* the function's name; first the executable's path */

	if (!find_object(addr - 1, &fo) &&
	    (lm = fo.dlfo_link_map)) {
		off = addr - (uintptr_t)lm->l_addr;
		obj = lm->l_name && lm->l_name[0] ? lm->l_name : main_exe_path(name, sizeof(name));
		if (!obj)
			obj = "?";
		struct at_object *o = object_get(lm, obj, (uintptr_t)fo.dlfo_map_start,
						 (uintptr_t)fo.dlfo_map_end);
		long fi = -1;
		if (o && o->layer) {
			later = o; /* named when a chain is named after it */
			layer = 1;
		} else if (o && o->sym.nfuncs && /* the call, not the next instruction */
			   (fi = object_find(o, off - 1, name, sizeof(name), &sym)) >= 0 && sym) {
			layer = (unsigned char)alias_wrapper(o, (size_t)fi, sym); /* any of its names */
		} else if (!o || !o->sym.nfuncs || fi >= 0 || fi == AT_SYMTAB_UNREAD) {
			/* no index, or its symbol or name unreadable: dladdr searches .dynsym */
			Dl_info info;
			if (dladdr((void *)addr, &info))
				sym = info.dli_sname;
			layer = (unsigned char)at_is_wrapper(sym);
		}
	}
	/* formatted here, not by snprintf: a forked child naming its first
	 * frame would page in libc's printf code (a fault per page); straight
	 * into the record, its lengths counted first: buffers on the stack
	 * (5 KiB) made a child's chain touch one more stack page */
	size_t nf = str_len_max(obj, FILE_MAX) + 3 + hex_len(off);
	if (nf > FILE_MAX)
		nf = FILE_MAX;
	size_t ns = later ? 0 : func_len(sym, off);
	struct at_frame *f = at_sites_pool_alloc(sizeof(*f) + nf + 1 + (later ? 0 : ns + 1));
	if (!f)
		return NULL;
	char *s = (char *)(f + 1);
	put_hex(s, nf + 1, put_str(s, nf + 1, put_str(s, nf + 1, 0, obj), "+0x"), off);
	s[nf] = '\0';
	f->tag.filename = s;
	if (!later) {
		func_put(s + nf + 1, ns, sym, off);
		f->tag.function = s + nf + 1;
	}
	f->obj = later;
	f->addr = addr;
	f->layer = layer;
	return f;
}

struct at_frame *at_frame_lookup(uintptr_t addr, int *err)
{
	struct at_frame *f = NULL;
	*err = -EDEADLK;
	if (pthread_mutex_lock(&at_registry_lock))
		return NULL;
	f = frame_known(addr);
	pthread_mutex_unlock(&at_registry_lock);
	if (f)
		return f;
	struct at_frame *n = frame_make(addr);
	*err = -ENOMEM;
	if (!n)
		return NULL;
	if (pthread_mutex_lock(&at_registry_lock)) {
		*err = -EDEADLK;
		return NULL;
	}
	f = frame_known(addr);
	if (!f && !frame_insert(n))
		f = n;
	pthread_mutex_unlock(&at_registry_lock);
	return f;
}

struct at_frame *at_frame_get(uintptr_t addr, int *err)
{
	struct at_frame *f = at_frame_lookup(addr, err);
	if (f && at_frame_name(f)) {
		*err = -ENOMEM;
		return NULL;
	}
	return f;
}

size_t at_sites_memory(void)
{
	/* the blocks before the current one whole, the current one up to the
	   page its cursor is in: the rest of it is mapped, never touched */
	uint64_t w = AT_LOAD_RELAXED(&hot.pool_word);
	size_t blocks = AT_LOAD_RELAXED(&pool_bytes), used = 0;
	if (w && blocks >= POOL_BLOCK) {
		uint64_t off = w & (((uint64_t)1 << POOL_OFF_BITS) - 1);
		used = blocks - POOL_BLOCK + (size_t)((off + 4095) & ~(uint64_t)4095);
	}
	return used + AT_LOAD_RELAXED(&table_bytes);
}
