/*
 * Dynamic tags: the table and tag creation (format, table layout and
 * invariants: dyn_tags.h).
 *
 * Creation (at_dyn_tag_slow, first call from an address, state READY):
 *   1. dladdr1() names the object and symbol.  It does not allocate; it
 *      takes the loader's lock, so nothing of ours is held while it runs (a
 *      dlopen holding the loader's lock may be allocating, or waiting for
 *      the registry lock in a tagged object's constructor).
 *   2. The record and its strings are formatted into one piece of the pool
 *      (mmap'd blocks, lock-free bump allocation, never freed).
 *   3. The registry gives the tag an index (at_registry_add_runtime); no
 *      index left: the record is kept with canon = NULL, so the site is
 *      looked up once and charged nothing from then on.
 *   4. The record is published by compare-and-swap into the first empty slot
 *      of its probe sequence; then listed in at_tag_by_idx[] (allocinfo).  A
 *      thread that loses the race to another creating the same address uses
 *      the winner's record; its own index and record are left unused.
 * A thread-local flag makes creation non-reentrant: an allocation made by
 * dladdr or by a signal handler while this thread creates a tag gets no tag.
 */
#define _GNU_SOURCE /* dladdr1 */
#include "sites/dyn_tags.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/message.h"
#include "modules/registration.h"

struct at_dyn_tag **at_dyn_table;
static uint32_t nr_tags; /* records claimed, <= AT_DYN_MAX_TAGS */
static __thread unsigned char creating __attribute__((tls_model("initial-exec")));

/* ---- pool: bump allocation in mmap'd blocks -------------------------- */

#define POOL_BLOCK (256u << 10)

struct pool_block {
	size_t used; /* bytes handed out from data[], may run past the end */
	char data[];
};

static struct pool_block *pool_cur;

static void *pool_alloc(size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (n > POOL_BLOCK - sizeof(struct pool_block))
		return NULL;
	for (;;) {
		struct pool_block *b = AT_LOAD(&pool_cur);
		if (b) {
			size_t off = __atomic_fetch_add(&b->used, n, __ATOMIC_RELAXED);
			if (off + n <= POOL_BLOCK - sizeof(*b))
				return b->data + off;
		}
		struct pool_block *nb = mmap(NULL, POOL_BLOCK, PROT_READ | PROT_WRITE,
					     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (nb == MAP_FAILED)
			return NULL;
		nb->used = 0;
		if (!__atomic_compare_exchange_n(&pool_cur, &b, nb, 0, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			munmap(nb, POOL_BLOCK); /* another thread installed one */
	}
}

/* ---- naming ---------------------------------------------------------- */

static const char *exe_path; /* the main executable's path, once read */

static const char *main_exe_path(void)
{
	const char *p = AT_LOAD(&exe_path);
	if (p)
		return p;
	char buf[4096];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n <= 0)
		return NULL;
	char *copy = pool_alloc((size_t)n + 1);
	if (!copy)
		return NULL;
	memcpy(copy, buf, (size_t)n);
	copy[n] = '\0';
	const char *none = NULL;
	if (!__atomic_compare_exchange_n(&exe_path, &none, copy, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return none; /* another thread's copy (ours stays unused in the pool) */
	return copy;
}

/* A record for addr with its strings (see dyn_tags.h for the format). */
static struct at_dyn_tag *make_record(const void *addr)
{
	Dl_info info;
	struct link_map *lm = NULL;
	const char *obj = "?", *sym = NULL;
	uintptr_t off = (uintptr_t)addr;

	if (dladdr1(addr, &info, (void **)&lm, RTLD_DL_LINKMAP) && lm) {
		off = (uintptr_t)addr - (uintptr_t)lm->l_addr;
		obj = lm->l_name && lm->l_name[0] ? lm->l_name : main_exe_path();
		if (!obj)
			obj = info.dli_fname && info.dli_fname[0] ? info.dli_fname : "?";
		sym = info.dli_sname;
	}
	char file[4200], func[1040];
	int nf = snprintf(file, sizeof(file), "%s+0x%lx", obj, (unsigned long)off);
	int ns = sym ? snprintf(func, sizeof(func), "%s", sym)
		     : snprintf(func, sizeof(func), "0x%lx", (unsigned long)off);
	if (nf < 0 || ns < 0)
		return NULL;
	if ((size_t)nf >= sizeof(file))
		nf = sizeof(file) - 1;
	if ((size_t)ns >= sizeof(func))
		ns = sizeof(func) - 1;

	struct at_dyn_tag *e = pool_alloc(sizeof(*e) + (size_t)nf + 1 + (size_t)ns + 1);
	if (!e)
		return NULL;
	char *s = (char *)(e + 1);
	memcpy(s, file, (size_t)nf);
	s[nf] = '\0';
	memcpy(s + nf + 1, func, (size_t)ns);
	s[nf + 1 + ns] = '\0';
	e->tag.filename = s;
	e->tag.function = s + nf + 1;
	e->tag.modname = NULL;
	e->tag.lineno = 0;
	e->tag.flags = 0;
	e->tag.idx = 0;
	e->tag.reserved = 0;
	e->tag.canon = NULL;
	e->addr = addr;
	return e;
}

/* ---- the table ------------------------------------------------------- */

static struct at_dyn_tag **table_get(void)
{
	struct at_dyn_tag **t = AT_LOAD(&at_dyn_table);
	if (t)
		return t;
	struct at_dyn_tag **nt = mmap(NULL, AT_DYN_SLOTS * sizeof(*nt), PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (nt == MAP_FAILED)
		return NULL;
	if (!__atomic_compare_exchange_n(&at_dyn_table, &t, nt, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		munmap(nt, AT_DYN_SLOTS * sizeof(*nt));
		return t;
	}
	return nt;
}

/* Slot of addr's record in tab, or of the first empty slot on its probe path. */
static uint32_t probe(struct at_dyn_tag **tab, const void *addr, struct at_dyn_tag **found)
{
	uint32_t i = at_dyn_hash(addr);
	for (;; i = (i + 1) & (AT_DYN_SLOTS - 1)) {
		struct at_dyn_tag *e = AT_LOAD(&tab[i]);
		if (!e || e->addr == addr) {
			*found = e;
			return i; /* never loops forever: at most 3/4 of the slots are used */
		}
	}
}

static struct alloc_tag *create(const void *addr)
{
	static int full_once, mem_once;
	struct at_dyn_tag **tab = table_get(), *e;
	if (!tab) {
		at_msg_once(mem_once, "cannot map the dynamic tag table; allocations of "
				      "unmodified callers will not be counted");
		return NULL;
	}
	probe(tab, addr, &e);
	if (e)
		return &e->tag;
	if (__atomic_fetch_add(&nr_tags, 1, __ATOMIC_RELAXED) >= AT_DYN_MAX_TAGS) {
		__atomic_fetch_sub(&nr_tags, 1, __ATOMIC_RELAXED);
		at_msg_once(full_once, "dynamic tag table full (%u call sites); allocations "
				       "from further call sites will not be counted",
			    AT_DYN_MAX_TAGS);
		return NULL;
	}
	struct at_dyn_tag *rec = make_record(addr);
	int err = rec ? at_registry_add_runtime(&rec->tag) : -ENOMEM;
	if (!rec || err == -EDEADLK) {
		if (!rec)
			at_msg_once(mem_once, "cannot map memory for a dynamic tag; "
					      "allocations from a call site will not be counted");
		__atomic_fetch_sub(&nr_tags, 1, __ATOMIC_RELAXED);
		return NULL; /* try again at the next call */
	}
	/* err == -ENOSPC: rec stays without index (canon NULL): charged nothing */
	for (;;) {
		uint32_t i = probe(tab, addr, &e);
		if (e) { /* another thread created addr's record first */
			__atomic_fetch_sub(&nr_tags, 1, __ATOMIC_RELAXED);
			return &e->tag;
		}
		if (__atomic_compare_exchange_n(&tab[i], &e, rec, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			break;
	}
	if (!err)
		at_registry_list(&rec->tag);
	return &rec->tag;
}

struct alloc_tag *at_dyn_tag_slow(const void *addr)
{
	if (creating)
		return NULL;
	creating = 1;
	struct alloc_tag *t = create(addr);
	creating = 0;
	return t;
}

uint32_t at_dyn_count(void)
{
	return AT_LOAD_RELAXED(&nr_tags);
}
