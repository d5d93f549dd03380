/*
 * Huge blocks: direct mmap, between two guard pages (see huge.h).
 *
 * Table: AT_HUGE_MAX entries {addr, len, map, map_len, ref, guarded, rw},
 * mmap'd on first use, entries [0, table_hi) scanned under huge_lock.
 *
 * Guarded blocks (ALLOCTAG_SECURE's, at_huge_alloc_guarded): a mapping of
 * 2 * class_len + 2 pages (class_len: four lengths per power of two, from
 * the block's whole pages), PROT_NONE but for [rw, hi), where the block
 * ends (hi, its back guard: the page at hi is PROT_NONE):
 *
 *   map   front guard    rw ... block's first page ... hi   back guard, room to grow
 *   | page | PROT_NONE  | read-write: front slack, block |  PROT_NONE ... | page |
 *
 * A fresh mapping has hi = map + page + class_len.  realloc grows a block
 * in place (at_huge_grow_guarded) by moving hi up into the room above (one
 * mprotect adding pages, no copy), up to the mapping's last page.  When
 * freed, up to CACHE_MAX mappings (CACHE_BYTES of read-write pages in all)
 * are kept and handed out again to a block of the same class, which ends
 * at the kept mapping's hi: its first page at or above rw costs no
 * mprotect (level 1 leaves the pages between rw and it read-write; the
 * front slack's canary then reaches AT_SECURE_LARGE_BELOW bytes below the
 * block at least), below rw one adding pages; no page faults.  Level 2
 * keeps the page below a block PROT_NONE (an mprotect taking pages away,
 * if need be) and makes a freed block's first page PROT_NONE; level 1
 * poisons a freed block's first bytes instead, checked when its mapping is
 * handed out again.
 * recent[]: the last RECENT blocks freed (or cached), so that a second free
 * is named a double free rather than a foreign pointer.
 */
#include "pages/huge.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>

#include "store/charge.h"
#include "core/fork_locks.h"
#include "core/message.h"
#include "core/peak_hook.h"
#include "objects/secure.h"

struct huge {
	char *addr; /* NULL: entry unused */
	size_t len;
	char *map;
	size_t map_len;
	at_ref_t ref;
	int guarded; /* from at_huge_alloc_guarded: may be cached when freed */
	char *rw;    /* guarded: [rw, addr + len) is read-write */
};

struct cached {
	char *map;
	size_t map_len;
	char *rw, *hi; /* [rw, hi) is read-write */
	char *was;     /* the freed block (level 1: its first bytes poisoned) */
	size_t was_len;
};

#define RECENT 64
#define CACHE_MAX 128
#define CACHE_BYTES ((size_t)128 << 20)

AT_FORK_LOCK static pthread_mutex_t huge_lock = PTHREAD_MUTEX_INITIALIZER;
static struct huge *table;
static unsigned int table_hi;
AT_BIG_BSS static char *recent[RECENT];
static unsigned int recent_next;
AT_BIG_BSS static struct cached cache[CACHE_MAX];
static unsigned int cache_n, cache_pending; /* pending: level 2's, being protected */
static size_t cache_bytes;
static size_t nr_live, live_bytes, max_live, max_bytes; /* under huge_lock */

void at_huge_lock(void)
{
	pthread_mutex_lock(&huge_lock);
}

void at_huge_unlock(void)
{
	pthread_mutex_unlock(&huge_lock);
}

AT_FORK_TEXT void at_huge_fork_child(void)
{
	at_fork_child_reset(&huge_lock, (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER);
}

static struct huge *find(const void *p)
{
	if (!table)
		return NULL;
	for (unsigned int i = 0; i < table_hi; i++)
		if (table[i].addr == p)
			return &table[i];
	return NULL;
}

static struct huge *find_free(void)
{
	if (!table) {
		void *t = mmap(NULL, AT_HUGE_MAX * sizeof(struct huge), PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (t == MAP_FAILED)
			return NULL;
		table = t;
	}
	struct huge *h = find(NULL);
	if (!h && table_hi < AT_HUGE_MAX)
		h = &table[table_hi++];
	return h;
}

static int freed_recently(const void *p)
{
	for (unsigned int i = 0; i < RECENT; i++)
		if (p && recent[i] == p)
			return 1;
	return 0;
}

static void forget_recent(const void *p)
{
	for (unsigned int i = 0; i < RECENT; i++)
		if (recent[i] == p)
			recent[i] = NULL;
}

/* Record a block (lock held); 0 if the table is full. */
static int install(char *addr, size_t len, char *map, size_t map_len, at_ref_t ref, char *rw)
{
	struct huge *h = find_free();
	if (!h)
		return 0;
	h->addr = addr;
	h->len = len;
	h->map = map;
	h->map_len = map_len;
	h->ref = ref;
	h->guarded = rw != NULL;
	h->rw = rw;
	forget_recent(addr);
	nr_live++;
	live_bytes += len;
	if (nr_live > max_live)
		max_live = nr_live;
	if (live_bytes > max_bytes)
		max_bytes = live_bytes;
	return 1;
}

/* A mapped block made live: listed, charged, counted for the peak; or
 * unmapped and NULL with ENOMEM when the table is full. */
static void *publish(char *addr, size_t len, char *map, size_t map_len, at_ref_t ref, char *rw)
{
	pthread_mutex_lock(&huge_lock);
	int ok = install(addr, len, map, map_len, ref, rw);
	pthread_mutex_unlock(&huge_lock);
	if (!ok) {
		munmap(map, map_len);
		errno = ENOMEM;
		return NULL;
	}
	at_charge(ref, (int64_t)len);
	at_peak_add((int64_t)len);
	return addr;
}

/* A guarded mapping's length but its two guards, for a block of len bytes
 * (whole pages): four lengths per power of two. */
static size_t class_of(size_t len)
{
	if (len < AT_PAGE_SIZE * 4)
		return len;
	unsigned int b = 63u - (unsigned int)__builtin_clzll(len);
	size_t step = (size_t)1 << (b - 2);
	return (len + step - 1) & ~(step - 1);
}

/* The length of a guarded mapping of class class_len (the layout above). */
static size_t guarded_map_len(size_t class_len)
{
	return 2 * class_len + 2 * AT_PAGE_SIZE;
}

/* The poisoned start of a freed guarded block of len bytes (level 1). */
static size_t poison_len(size_t len)
{
	return len < AT_SECURE_LARGE_POISON ? len : AT_SECURE_LARGE_POISON;
}

static at_ref_t current_ref(void)
{
	if (AT_LOAD_RELAXED(&at_state) == AT_STATE_READY)
		return at_current_ref();
	return AT_REF_NONE;
}

/* Map len bytes aligned to align between two guard pages; NULL on failure. */
static char *map_guarded(size_t len, size_t align, char **map_out, size_t *map_len_out)
{
	size_t map_len = len + align + AT_PAGE_SIZE; /* room for the guards */
	if (map_len < len || map_len > PTRDIFF_MAX)
		return NULL;
	char *map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return NULL;
	char *addr = (char *)(((uintptr_t)map + AT_PAGE_SIZE + align - 1) & ~(uintptr_t)(align - 1));
	/* The alignment's slack given back (under an address-space limit it
	 * counts: a 2 GiB-aligned block held 2 GiB); kept if the kernel
	 * refuses. */
	size_t head = (size_t)(addr - AT_PAGE_SIZE - map);
	size_t tail = map_len - head - len - 2 * AT_PAGE_SIZE;
	if (head && !munmap(map, head)) {
		map += head;
		map_len -= head;
	}
	if (tail && !munmap(addr + len + AT_PAGE_SIZE, tail))
		map_len -= tail;
	/* Guards: an underflow or overflow reaching past the block faults.  If
	 * the kernel refuses (out of mappings), the block goes without. */
	mprotect(addr - AT_PAGE_SIZE, AT_PAGE_SIZE, PROT_NONE);
	mprotect(addr + len, AT_PAGE_SIZE, PROT_NONE);
	*map_out = map;
	*map_len_out = map_len;
	return addr;
}

void *at_huge_alloc(size_t size, size_t align)
{
	if (align < AT_PAGE_SIZE)
		align = AT_PAGE_SIZE;
	size_t len = (size + AT_PAGE_SIZE - 1) & ~(AT_PAGE_SIZE - 1);
	if (len < size || len > PTRDIFF_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	at_ref_t ref = current_ref();
	char *map;
	size_t map_len;
	char *addr = map_guarded(len, align, &map, &map_len);
	if (!addr) {
		errno = ENOMEM;
		return NULL;
	}
	return publish(addr, len, map, map_len, ref, NULL);
}

/*
 * A guarded mapping of class class_len for a block of len bytes (whole
 * pages): the mapping, and *rw_out and *hi_out (the layout above) with
 * [hi - len, hi) read-write.  One of the cache's of that class, preferring
 * one that needs no mprotect (level 1: the write-after-free check made),
 * else a new one; NULL if none can be had.
 */
static char *guarded_mapping(size_t class_len, size_t len, char **rw_out, char **hi_out)
{
	size_t map_len = guarded_map_len(class_len);
	int level2 = AT_LOAD_RELAXED(&at_secure_heap) >= 2;
	struct cached got = {0};
	pthread_mutex_lock(&huge_lock);
	unsigned int pick = cache_n;
	for (unsigned int i = 0; i < cache_n; i++) {
		if (cache[i].map_len != map_len)
			continue;
		if (pick == cache_n)
			pick = i;
		char *need = cache[i].hi - len; /* no mprotect needed: */
		if (level2 ? cache[i].rw == need : cache[i].rw <= need) {
			pick = i;
			break;
		}
	}
	if (pick < cache_n) {
		got = cache[pick];
		cache[pick] = cache[--cache_n];
		cache_bytes -= (size_t)(got.hi - got.rw);
	}
	pthread_mutex_unlock(&huge_lock);
	char *map = got.map, *rw = got.rw, *addr = map ? got.hi - len : NULL;
	if (map && got.was_len && !at_secure_poisoned(got.was, got.was + poison_len(got.was_len)))
		at_fatal("write after free to a %zu-byte block at %p (found when it was handed out "
			 "again)", got.was_len, (void *)got.was);
	if (map) { /* the front guard moved down (level 2: up, too) */
		int err = 0;
		if (addr < rw)
			err = mprotect(addr, (size_t)(rw - addr), PROT_READ | PROT_WRITE);
		else if (addr > rw && level2)
			err = mprotect(rw, (size_t)(addr - rw), PROT_NONE);
		if (!err) {
			*rw_out = addr < rw || level2 ? addr : rw;
			*hi_out = got.hi;
			return map;
		}
		munmap(map, map_len);
	}
	map = mmap(NULL, map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return NULL;
	char *hi = map + AT_PAGE_SIZE + class_len;
	if (mprotect(hi - len, len, PROT_READ | PROT_WRITE)) {
		munmap(map, map_len);
		return NULL;
	}
	*rw_out = hi - len;
	*hi_out = hi;
	return map;
}

/* A guarded block's front slack, checked at free: from its first page's
 * start, or, the page below read-write (level 1's left-over pages), from
 * AT_SECURE_LARGE_BELOW bytes below the block if that is lower, to the
 * block's start. */
static char *slack_from(char *addr, char *rw)
{
	char *page = (char *)((uintptr_t)addr & ~(uintptr_t)(AT_PAGE_SIZE - 1));
	if (page == rw || (size_t)(addr - page) >= AT_SECURE_LARGE_BELOW)
		return page;
	return addr - AT_SECURE_LARGE_BELOW;
}

/*
 * A guarded block (layout above): the size asked rounded up to its
 * alignment (16 bytes at least), its usable size, ending at the back guard,
 * so an overflow of one byte past it faults; the front slack, from the page
 * boundary below the block (or lower: slack_from) to its start, holds a
 * canary (secure.h), checked at free.
 */
void *at_huge_alloc_guarded(size_t size, size_t align)
{
	if (align > AT_PAGE_SIZE)
		return at_huge_alloc(size, align);
	size_t len = (size + AT_PAGE_SIZE - 1) & ~(AT_PAGE_SIZE - 1);
	if (len < size || len >= ((size_t)1 << 60)) {
		errno = ENOMEM;
		return NULL;
	}
	size_t a = align < 16 ? 16 : align;
	size_t blen = (size + a - 1) & ~(a - 1); /* the block ends at the back guard */
	size_t class_len = class_of(len);
	at_ref_t ref = current_ref();
	char *rw, *hi, *map = guarded_mapping(class_len, len, &rw, &hi);
	if (!map) {
		errno = ENOMEM;
		return NULL;
	}
	char *addr = hi - blen;
	at_secure_fill(slack_from(addr, rw), addr);
	return publish(addr, blen, map, guarded_map_len(class_len), ref, rw);
}

/*
 * realloc growing guarded block p to n bytes in place: its back guard moves
 * up into its mapping's room (one mprotect adding pages), so the block's
 * new size is n rounded up to end at a page boundary (less than a page
 * more than n: its usable size), and it still ends right at its back guard.
 * Charged as a move (the old size uncharged from its reference, the new one
 * charged to the current reference).  0 (nothing changed) if p is not a
 * live guarded block, the room is too small or the kernel refuses: the
 * caller then moves it by copying.
 */
int at_huge_grow_guarded(void *p, size_t n)
{
	pthread_mutex_lock(&huge_lock);
	struct huge *h = find(p);
	struct huge e = h && p ? *h : (struct huge){0};
	pthread_mutex_unlock(&huge_lock);
	if (!e.guarded || n <= e.len || n > (size_t)(e.map + e.map_len - AT_PAGE_SIZE - e.addr))
		return 0;
	char *hi = e.addr + e.len;
	size_t add = (n - e.len + AT_PAGE_SIZE - 1) & ~(AT_PAGE_SIZE - 1);
	if (mprotect(hi, add, PROT_READ | PROT_WRITE))
		return 0;
	at_ref_t ref = current_ref();
	pthread_mutex_lock(&huge_lock);
	h->len = e.len + add;
	h->ref = ref;
	live_bytes += add;
	if (live_bytes > max_bytes)
		max_bytes = live_bytes;
	pthread_mutex_unlock(&huge_lock);
	at_uncharge(e.ref, (int64_t)e.len);
	at_charge(ref, (int64_t)(e.len + add));
	at_peak_add((int64_t)add);
	return 1;
}

void at_huge_free(void *p, const char *what)
{
	pthread_mutex_lock(&huge_lock);
	struct huge *h = find(p);
	if (!h || !p) {
		int again = freed_recently(p);
		pthread_mutex_unlock(&huge_lock);
		if (again)
			at_fatal("%s(%p): double free (the huge block is already free)", what, p);
		at_fatal("%s(%p): not a block alloctag handed out", what, p);
	}
	struct huge e = *h;
	char *page = (char *)((uintptr_t)e.addr & ~(uintptr_t)(AT_PAGE_SIZE - 1));
	if (e.guarded && !at_secure_intact(slack_from(e.addr, e.rw), e.addr)) {
		pthread_mutex_unlock(&huge_lock);
		at_fatal("heap underflow before a %zu-byte block at %p; found by %s", e.len, p, what);
	}
	h->addr = NULL;
	while (table_hi && !table[table_hi - 1].addr)
		table_hi--;
	recent[recent_next++ % RECENT] = e.addr;
	int level2 = AT_LOAD_RELAXED(&at_secure_heap) >= 2;
	/* what it keeps: its read-write pages (level 2: less the first) */
	size_t kept = (size_t)(e.addr + e.len - e.rw) - (level2 ? AT_PAGE_SIZE : 0);
	int keep = e.guarded && cache_n + cache_pending < CACHE_MAX &&
		   cache_bytes + kept <= CACHE_BYTES;
	if (keep) {
		cache_bytes += kept;
		if (!level2) { /* poisoned: checked when handed out again */
			at_secure_poison(e.addr, e.addr + poison_len(e.len));
			cache[cache_n++] =
				(struct cached){e.map, e.map_len, e.rw, e.addr + e.len, e.addr, e.len};
		} else {
			cache_pending++; /* its room, filled below */
		}
	}
	nr_live--;
	live_bytes -= e.len;
	pthread_mutex_unlock(&huge_lock);
	at_uncharge(e.ref, (int64_t)e.len);
	at_peak_add(-(int64_t)e.len);
	/* Level 2: its first page PROT_NONE (a write after free faults), out
	 * of the lock; the mapping enters the cache once that is done. */
	if (keep && level2) {
		int ok = !mprotect(page, AT_PAGE_SIZE, PROT_NONE); /* page == e.rw */
		pthread_mutex_lock(&huge_lock);
		cache_pending--;
		if (ok)
			cache[cache_n++] = (struct cached){e.map, e.map_len, page + AT_PAGE_SIZE,
							   e.addr + e.len, NULL, 0};
		else
			cache_bytes -= kept;
		pthread_mutex_unlock(&huge_lock);
		keep = ok;
	}
	if (!keep)
		munmap(e.map, e.map_len);
}

size_t at_huge_size(const void *p, const char *what)
{
	pthread_mutex_lock(&huge_lock);
	struct huge *h = find(p);
	size_t len = h && p ? h->len : 0;
	pthread_mutex_unlock(&huge_lock);
	if (!len)
		at_fatal("%s(%p): not a block alloctag handed out", what, p);
	return len;
}

void at_huge_stats(struct at_huge_stats *st)
{
	pthread_mutex_lock(&huge_lock);
	st->count = nr_live;
	st->bytes = live_bytes;
	st->max_count = max_live;
	st->max_bytes = max_bytes;
	pthread_mutex_unlock(&huge_lock);
}
