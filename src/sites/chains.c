/*
 * Call-chain tags: the table and chain creation (layout and invariants:
 * chains.h).
 *
 * Creation (at_chain_tag_slow, first use of a chain, state READY):
 *   1. each frame's record (site_names.c: name, layer bit), made without
 *      any lock of ours held, up to the site: the frames past it need no
 *      name (a chain is named by its site) and no record (each costs
 *      about 200 bytes and reads of the object's file: cc1 made 5124
 *      records for its 6000 chains); a frame in a layer object (libc...)
 *      gets its function's name only if the chain is named after it;
 *   2. the site: the first frame outside the layer; the named frame is the
 *      site, or the outermost frame when every frame is in the layer;
 *   3. the record, in the pool; the registry gives its tag an index
 *      (at_registry_add_runtime); no index left: the record is kept with
 *      canon = NULL, looked up once and charged nothing from then on;
 *   4. under the registry lock: looked up again (another thread may have
 *      made it: its record is used, ours stays unused), inserted (the table
 *      grows first if it would pass three quarters full) and listed in
 *      the registry's table.
 *
 * The memo (layout and invariants: chains.h): the preload library's
 * entries (at_memo_set_busy, at_memo_way, at_memo_ways) and at_chain_here
 * (at_chain_entry) look the call up in its thread's memo, at_memo_lookup for the shapes the inline check leaves;
 * on a miss in the set at_chain_walk walks the stack with the rules the
 * rule cache holds (the lean walk, chains.h) to a chain the chain tables
 * hold, else unwinds, finds or makes the chain's tag, and writes the
 * walk's words in way 0 of the set, the older entries moved one way on
 * (the oldest dropped when the set is full and the memo cannot grow:
 * chains.h), so that a lookup meets the newest first (a program's steady
 * loop makes its chains after its start-up's).  A thread's memo (one
 * mmap'd block) is made at its first miss and recycled when the thread
 * exits (a pthread key's destructor).
 */
#include "sites/chains.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>

#include "core/control.h"
#include "core/counters.h"
#include "core/message.h"
#include "core/tag_registry.h"
#include "sites/chain_teach.h"
#include "sites/runtime_index.h"
#include "sites/site_names.h"
#include "sites/unwind.h"

unsigned int at_chain_depth = AT_CHAIN_DEFAULT_DEPTH;
struct at_chain_table *at_chain_table;
/* The chains' count and a forked child's chains (chains.h: its table,
 * its chains' count), in one of the fork page's 64-byte slots; registry
 * lock for writes but `forked` (the child's fork handler). */
AT_CHAIN_HOT static struct {
	uint32_t nr_chains;
	uint32_t child_chains;
	struct at_chain_table *child_table;
	unsigned char forked;
	/* taught chains made (registry lock), and their walks that this
	 * process counted as first walks (no lock: a count, not a limit, under
	 * threads) */
	uint32_t taught, taught_walks;
	/* the taught memo (at_chain_teach_memo; the prepare handler's), and
	 * whether this process's thread took it as its memo */
	struct at_chain_memo *teach_memo;
	unsigned char teach_memo_used;
	unsigned char teach_memo_depth; /* at_chain_depth its entries were made at */
} chain_made;
static size_t chain_table_bytes; /* the mapped tables' slots in use (an old one's given back) */
static uint32_t nr_unindexed;
/* 1 while the thread makes a chain, 2 a taught one (at_chain_adopt) */
static __thread unsigned char creating __attribute__((tls_model("initial-exec")));

/* The bytes of a table's 2^shift slots. */
static size_t table_bytes(uint32_t shift)
{
	return ((size_t)1 << shift) * sizeof(uint64_t);
}

/* Whether a table of 2^shift slots is in the sites' pool with its header
 * (never given back): table_new decides by this, from the shift alone,
 * which a table keeps (so it tells any table's place, no flag needed);
 * only the first (256 slots) is small enough. */
static int table_pooled(uint32_t shift)
{
	return sizeof(struct at_chain_table) + table_bytes(shift) <= AT_SITES_SMALL;
}
_Static_assert(sizeof(struct at_chain_table) + (256u << 3) <= AT_SITES_SMALL,
	       "the first table, 256 slots of 8 bytes, in the pool with its header");

static struct at_chain_table *table_new(uint32_t shift)
{
	size_t bytes = table_bytes(shift);
	int pooled = table_pooled(shift);
	struct at_chain_table *t = at_sites_pool_alloc(sizeof(*t) + (pooled ? bytes : 0));
	if (!t)
		return NULL;
	if (pooled) { /* the first: its slots after its header */
		t->slots = (uint64_t *)(t + 1);
		/* every slot stored (0, as it is): the table's pages present,
		 * so that a forked child's insert copies the page of its slot
		 * where, in a page no chain had touched, it read the zero page
		 * and then wrote it (two faults); the pool's next records take
		 * what the table leaves of its last page */
		for (uint32_t i = 0; i < 1u << shift; i++)
			AT_STORE_RELAXED(&t->slots[i], 0);
	} else {
		void *slots = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (slots == MAP_FAILED)
			return NULL; /* the header stays in the pool, unused */
		t->slots = slots;
		chain_table_bytes += bytes;
	}
	t->shift = shift;
	return t;
}

/* Table t, replaced: its slots read as empty from now on (a reader still
 * probing it misses and looks again under the lock in the current one):
 * the pool's stored 0, a mapping's pages given back (reading as zero)
 * and no longer counted.  The header (shift, slots) stays: a reader may
 * load it. */
static void table_drop(struct at_chain_table *t)
{
	size_t bytes = table_bytes(t->shift);
	if (table_pooled(t->shift)) {
		for (uint32_t i = 0; i < 1u << t->shift; i++)
			AT_STORE_RELAXED(&t->slots[i], 0);
	} else {
		madvise(t->slots, bytes, MADV_DONTNEED);
		chain_table_bytes -= bytes;
	}
}

static void table_put(struct at_chain_table *t, uint64_t slot, uint64_t h)
{
	uint32_t mask = (1u << t->shift) - 1, i = (uint32_t)(h >> (64 - t->shift));
	while (t->slots[i])
		i = (i + 1) & mask;
	AT_STORE(&t->slots[i], slot);
}

/* Insert chain c, whose hash is h (registry lock held), in the main
 * table or, in a forked child, the child's; 0 or -ENOMEM. */
static int insert(struct at_chain *c, uint64_t h)
{
	if ((uintptr_t)c & ~(uintptr_t)AT_CHAIN_SLOT_ADDR)
		return -ENOMEM; /* no slot holds it (chains.h) */
	struct at_chain_table **tp = chain_made.forked ? &chain_made.child_table : &at_chain_table, *t = *tp;
	uint32_t nr = chain_made.forked ? chain_made.child_chains : chain_made.nr_chains;
	if (!t || (nr + 1) * 4 > 3 * (1u << t->shift)) { /* past three quarters full */
		/* the first table: header and 256 slots (a child's: 64), in the pool */
		struct at_chain_table *nt = table_new(t ? t->shift + 1 : chain_made.forked ? 6 : 8);
		if (!nt)
			return -ENOMEM;
		for (uint32_t i = 0; t && i < 1u << t->shift; i++) { /* every chain of t */
			uint64_t r = t->slots[i];
			if (!r)
				continue;
			struct at_chain *e = (struct at_chain *)(uintptr_t)(r & AT_CHAIN_SLOT_ADDR);
			/* its own length: no AT_CHAIN_MAX words in create's frame
			 * (a forked child's first chain writes every stack page it
			 * reaches, a copy each) */
			uintptr_t f[at_chain_nr(e)];
			unsigned int n = at_chain_frames(e, f);
			table_put(nt, r, at_chain_hash(f, n));
		}
		AT_STORE(tp, nt); /* t stays mapped: see chains.h */
		if (t)
			table_drop(t);
		t = nt;
	}
	table_put(t, at_chain_slot(c, h), h);
	chain_made.child_chains += chain_made.forked;
	return 0;
}

/* The chain of f[0 .. n - 1] (hash h) in the main table, else in a
 * forked child's, or NULL. */
static struct at_chain *probe_both(const uintptr_t *f, unsigned int n, uint64_t h)
{
	struct at_chain_table *t = AT_LOAD(&at_chain_table), *ct;
	struct at_chain *e = t ? at_chain_probe(t, h, f, n) : NULL;
	if (!e && (ct = AT_LOAD(&chain_made.child_table)))
		e = at_chain_probe(ct, h, f, n);
	return e;
}

static void fork_handler_once(void);

AT_ONCE_TEXT static struct alloc_tag *create(const uintptr_t *f, unsigned int n, uint64_t h)
{
	static int mem_once;
	struct at_frame *named = NULL; /* the last looked up: the site, or frame n - 1 */
	unsigned int site = 0;
	for (unsigned int i = 0; i < n; i++) {
		int err;
		if (!(named = at_frame_lookup(f[i], &err))) {
			if (err == -EDEADLK)
				return NULL; /* try again at the next call */
			goto nomem;
		}
		if (!named->layer) {
			site = i + 1;
			break; /* the frames past the site are neither named nor tested */
		}
	}
	if (at_frame_name(named)) /* a layer frame's function: named now */
		goto nomem;
	uint32_t format;
	struct at_chain *c = at_sites_pool_alloc(at_chain_bytes(f, n, &format));
	if (!c)
		goto nomem;
	c->tag.filename = named->tag.filename;
	c->tag.function = named->tag.function;
	c->tag.flags = AT_TAG_CHAIN | (creating == 2 ? AT_CHAIN_TAUGHT : 0);
	c->tag.reserved = n | site << 7 | format |
			  (format == AT_CHAIN_SHARED ? (uint32_t)((uint64_t)f[0] >> 32) << AT_CHAIN_HIGH_SHIFT : 0);
	/* the words one by one, not memcpy: libc's text, a fault in a fork
	 * child (chains.h: the record's layout) */
	for (unsigned int i = 0; i < n; i++) {
		if (format == AT_CHAIN_WIDE) {
			AT_STORE_RELAXED(&c->w[2 * i], (uint32_t)f[i]);
			AT_STORE_RELAXED(&c->w[2 * i + 1], (uint32_t)((uint64_t)f[i] >> 32));
		} else {
			AT_STORE_RELAXED(&c->w[i], (uint32_t)f[i]);
			if (!format) /* a shared record's: in reserved */
				c->w[n + i / 2] |= (uint32_t)((uint64_t)f[i] >> 32) << (i & 1) * 16;
		}
	}
	int err = at_registry_add_runtime(&c->tag);
	if (err == -EDEADLK)
		return NULL; /* try again at the next call */
	/* err == -ENOSPC: kept without an index (canon NULL): charged nothing */
	if (pthread_mutex_lock(&at_registry_lock))
		return NULL;
	struct at_chain *e = probe_both(f, n, h);
	if (e) {
		pthread_mutex_unlock(&at_registry_lock);
		return &e->tag;
	}
	if (err) { /* no index: in the table alone, at most AT_CHAIN_UNINDEXED_MAX */
		if (nr_unindexed == AT_CHAIN_UNINDEXED_MAX) {
			pthread_mutex_unlock(&at_registry_lock);
			goto nomem;
		}
	} else {
		at_registry_list(&c->tag);
	}
	if (insert(c, h)) {
		pthread_mutex_unlock(&at_registry_lock);
		goto nomem; /* listed (an index's tag, never charged), not found */
	}
	nr_unindexed += err != 0;
	if (!named->names) { /* its first: appended (allocinfo lists sites in order of creation) */
		/* no initializer: its relocation would make the loader write
		 * the fork page at every start */
		AT_CHAIN_HOT static struct at_frame **tail;
		if (!tail)
			tail = &at_named_frames;
		AT_STORE(tail, named);
		tail = &named->next_named;
		named->names = 1;
	}
	chain_made.nr_chains++;
	chain_made.taught += creating == 2;
	pthread_mutex_unlock(&at_registry_lock);
	if (!err)
		at_counters_touch(c->tag.idx);
	fork_handler_once();
	return &c->tag;
nomem:
	at_msg_once(mem_once, "cannot map memory for a call chain; allocations from "
			      "new call chains will not be counted");
	return NULL;
}

struct alloc_tag *at_chain_adopt(const uintptr_t *f, unsigned int n, int *made)
{
	uint64_t h = at_chain_hash(f, n);
	struct at_chain *e = probe_both(f, n, h);
	*made = 0;
	if (e || creating)
		return e ? &e->tag : NULL;
	uint32_t count = AT_LOAD_RELAXED(&chain_made.nr_chains);
	creating = 2;
	struct alloc_tag *tag = create(f, n, h);
	creating = 0;
	*made = tag && AT_LOAD_RELAXED(&chain_made.nr_chains) != count;
	return tag;
}

struct alloc_tag *at_chain_tag_slow(const uintptr_t *f, unsigned int n, uint64_t h)
{
	/* a miss in a table replaced meanwhile (its slots read empty), or a
	 * forked child's chain */
	struct at_chain *e = probe_both(f, n, h);
	if (e)
		return &e->tag;
	if (creating)
		return NULL;
	creating = 1;
	struct alloc_tag *tag = create(f, n, h);
	creating = 0;
	return tag;
}

/* ---- the memo: a thread's recent chains, proved by their stack words -- */

static pthread_key_t memo_key;
static pthread_once_t memo_once = PTHREAD_ONCE_INIT;
static struct at_chain_memo *memo_free; /* registry lock */
/* written by a forked child's first memo, as a chain's making writes them */
AT_CHAIN_HOT static struct at_chain_memo *memo_all; /* prepended under the registry lock */
AT_CHAIN_HOT static size_t memo_bytes;              /* the threads' memos */
/* AT_MEMO_NONE's set 0 (mask 0, every key 0: all a lookup reads), read
 * only, at the end of profiling's text (src/preload/text_order.ld), whose
 * pages every process that makes a chain has resident: a page of .bss of
 * its own before */
const struct at_memo_entry at_memo_none[AT_MEMO_WAYS]
	__attribute__((section("at_memo_none_set"), aligned(64)));

/* Move the cumulative counts of e (of m, the calling thread's) to its
 * tag's per-CPU counters (e's key 0 or its thread's). */
static void memo_fold(struct at_chain_memo *m, struct at_memo_entry *e)
{
	if (!at_memo_tls.counted) /* every count of the thread's memo 0 (chains.h) */
		return;
	struct at_memo_counts *k = at_memo_counts_of(m, e);
	int64_t b = AT_LOAD_RELAXED(&k->bytes), c = AT_LOAD_RELAXED(&k->calls);
	if (!c)
		return;
	if (e->idx >= AT_IDX_FIRST)
		at_percpu_add2(at_cum0(e->idx), b, c);
	AT_STORE_RELAXED(&k->bytes, 0);
	AT_STORE_RELAXED(&k->calls, 0);
}

/* Empty entry e of m (a lookup meanwhile misses it), its counts folded. */
static void memo_clear(struct at_chain_memo *m, struct at_memo_entry *e)
{
	AT_STORE_RELAXED(&e->key, 0);
	__asm__ volatile("" ::: "memory");
	memo_fold(m, e);
}


/* Empty every entry of m (its thread's, or no thread's). */
static void memo_forget(struct at_chain_memo *m)
{
	for (unsigned int s = 0; s <= m->mask; s++)
		for (unsigned int w = 0; w < AT_MEMO_WAYS; w++)
			memo_clear(m, &m->e[s][w]);
}

/* The calling thread's signals blocked, the mask before in *old: in
 * memo_release and around memo_get's registry lock sections, whose thread
 * has no memo meanwhile, so that a signal handler's malloc there, which
 * would make the thread a memo (memo_get), does not take the lock the
 * thread holds or is taking (a handler run between glibc's taking of
 * the lock word and its storing of the owner finds no owner and waits on
 * itself: the error-checking mutex's EDEADLK needs the owner). */
static void memo_signals_block(sigset_t *old)
{
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, old);
}

static void memo_release(void *arg)
{
	struct at_chain_memo *m = arg;
	sigset_t old;
	/* a handler's malloc meanwhile would make the thread a new memo and
	 * zero `counted`, and the counts still to fold here would be lost */
	memo_signals_block(&old);
	at_memo_tls.m = AT_MEMO_NONE;
	memo_forget(m);
	if (!pthread_mutex_lock(&at_registry_lock)) { /* else kept by no one: a page lost */
		m->next = memo_free;
		memo_free = m;
		pthread_mutex_unlock(&at_registry_lock);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/*
 * fork(): the child's thread leaves the memo it inherited, whose pages it
 * shares with the parent (each one it writes, a copy: a shell's child
 * walking a dozen chains its parent's memo no longer held wrote a dozen of
 * them), for a new one made at its next miss (its first page zero-filled;
 * one page while it stays small).  The one left keeps its entries and
 * counts for the readers (at_memo_cum) and is written no more, as are
 * the memos of the parent's exited threads (memo_free, left).  Nothing is
 * stored when the thread had no memo.  The process's new chains go to
 * the child's table from now on (chains.h), the chains made before its
 * first fork found in the main one, and its frames, rules and run-time
 * indexes become a forked process's (at_sites_forked).  Registered at
 * the first chain's or memo's making (fork_handler_once).
 */
AT_FORK_TEXT static void memo_fork_child(void)
{
	chain_made.forked = 1;
	chain_made.taught_walks = 0;
	at_sites_forked();
	if (at_memo_tls.m != AT_MEMO_NONE) {
		at_memo_tls.m = AT_MEMO_NONE;
		if (memo_free) /* exited threads' memos: shared too, and grown */
			memo_free = NULL;
	}
	if (chain_made.teach_memo && !chain_made.teach_memo_used &&
	    chain_made.teach_memo_depth == at_chain_depth) {
		/* the taught memo: its entries written by the parent, its counts
		 * all 0 (no thread of the parent counts in it) */
		at_memo_tls.m = chain_made.teach_memo;
		at_memo_tls.counted = 0;
		chain_made.teach_memo_used = 1;
	}
}

static void memo_key_make(void)
{
	if (pthread_key_create(&memo_key, memo_release))
		memo_key = (pthread_key_t)-1;
}

/* The bytes of a memo that uses sets 0 .. mask. */
static size_t memo_used(uintptr_t mask)
{
	return (mask + 1) * sizeof(((struct at_chain_memo *)0)->e[0]);
}

/* memo_fork_child registered, once (no lock of ours held). */
static void fork_handler_once(void)
{
	static int atfork_made;
	if (!AT_LOAD_RELAXED(&atfork_made) && !__atomic_exchange_n(&atfork_made, 1, __ATOMIC_RELAXED)) {
		/* outside pthread_once, busy: glibc's list of handlers may
		 * malloc when it grows, and that malloc must not come back here
		 * (nor make a chain: create's `creating` is set) */
		at_memo_tls.busy++;
		pthread_atfork(at_teach_prepare, NULL, memo_fork_child);
		at_memo_tls.busy--;
	}
}

/* A new memo of mask + 1 sets, mapped and listed in memo_all (its bytes
 * counted), or NULL. */
static struct at_chain_memo *memo_map(uint32_t mask)
{
	struct at_chain_memo *m =
		mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED || pthread_mutex_lock(&at_registry_lock))
		return NULL; /* a mapping made and not listed: lost */
	m->mask = mask;
	m->omask = m->mask << AT_MEMO_SET_SHIFT;
	m->next_all = memo_all;
	AT_STORE(&memo_all, m);
	pthread_mutex_unlock(&at_registry_lock);
	__atomic_fetch_add(&memo_bytes, memo_used(m->mask) + sizeof(m->cum), __ATOMIC_RELAXED);
	return m;
}

static struct at_chain_memo *memo_get(void)
{
	struct at_chain_memo *m = NULL;
	pthread_once(&memo_once, memo_key_make);
	if (memo_key == (pthread_key_t)-1)
		return NULL;
	fork_handler_once();
	sigset_t old;
	memo_signals_block(&old);
	if (!pthread_mutex_lock(&at_registry_lock)) {
		if ((m = memo_free))
			memo_free = m->next;
		pthread_mutex_unlock(&at_registry_lock);
		if (!m)
			m = memo_map((1u << AT_MEMO_SHIFT_FIRST) - 1);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!m)
		return NULL;
	/* pthread_setspecific may calloc (keys past the first 32): that malloc
	 * must not come back here */
	at_memo_tls.busy = 1;
	int err = pthread_setspecific(memo_key, m);
	at_memo_tls.busy = 0;
	if (err) {
		memo_release(m);
		return NULL;
	}
	at_memo_tls.counted = 0; /* a new memo's counts 0, as a forgotten one's */
	at_memo_tls.m = m;
	return m;
}

/* Add every memo entry's cumulative counts to sums[its index] (sums: one
 * counter per index), or, with sums NULL, those of index idx to *one. */
void at_memo_cum(struct alloctag_counters *sums, uint32_t idx, struct alloctag_counters *one)
{
	for (struct at_chain_memo *m = AT_LOAD(&memo_all); m; m = m->next_all)
		for (unsigned int s = 0, n = (unsigned int)AT_LOAD_RELAXED(&m->mask); s <= n; s++)
			for (unsigned int w = 0; w < AT_MEMO_WAYS; w++) {
				struct at_memo_entry *e = &m->e[s][w];
				uint32_t i = AT_LOAD_RELAXED(&e->idx);
				int64_t c = AT_LOAD_RELAXED(&m->cum[s][w].calls);
				if (!c || i < AT_IDX_FIRST || i >= AT_IDX_MAX || (!sums && i != idx))
					continue;
				struct alloctag_counters *to = sums ? &sums[i] : one;
				to->bytes += AT_LOAD_RELAXED(&m->cum[s][w].bytes);
				to->calls += c;
			}
}

/* Word i of walk tr kept (a saved rbp: as an offset from `from`). */
static void memo_word(struct at_memo_entry *e, unsigned int k, const struct at_unwind_trace *tr,
		      unsigned int i, uintptr_t from)
{
	e->off[k] = (uint16_t)(tr->addr[i] - from);
	e->val[k] = (tr->rbp >> i) & 1 ? tr->val[i] - from : tr->val[i];
}

/* Entry e of m made the chain of (ra, from) (see memo_put). */
static void memo_write(struct at_chain_memo *m, struct at_memo_entry *e, uintptr_t ra, uintptr_t from,
		       struct alloc_tag *tag, const struct at_unwind_trace *tr, unsigned int padded,
		       unsigned int more)
{
	AT_STORE_RELAXED(&e->key, 0);
	__asm__ volatile("" ::: "memory");
	memo_fold(m, e);
	e->tag = tag;
	AT_STORE_RELAXED(&e->idx, AT_LOAD_RELAXED(&tag->idx));
	e->nent = (uint16_t)(e->idx < AT_MEMO_NENT_NONE ? e->idx + 1 : 0);
	e->spx = from | (more == 3 ? AT_MEMO_SHAPE_ANY : more == 2 ? AT_MEMO_SHAPE7 : more ? AT_MEMO_SHAPE4 : 0);
	e->spy = more == 1 ? from : e->spx | AT_MEMO_SHAPE4;
	e->span = tr->bounded ? AT_MEMO_ONLY_SP : (uint32_t)(tr->top - from);
	unsigned int k = 0, r = padded;
	if (at_likely(!tr->rbp)) { /* return addresses only */
		for (; k < tr->n; k++) {
			e->off[k] = (uint16_t)(tr->addr[k] - from);
			e->val[k] = tr->val[k];
		}
	} else {
		for (unsigned int i = 0; i < tr->n; i++)
			memo_word(e, (tr->rbp >> i) & 1 ? r++ : k++, tr, i, from);
	}
	for (; k < padded; k++) { /* the last return address again */
		e->off[k] = e->off[k - 1];
		e->val[k] = e->val[k - 1];
	}
	e->nabs = (unsigned char)padded;
	e->n = (unsigned char)r;
	e->counts = at_memo_counts_of(m, e);
	__asm__ volatile("" ::: "memory");
	AT_STORE_RELAXED(&e->key, ra);
}

/* Entry e (a key) of m to entry `to` (empty), its
 * counts with it (the memo's counts page, which counting writes anyway,
 * rather than a per-CPU counters page each: a forked child moving the
 * taught memo's entries wrote a page of counters a move). */
static void memo_move(struct at_chain_memo *m, struct at_memo_entry *to, struct at_memo_entry *e)
{
	uintptr_t key = e->key;
	AT_STORE_RELAXED(&e->key, 0);
	__asm__ volatile("" ::: "memory");
	/* key 0; a constant size: inlined as 16-byte moves (a loop of words
	 * was 4 instructions a word, 27 words) */
	__builtin_memcpy(to, e, AT_MEMO_ENTRY_COPY);
	to->counts = at_memo_counts_of(m, to);
	if (at_memo_tls.counted) { /* else every count 0 (chains.h) */
		struct at_memo_counts *k = at_memo_counts_of(m, e);
		int64_t b = AT_LOAD_RELAXED(&k->bytes), c = AT_LOAD_RELAXED(&k->calls);
		if (c) { /* to's are 0: it is empty */
			AT_STORE_RELAXED(&to->counts->bytes, b);
			AT_STORE_RELAXED(&to->counts->calls, c);
			AT_STORE_RELAXED(&k->bytes, 0);
			AT_STORE_RELAXED(&k->calls, 0);
		}
	}
	__asm__ volatile("" ::: "memory");
	AT_STORE_RELAXED(&to->key, key);
}

/* Use AT_MEMO_SHIFT_STEP more bits of the set (chains.h: Size; busy):
 * the entries that stay in their set moved to its first ways, so that a
 * lookup finds them as soon as before. */
static void memo_grow(struct at_chain_memo *m)
{
	uintptr_t old = m->mask, mask = ((old + 1) << AT_MEMO_SHIFT_STEP) - 1;
	AT_STORE_RELAXED(&m->mask, mask);
	AT_STORE_RELAXED(&m->omask, mask << AT_MEMO_SET_SHIFT);
	for (unsigned int s = 0; s <= old; s++) {
		unsigned int stay = 0; /* the entries that stay, in ways 0 .. stay */
		for (unsigned int w = 0; w < AT_MEMO_WAYS; w++) {
			struct at_memo_entry *e = &m->e[s][w];
			uintptr_t key = e->key;
			if (!key)
				continue;
			/* every entry lies in its own set: b & old == s */
			unsigned int b = (unsigned int)(at_memo_set(key, AT_MEMO_SP(e)) & mask);
			if (b == s && w == stay++)
				continue;
			unsigned int to = 0; /* b's first empty way: b's entries all come from s */
			if (b != s)
				while (m->e[b][to].key)
					to++;
			memo_move(m, &m->e[b][b == s ? stay - 1 : to], e);
		}
	}
	__atomic_fetch_add(&memo_bytes, memo_used(mask) - memo_used(old), __ATOMIC_RELAXED);
}

/* Keep the chain of (ra, from) with tag in m, from the walk's trace: if
 * its words fit (see chains.h).  known: 0 a chain made by the walk, 1 a
 * chain that existed, walked; 2 one that the lean walk found. */
static void memo_put(struct at_chain_memo *m, uintptr_t ra, uintptr_t from,
		     struct alloc_tag *tag, const struct at_unwind_trace *tr, int known)
{
	if (tr->unusable || tr->top - from > UINT16_MAX)
		return;
	if (tr->bounded) /* a word may lie outside [from, top] (unwind.h) */
		for (unsigned int i = 0; i < tr->n; i++)
			if (tr->addr[i] < from || tr->addr[i] - from > UINT16_MAX)
				return;
	unsigned int nrbp = 0, nabs;
	for (uint32_t b = tr->rbp; b; b &= b - 1) /* few bits, most often none */
		nrbp++;
	nabs = tr->n - nrbp;
	/* the inline check's shapes (chains.h): 3, 4 or 7 return addresses */
	unsigned int more = nrbp || !nabs || nabs > 7 ? 3 : nabs > 4 ? 2 : nabs == 4;
	unsigned int padded = more == 3 ? nabs : more == 2 ? 7 : more ? 4 : 3;
	if (padded + nrbp > AT_MEMO_WORDS)
		return;
	unsigned int set = (unsigned int)(at_memo_set(ra, from) & m->mask);
	/* a signal handler's malloc meanwhile finds key 0 here, and writes nothing */
	at_memo_tls.busy = 1;
	__asm__ volatile("" ::: "memory");
	/* grown when full sets drop chains that come back (chains.h: Size) */
	if (m->e[set][AT_MEMO_WAYS - 1].key && known && m->mask < AT_MEMO_SETS - 1 &&
	    ++m->again >= (m->mask + 1) * AT_MEMO_WAYS) {
		m->again = 0;
		memo_grow(m); /* rather than replace an entry */
		set = (unsigned int)(at_memo_set(ra, from) & m->mask);
	}
	if (known == 1 && m->mask == AT_MEMO_SETS - 1 && m->e[set][AT_MEMO_WAYS - 1].key &&
	    ++m->passed % AT_MEMO_PUT_EVERY) {
		__asm__ volatile("" ::: "memory");
		at_memo_tls.busy = 0;
		return; /* a memo whose chains do not fit (chains.h: The lean walk) */
	}
	struct at_memo_entry *e = m->e[set];
	if (e[AT_MEMO_WAYS - 1].key) /* the oldest dropped */
		memo_clear(m, &e[AT_MEMO_WAYS - 1]);
	for (unsigned int w = AT_MEMO_WAYS - 1; w-- > 0;) /* each into the way emptied after it */
		if (e[w].key)
			memo_move(m, &e[w + 1], &e[w]);
	memo_write(m, &e[0], ra, from, tag, tr, padded,
		   more);
	__asm__ volatile("" ::: "memory");
	at_memo_tls.busy = 0;
}

/* Whether memo m holds an entry of chain `tag` for (ra, from) (its
 * entries read, no stack word). */
static int memo_holds(struct at_chain_memo *m, uintptr_t ra, uintptr_t from,
		      const struct alloc_tag *tag)
{
	for (unsigned int s = 0; s <= m->mask; s++)
		for (unsigned int w = 0; w < AT_MEMO_WAYS; w++) {
			const struct at_memo_entry *e = &m->e[s][w];
			if (e->key == ra && AT_MEMO_SP(e) == from && e->tag == tag)
				return 1;
		}
	return 0;
}

void at_chain_teach_memo(uintptr_t from, struct alloc_tag *tag, const struct at_unwind_trace *tr,
			 uintptr_t ra)
{
	struct at_chain_memo *m = chain_made.teach_memo;
	if (chain_made.teach_memo_used || at_memo_tls.busy ||
	    (m && chain_made.teach_memo_depth != at_chain_depth))
		return; /* this process's memo, or a lookup interrupted */
	if (!m) {
		if (!(m = memo_map((1u << AT_MEMO_SHIFT_FIRST) - 1)))
			return;
		chain_made.teach_memo_depth = (unsigned char)at_chain_depth;
		chain_made.teach_memo = m;
	}
	if (memo_holds(m, ra, from, tag))
		return;
	at_memo_tls.busy = 1; /* as memo_put's writes */
	while (m->e[at_memo_set(ra, from) & m->mask][AT_MEMO_WAYS - 1].key &&
	       m->mask < AT_TEACH_MEMO_SETS - 1)
		memo_grow(m);
	at_memo_tls.busy = 0;
	memo_put(m, ra, from, tag, tr, 0);
}

unsigned int at_chain_teach_memo_sets(void)
{
	struct at_chain_memo *m = chain_made.teach_memo;
	return m ? (unsigned int)m->mask + 1 : 0;
}

void at_chain_set_depth(unsigned int depth)
{
	struct at_chain_memo *m = at_memo_tls.m;
	at_chain_depth = depth;
	if (AT_LOAD_RELAXED(&at_profiling_on))
		AT_STORE(&at_profiling_on, at_chain_profiling());
	if (m != AT_MEMO_NONE && !at_memo_tls.busy)
		memo_forget(m);
}

uint32_t at_chain_walks(void)
{
	return at_memo_tls.walks;
}

/* at_chain_walk's unwinding (chains.h), its frame of `depth` words made
 * only when the lean walk has not found the chain. */
static AT_NOINLINE struct alloc_tag *chain_unwind(uintptr_t from, const void *ra)
{
	struct at_chain_memo *m = at_memo_tls.m;
	at_memo_tls.walks++;
	unsigned int depth = at_chain_depth;
	uintptr_t f[depth]; /* the depth's, not AT_CHAIN_MAX (a child's stack pages: insert) */
	struct at_unwind_trace tr;
	uint64_t misses = at_unwind_misses();
	unsigned int n = at_unwind_from(f, depth, from, (uintptr_t)ra, &tr);
	if (!n) {
		f[0] = (uintptr_t)ra;
		n = 1;
		tr.unusable = 1;
	}
	uint32_t made = AT_LOAD_RELAXED(&chain_made.nr_chains);
	struct alloc_tag *tag = at_chain_tag(f, n);
	/* a forked child teaches its parent what it had to make (chain_teach.h) */
	if (chain_made.forked && tag &&
	    (AT_LOAD_RELAXED(&chain_made.nr_chains) != made || at_unwind_misses() != misses))
		at_teach_publish(f, n, from, &tr);
	if (!tag || at_memo_tls.busy || tr.unusable)
		return tag;
	if (m == AT_MEMO_NONE && !(m = memo_get()))
		return tag;
	int known = AT_LOAD_RELAXED(&chain_made.nr_chains) == made;
	/* a taught chain's first walks in a forked child: as the making the
	 * child did before its parent was taught it (chains.h) */
	if (known && chain_made.forked && (AT_LOAD_RELAXED(&tag->flags) & AT_CHAIN_TAUGHT) &&
	    chain_made.taught_walks < AT_LOAD_RELAXED(&chain_made.taught)) {
		chain_made.taught_walks++;
		known = 0;
	}
	memo_put(m, (uintptr_t)ra, from, tag, &tr, known);
	return tag;
}

/* The chain the lean walk reads (unwind.h at_unwind_lean) if a chain
 * table holds it, kept in the memo as chains.h says (The lean walk); else
 * NULL, nothing written. */
static AT_NOINLINE struct alloc_tag *chain_lean(uintptr_t from, const void *ra)
{
	struct at_chain_memo *m = at_memo_tls.m;
	if (m == AT_MEMO_NONE)
		return NULL; /* the walk makes the memo */
	unsigned int depth = at_chain_depth;
	uintptr_t f[depth];
	unsigned int n = at_unwind_lean(f, depth, from, (uintptr_t)ra, NULL);
	struct at_chain *c = n ? probe_both(f, n, at_chain_hash(f, n)) : NULL;
	/* a forked child's first walks of a taught chain count as its
	 * making (chain_unwind) */
	if (!c || (chain_made.forked && (AT_LOAD_RELAXED(&c->tag.flags) & AT_CHAIN_TAUGHT) &&
		   chain_made.taught_walks < AT_LOAD_RELAXED(&chain_made.taught)))
		return NULL;
	/* kept in a set's free way; in a full set, one time in
	 * AT_MEMO_PUT_EVERY while the memo can grow, then one time in
	 * AT_MEMO_LEAN_PUT_EVERY (chains.h: The lean walk) */
	if (!at_memo_tls.busy &&
	    (!m->e[at_memo_set((uintptr_t)ra, from) & m->mask][AT_MEMO_WAYS - 1].key ||
	     (++m->passed & ((m->mask < AT_MEMO_SETS - 1 ? AT_MEMO_PUT_EVERY : AT_MEMO_LEAN_PUT_EVERY) - 1)) == 0)) {
		struct at_unwind_trace tr;
		if (at_unwind_lean(f, depth, from, (uintptr_t)ra, &tr) == n)
			memo_put(m, (uintptr_t)ra, from, &c->tag, &tr, 2);
	}
	return &c->tag;
}

struct alloc_tag *at_chain_walk(uintptr_t from, const void *ra)
{
	struct alloc_tag *tag = chain_lean(from, ra);
	if (tag)
		return tag;
	return chain_unwind(from, ra);
}

struct at_memo_entry *at_memo_lookup(struct at_chain_memo *m, uintptr_t ra, uintptr_t from)
{
	struct at_memo_entry *e = at_memo_find(m, ra, from);
	if (!e)
		at_chain_entry_done();
	return e;
}

/* The tag of entry e (found, the memo busy), the memo released. */
static inline struct alloc_tag *entry_tag(const struct at_memo_entry *e)
{
	struct alloc_tag *t = e->tag;
	at_chain_entry_done();
	return t;
}

AT_NOINLINE struct alloc_tag *at_chain_here(uintptr_t from, const void *ra)
{
	struct at_memo_entry *e = at_chain_entry(from, ra);
	if (at_likely(e != NULL))
		return entry_tag(e);
	return at_chain_walk(from, ra);
}

void at_chain_made(struct alloc_tag *t, void *p)
{
	uint32_t i = t && p ? AT_LOAD_RELAXED(&t->idx) : 0;
	if (i >= AT_IDX_FIRST)
		at_cum_add(i, (int64_t)at_usable_size(p));
}

uint32_t at_chain_count(void)
{
	return AT_LOAD_RELAXED(&chain_made.nr_chains);
}

size_t at_chain_memory(void)
{
	return at_sites_memory() + AT_LOAD_RELAXED(&chain_table_bytes) +
	       AT_LOAD_RELAXED(&memo_bytes) + at_unwind_memory() +
	       at_teach_memory();
}

int alloctag_chain_stats(struct alloctag_chain_stats *out)
{
	if (AT_LOAD(&at_state) != AT_STATE_READY)
		return -EPERM;
	out->chains = at_chain_count();
	out->bytes = at_chain_memory() +
		     out->chains * 2 * sizeof(struct at_counter) * (at_counters_nread() + 1);
	return 0;
}

struct at_chain *at_chain_of(const struct alloc_tag *tag)
{
	if (!tag || !(AT_LOAD_RELAXED(&tag->flags) & AT_TAG_CHAIN))
		return NULL;
	return (struct at_chain *)((char *)tag - offsetof(struct at_chain, tag));
}
