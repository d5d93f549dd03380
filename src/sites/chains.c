/*
 * Call-chain tags: the table and chain creation (layout and invariants:
 * chains.h).
 *
 * Creation (at_chain_tag_slow, first use of a chain, state READY):
 *   1. each frame's record (site_names.c: name, layer bit), made without
 *      any lock of ours held;
 *   2. the site: the first frame outside the layer; the named frame is the
 *      site, or the outermost frame when every frame is in the layer;
 *   3. the record, in the pool; the registry gives its tag an index
 *      (at_registry_add_runtime); no index left: the record is kept with
 *      canon = NULL, looked up once and charged nothing from then on;
 *   4. under the registry lock: looked up again (another thread may have
 *      made it: its record is used, ours stays unused), inserted (the table
 *      grows first if it would pass half full), linked to its named frame's
 *      list and the list of all chains, and listed in at_tag_by_idx[].
 *
 * The memo (at_chain_here): each thread keeps AT_MEMO_SETS x AT_MEMO_WAYS
 * recent chains, set-associative on (return address, stack pointer at the
 * caller), replaced round-robin within a set, each with the words its walk
 * read from the stack (unwind.h's trace, as offsets from that stack
 * pointer; chains whose walk read more than AT_MEMO_WORDS are not kept).
 * Several chains often share a key (one wrapper called from several
 * callers at the same stack depth), hence the ways.  A
 * malloc whose return address and stack pointer match an entry, and whose
 * stack still holds those words at those addresses, has that chain (the
 * walk is a function of them): its tag comes with no unwinding and no
 * hashing.  Entries whose walk used the caller's rbp are not kept.  A
 * thread's memo (one mmap'd block, 28 KiB) is recycled when
 * the thread exits (a pthread key's destructor); a flag keeps a signal
 * handler's malloc from using the memo while its thread writes an entry.
 */
#include "sites/chains.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "core/control.h"
#include "core/counters.h"
#include "core/message.h"
#include "core/tag_registry.h"
#include "sites/runtime_index.h"
#include "sites/site_names.h"
#include "sites/unwind.h"

unsigned int at_chain_depth = AT_CHAIN_DEFAULT_DEPTH;
struct at_chain_table *at_chain_table;
struct at_chain *at_chain_all;
static uint32_t nr_chains;     /* registry lock for writes */
static size_t memo_bytes;      /* the threads' memos */
static size_t chain_table_bytes; /* every table ever made (old ones stay) */
static __thread unsigned char creating __attribute__((tls_model("initial-exec")));

static struct at_chain_table *table_new(uint32_t shift)
{
	size_t bytes = sizeof(struct at_chain_table) + ((size_t)1 << shift) * sizeof(void *);
	struct at_chain_table *t = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED)
		return NULL;
	t->shift = shift;
	chain_table_bytes += bytes;
	return t;
}

static void table_put(struct at_chain_table *t, struct at_chain *c)
{
	uint32_t mask = (1u << t->shift) - 1, i = (uint32_t)(c->hash >> (64 - t->shift));
	while (t->slots[i])
		i = (i + 1) & mask;
	AT_STORE(&t->slots[i], c);
}

/* Insert c (registry lock held); 0 or -ENOMEM. */
static int insert(struct at_chain *c)
{
	struct at_chain_table *t = at_chain_table;
	if (!t || (nr_chains + 1) * 2 > (1u << t->shift)) {
		/* the first table: header and 256 slots in one page */
		struct at_chain_table *nt = table_new(t ? t->shift + 1 : 8);
		if (!nt)
			return -ENOMEM;
		for (struct at_chain *e = at_chain_all; e; e = e->next_all)
			table_put(nt, e);
		AT_STORE(&at_chain_table, nt); /* t stays mapped: see chains.h */
		t = nt;
	}
	table_put(t, c);
	return 0;
}

static struct alloc_tag *create(const uintptr_t *f, unsigned int n, uint64_t h)
{
	static int mem_once;
	struct at_frame *fr[AT_CHAIN_MAX];
	unsigned int site = 0;
	for (unsigned int i = 0; i < n; i++) {
		int err;
		if (!(fr[i] = at_frame_get(f[i], &err))) {
			if (err == -EDEADLK)
				return NULL; /* try again at the next call */
			goto nomem;
		}
		if (!site && !fr[i]->layer)
			site = i + 1;
	}
	struct at_frame *named = fr[site ? site - 1 : n - 1];
	struct at_chain *c = at_sites_pool_alloc(sizeof(*c) + n * sizeof(uintptr_t));
	if (!c)
		goto nomem;
	c->tag.filename = named->tag.filename;
	c->tag.function = named->tag.function;
	c->tag.flags = AT_TAG_CHAIN;
	c->named = named;
	c->hash = h;
	c->nr = n;
	c->site = site;
	memcpy(c->frames, f, n * sizeof(uintptr_t));
	int err = at_registry_add_runtime(&c->tag);
	if (err == -EDEADLK)
		return NULL; /* try again at the next call */
	/* err == -ENOSPC: kept without an index (canon NULL): charged nothing */
	if (pthread_mutex_lock(&at_registry_lock))
		return NULL;
	struct at_chain *e = at_chain_table ? at_chain_probe(at_chain_table, h, f, n) : NULL;
	if (e) {
		pthread_mutex_unlock(&at_registry_lock);
		return &e->tag;
	}
	if (insert(c)) {
		pthread_mutex_unlock(&at_registry_lock);
		goto nomem;
	}
	c->next_all = at_chain_all;
	AT_STORE(&at_chain_all, c);
	if (!named->chains) { /* appended: allocinfo lists sites in order of creation */
		static struct at_frame **tail = &at_named_frames;
		AT_STORE(tail, named);
		tail = &named->next_named;
	}
	c->next_named = named->chains;
	AT_STORE(&named->chains, c);
	nr_chains++;
	if (!err)
		at_registry_list(&c->tag);
	pthread_mutex_unlock(&at_registry_lock);
	return &c->tag;
nomem:
	at_msg_once(mem_once, "cannot map memory for a call chain; allocations from "
			      "new call chains will not be counted");
	return NULL;
}

struct alloc_tag *at_chain_tag_slow(const uintptr_t *f, unsigned int n, uint64_t h)
{
	if (creating)
		return NULL;
	creating = 1;
	struct alloc_tag *t = create(f, n, h);
	creating = 0;
	return t;
}

/* ---- the memo: a thread's recent chains, proved by their stack words -- */

static pthread_key_t memo_key;
static pthread_once_t memo_once = PTHREAD_ONCE_INIT;
static struct at_chain_memo *memo_free; /* registry lock */
static __thread struct at_chain_memo *memo_tls __attribute__((tls_model("initial-exec")));
static __thread unsigned char memo_busy __attribute__((tls_model("initial-exec")));

static void memo_release(void *arg)
{
	struct at_chain_memo *m = arg;
	memo_tls = NULL;
	memset(m->e, 0, sizeof(m->e));
	if (pthread_mutex_lock(&at_registry_lock))
		return; /* kept by no one: a page lost */
	m->next = memo_free;
	memo_free = m;
	pthread_mutex_unlock(&at_registry_lock);
}

static void memo_key_make(void)
{
	if (pthread_key_create(&memo_key, memo_release))
		memo_key = (pthread_key_t)-1;
}

static struct at_chain_memo *memo_get(void)
{
	struct at_chain_memo *m = NULL;
	pthread_once(&memo_once, memo_key_make);
	if (memo_key == (pthread_key_t)-1)
		return NULL;
	if (!pthread_mutex_lock(&at_registry_lock)) {
		if ((m = memo_free))
			memo_free = m->next;
		pthread_mutex_unlock(&at_registry_lock);
	}
	if (!m) {
		m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return NULL;
		__atomic_fetch_add(&memo_bytes, sizeof(*m), __ATOMIC_RELAXED);
	}
	/* pthread_setspecific may calloc (keys past the first 32): that malloc
	 * must not come back here */
	memo_busy = 1;
	int err = pthread_setspecific(memo_key, m);
	memo_busy = 0;
	if (err) {
		memo_release(m);
		return NULL;
	}
	memo_tls = m;
	return m;
}

static inline unsigned int memo_set(uintptr_t ra, uintptr_t sp)
{
	return (unsigned int)((ra ^ ra >> 12 ^ sp >> 4) & (AT_MEMO_SETS - 1));
}

/* The tag of the entry of set s that proves the chain, or NULL. */
static inline struct alloc_tag *memo_find(struct at_chain_memo *m, unsigned int s, uintptr_t ra,
					  uintptr_t sp)
{
	for (unsigned int w = 0; w < AT_MEMO_WAYS; w++) {
		struct at_memo_entry *e = &m->e[s][w];
		if (e->ra != ra || e->sp != sp || e->depth != at_chain_depth)
			continue;
		unsigned int i = 0;
		while (i < e->n && *(const uintptr_t *)(sp + e->off[i]) == e->val[i])
			i++;
		if (i == e->n)
			return e->tag;
	}
	return NULL;
}

AT_NOINLINE struct alloc_tag *at_chain_here(uintptr_t from, const void *ra)
{
	struct at_chain_memo *m = memo_tls;
	unsigned int set = memo_set((uintptr_t)ra, from);
	if (at_likely(m != NULL) && at_likely(!memo_busy)) {
		struct alloc_tag *t = memo_find(m, set, (uintptr_t)ra, from);
		if (at_likely(t != NULL))
			return t;
	}
	uintptr_t f[AT_CHAIN_MAX];
	struct at_unwind_trace tr;
	unsigned int n = at_unwind(f, at_chain_depth, from, &tr);
	if (!n) {
		f[0] = (uintptr_t)ra;
		n = 1;
		tr.unusable = 1;
	}
	struct alloc_tag *tag = at_chain_tag(f, n);
	if (!tag || tr.unusable || tr.n > AT_MEMO_WORDS || memo_busy ||
	    (tr.n && tr.addr[tr.n - 1] - from > UINT32_MAX))
		return tag;
	if (!m && !(m = memo_get()))
		return tag;
	/* a signal handler's malloc meanwhile neither reads nor writes it */
	memo_busy = 1;
	__asm__ volatile("" ::: "memory");
	struct at_memo_entry *e = &m->e[set][m->next_way[set]++ % AT_MEMO_WAYS];
	e->ra = 0;
	e->sp = from;
	e->depth = (unsigned short)at_chain_depth;
	e->tag = tag;
	e->n = (unsigned short)tr.n;
	for (unsigned int i = 0; i < tr.n; i++) {
		e->off[i] = (uint32_t)(tr.addr[i] - from);
		e->val[i] = tr.val[i];
	}
	e->ra = (uintptr_t)ra;
	__asm__ volatile("" ::: "memory");
	memo_busy = 0;
	return tag;
}

void at_chain_made(struct alloc_tag *t, void *p)
{
	uint32_t i = t && p ? AT_LOAD_RELAXED(&t->idx) : 0;
	if (i >= AT_IDX_FIRST)
		at_cum_add(i, (int64_t)at_usable_size(p));
}

uint32_t at_chain_count(void)
{
	return AT_LOAD_RELAXED(&nr_chains);
}

size_t at_chain_memory(void)
{
	return at_sites_memory() + AT_LOAD_RELAXED(&chain_table_bytes) +
	       AT_LOAD_RELAXED(&memo_bytes) + at_unwind_memory();
}

int alloctag_chain_stats(struct alloctag_chain_stats *out)
{
	if (AT_LOAD(&at_state) != AT_STATE_READY)
		return -EPERM;
	out->chains = at_chain_count();
	out->bytes = at_chain_memory() +
		     out->chains * 2 * sizeof(struct at_counter) * (at_counters_ncpu + 1);
	return 0;
}

struct at_chain *at_chain_of(const struct alloc_tag *tag)
{
	if (!tag || !(AT_LOAD_RELAXED(&tag->flags) & AT_TAG_CHAIN))
		return NULL;
	return (struct at_chain *)((char *)tag - offsetof(struct at_chain, tag));
}
