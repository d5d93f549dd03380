/*
 * Thread caches (see tcache.h): creation, refill and flush, thread exit, and
 * fork.
 *
 * Heaps are mmap'd (outside the page heap) and recycled through a free list.
 * Thread exit: a pthread key's destructor flushes the heap's bins and large
 * blocks and recycles it; the thread's later calls bypass the cache.
 * fork(): pthread_atfork handlers take every class lock and the heap-pool
 * lock (the page allocator's handlers, registered earlier, run after ours in
 * prepare and take its arena locks), so the child starts with consistent
 * lists, unless the process has only ever had one thread (core/fork_locks.h);
 * caches of threads that do not exist in the child are leaked.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "pages/huge.h"
#include "core/fork_locks.h"
#include "core/message.h"
#include "objects/tcache.h"
#include "core/retry_once.h"
#include "core/peak_hook.h"

__thread struct at_theap *at_tls_heap;
const struct at_bin at_bins_none[AT_NR_CLASSES];
struct at_theap *at_all_heaps;

AT_FORK_LOCK static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct at_theap *pool;
static pthread_key_t heap_key;
AT_DATA_PAGE static struct at_retry_once malloc_once = AT_RETRY_ONCE_INIT;
static size_t heap_bytes;

/* Each class's own region, in slots from the heap's slots (tcache.h: the
 * first regions before them); set up with the heap size. */
static uint32_t full_at[AT_NR_CLASSES];

static unsigned int bin_cap(unsigned int cls)
{
	unsigned int cap = (unsigned int)(AT_SLAB_SIZE / at_class_size[cls]);
	if (cap > AT_BIN_MAX)
		cap = AT_BIN_MAX;
	if (cap < 8)
		cap = 8;
	return cap & ~1u;
}

static void atfork_prepare(void)
{
	struct at_theap *h = at_tls_heap;
	if (!at_fold_on)
		AT_STORE_RELAXED(&at_fold_on, 1); /* fold_cache.h */
	else if ((uintptr_t)h > 1 && h->folded)
		at_fold_fork(h);
	if (!at_fork_locking())
		return;
	pthread_mutex_lock(&pool_lock);
	at_huge_lock();
	at_slab_lock_all();
}

static void atfork_parent(void)
{
	if (!at_fork_locking())
		return;
	at_slab_unlock_all();
	at_huge_unlock();
	pthread_mutex_unlock(&pool_lock);
}

AT_FORK_TEXT static void atfork_child(void)
{
	at_slab_fork_child();
	at_fork_child_reset(&pool_lock, (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER);
	at_huge_fork_child();
}

_Static_assert((AT_LC_MAX + 1 - AT_LC_MIN) * sizeof(struct at_lcache) <= AT_PAGE_SIZE,
	       "the large-block caches fit the heap's last page");

static void theap_destroy(void *arg);
static void lcache_drop(struct at_theap *h, unsigned int o, unsigned int k);

/* Run until it succeeds (retry_once.h). */
static int malloc_setup(void)
{
	if (at_slab_init())
		return ENOMEM;
	uint32_t at = AT_BIN_FIRST_END;
	for (unsigned int c = 1; c < AT_NR_CLASSES; c++) {
		unsigned int cap = bin_cap(c);
		if (cap <= AT_BIN_FIRST)
			continue;
		if (at % (2 * AT_BIN_ENTS) + cap > AT_BIN_ENTS) /* the next page's low half */
			at = (at / (2 * AT_BIN_ENTS) + 1) * 2 * AT_BIN_ENTS;
		full_at[c] = at;
		at += cap;
	}
	heap_bytes = sizeof(struct at_theap) + (size_t)(at + 2 * AT_BIN_ENTS - 1) / (2 * AT_BIN_ENTS) * AT_PAGE_SIZE +
		     AT_PAGE_SIZE; /* the large-block caches' page */
	if (pthread_key_create(&heap_key, theap_destroy))
		return EAGAIN;
	/* After the page allocator's (at_slab_init -> at_heap_init): see above. */
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	return 0;
}

int at_malloc_init(void)
{
	return at_retry_once(&malloc_once, malloc_setup);
}

struct at_theap *at_theap_get(void)
{
	struct at_theap *h = at_tls_heap;
	if (h)
		return h == AT_THEAP_DEAD ? NULL : h;
	if (at_malloc_init())
		return NULL;
	pthread_mutex_lock(&pool_lock);
	h = pool;
	if (h)
		pool = h->next_free;
	pthread_mutex_unlock(&pool_lock);
	if (!h) {
		h = mmap(NULL, heap_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (h == MAP_FAILED)
			return NULL;
		for (unsigned int c = 1; c < AT_NR_CLASSES; c++) {
			unsigned int cap = bin_cap(c);
			h->bins[c].cap = (uint8_t)(cap < AT_BIN_FIRST ? cap : AT_BIN_FIRST);
			h->bins[c].magic = at_class_magic[c];
			h->bins[c].word = at_bin_word(AT_IDX_EMPTY, 0, 0); /* bin_charge.h */
			h->bins[c].slots = at_bin_first_slots(h, c);
		}
		h->lc = (struct at_lcache *)((char *)h + heap_bytes - AT_PAGE_SIZE);
		pthread_mutex_lock(&pool_lock);
		h->next_all = at_all_heaps;
		AT_STORE(&at_all_heaps, h); /* published whole: readers walk it unlocked */
		pthread_mutex_unlock(&pool_lock);
	}
	h->next_free = NULL;
	/* Set before pthread_setspecific, which may itself call calloc. */
	at_tls_heap = h;
	at_tls_bins = h->bins;
	pthread_setspecific(heap_key, h);
	return h;
}

static void theap_destroy(void *arg)
{
	struct at_theap *h = arg;
	at_tls_heap = AT_THEAP_DEAD;
	at_tls_bins = (struct at_bin *)at_bins_none;
	for (unsigned int c = 1; c < AT_NR_CLASSES; c++) {
		struct at_bin *b = &h->bins[c];
		unsigned int n = at_bin_count(b->word);
		at_bin_fold(&b->word, c);
		if (n) {
			at_slab_flush(c, b->slots, n);
			at_bin_fill(&b->word, c, -(int)n);
		}
	}
	for (unsigned int o = AT_LC_MIN; h->lbytes && o <= AT_LC_MAX; o++)
		lcache_drop(h, o, at_lc(h, o)->count);
	if (h->folded)
		at_fold_spill(h); /* fold_cache.h: a heap in the pool holds none */
	pthread_mutex_lock(&pool_lock);
	h->next_free = pool;
	pool = h;
	pthread_mutex_unlock(&pool_lock);
}

/* Move bin cls from its first region to its own, if it is not there yet
 * (tcache.h); whether it moved. */
static int bin_grow(struct at_theap *h, unsigned int cls)
{
	struct at_bin *b = &h->bins[cls];
	unsigned int cap = bin_cap(cls), n = at_bin_count(b->word);
	if (b->cap == cap)
		return 0;
	void **to = h->slots + full_at[cls];
	memcpy(to, b->slots, n * sizeof(void *));
	memcpy(at_bin_ents(to), at_bin_ents(b->slots), n * sizeof(void *));
	b->slots = to;
	b->cap = (uint8_t)cap;
	return 1;
}

int at_bin_refill(struct at_theap *h, unsigned int cls)
{
	struct at_bin *b = &h->bins[cls];
	if (b->refills < AT_BIN_GROW_REFILLS && ++b->refills == AT_BIN_GROW_REFILLS)
		bin_grow(h, cls);
	unsigned int n = at_slab_refill(cls, b->slots, b->cap / 2, AT_LOAD_RELAXED(&at_store_mode) == AT_STORE_SIDE);
	if (!n)
		return 0;
	uint16_t **ents = at_bin_ents(b->slots);
	for (unsigned int i = 0; i < n; i++)
		ents[i] = at_obj_entry_of(b->slots[i], at_obj_index_m((uintptr_t)b->slots[i], b->magic));
	at_bin_fill(&b->word, cls, (int)n); /* the bin was empty */
	return 1;
}

void at_bin_flush(struct at_theap *h, unsigned int cls)
{
	struct at_bin *b = &h->bins[cls];
	if (bin_grow(h, cls))
		return; /* room now */
	unsigned int half = b->cap / 2, n = at_bin_count(b->word);
	at_slab_flush(cls, b->slots, half);
	memmove(b->slots, b->slots + half, (n - half) * sizeof(void *));
	memmove(at_bin_ents(b->slots), at_bin_ents(b->slots) + half, (n - half) * sizeof(void *));
	at_bin_fill(&b->word, cls, -(int)half);
}

uint32_t at_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

/* Release the k oldest blocks of order o. */
static void lcache_drop(struct at_theap *h, unsigned int o, unsigned int k)
{
	struct at_lcache *lc = at_lc(h, o);
	for (unsigned int i = 0; i < k; i++) {
		at_page_clear_flags(&at_pages[at_addr_to_pfn(lc->blk[i])], AT_PG_OWNER1);
		at_peak_add((int64_t)AT_PAGE_SIZE << o); /* the release takes it off again */
		at_page_release(lc->blk[i], o);
	}
	lc->count -= k;
	memmove(lc->blk, lc->blk + k, lc->count * sizeof(lc->blk[0]));
	memmove(lc->when, lc->when + k, lc->count * sizeof(lc->when[0]));
	h->lbytes -= (AT_PAGE_SIZE << o) * k;
}

void at_lcache_put(struct at_theap *h, void *p, unsigned int order)
{
	uint32_t now = at_now_ms();
	size_t bytes = AT_PAGE_SIZE << order;
	if (now - h->last_decay >= AT_LC_DECAY_MS / 4) {
		h->last_decay = now;
		for (unsigned int o = AT_LC_MIN; o <= AT_LC_MAX; o++) {
			unsigned int k = 0;
			while (k < at_lc(h, o)->count && now - at_lc(h, o)->when[k] > AT_LC_DECAY_MS)
				k++;
			if (k)
				lcache_drop(h, o, k);
		}
	}
	struct at_lcache *lc = at_lc(h, order);
	if (lc->count == AT_LC_N)
		lcache_drop(h, order, 1);
	/* Over the byte budget: drop the oldest blocks of the largest orders. */
	for (unsigned int o = AT_LC_MAX; h->lbytes + bytes > AT_LC_BYTES && o >= AT_LC_MIN; o--)
		while (at_lc(h, o)->count && h->lbytes + bytes > AT_LC_BYTES)
			lcache_drop(h, o, 1);
	lc->blk[lc->count] = p;
	lc->when[lc->count++] = now;
	h->lbytes += bytes;
	at_peak_add(-(int64_t)bytes);
}

size_t at_theap_trim(void)
{
	struct at_theap *h = at_tls_heap;
	size_t bytes = 0;
	if ((uintptr_t)h <= 1)
		return 0;
	for (unsigned int c = 1; c < AT_NR_CLASSES; c++) {
		struct at_bin *b = &h->bins[c];
		unsigned int n = at_bin_count(b->word);
		if (n) {
			at_slab_flush(c, b->slots, n);
			at_bin_fill(&b->word, c, -(int)n);
		}
	}
	bytes = h->lbytes;
	for (unsigned int o = AT_LC_MIN; h->lbytes && o <= AT_LC_MAX; o++)
		lcache_drop(h, o, at_lc(h, o)->count);
	return bytes;
}
