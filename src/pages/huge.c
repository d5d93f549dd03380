/* Huge blocks: direct mmap, between two guard pages (see huge.h). */
#include "pages/huge.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>

#include "store/charge.h"
#include "core/message.h"

struct huge {
	char *addr; /* NULL: entry unused */
	size_t len;
	char *map;
	size_t map_len;
	at_ref_t ref;
};

static pthread_mutex_t huge_lock = PTHREAD_MUTEX_INITIALIZER;
static struct huge *table;
/* The last RECENT blocks freed (huge_lock held), so that freeing one again
 * is called a double free rather than a foreign pointer. */
#define RECENT 64
static char *recent[RECENT];
static unsigned int recent_next;

static int freed_recently(const void *p)
{
	for (unsigned int i = 0; i < RECENT; i++)
		if (p && recent[i] == p)
			return 1;
	return 0;
}

void at_huge_lock(void)
{
	pthread_mutex_lock(&huge_lock);
}

void at_huge_unlock(void)
{
	pthread_mutex_unlock(&huge_lock);
}

static struct huge *find(const void *p)
{
	if (!table)
		return NULL;
	for (unsigned int i = 0; i < AT_HUGE_MAX; i++)
		if (table[i].addr == p)
			return &table[i];
	return NULL;
}

void *at_huge_alloc(size_t size, size_t align)
{
	if (align < AT_PAGE_SIZE)
		align = AT_PAGE_SIZE;
	size_t len = (size + AT_PAGE_SIZE - 1) & ~(AT_PAGE_SIZE - 1);
	size_t map_len = len + align + AT_PAGE_SIZE; /* room for the guards */
	if (len < size || map_len < len || map_len > PTRDIFF_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	char *map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED) {
		errno = ENOMEM;
		return NULL;
	}
	char *addr = (char *)(((uintptr_t)map + AT_PAGE_SIZE + align - 1) & ~(uintptr_t)(align - 1));
	/* Guards: an underflow or overflow reaching past the block faults.  If
	 * the kernel refuses (out of mappings), the block goes without. */
	mprotect(addr - AT_PAGE_SIZE, AT_PAGE_SIZE, PROT_NONE);
	mprotect(addr + len, AT_PAGE_SIZE, PROT_NONE);
	at_ref_t ref = AT_REF_NONE;
	if (AT_LOAD_RELAXED(&at_state) == AT_STATE_READY)
		ref = at_current_ref();

	pthread_mutex_lock(&huge_lock);
	if (!table) {
		void *t = mmap(NULL, AT_HUGE_MAX * sizeof(struct huge), PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (t != MAP_FAILED)
			table = t;
	}
	struct huge *h = find(NULL);
	for (unsigned int i = 0; i < RECENT; i++)
		if (recent[i] == addr)
			recent[i] = NULL;
	if (h) {
		h->addr = addr;
		h->len = len;
		h->map = map;
		h->map_len = map_len;
		h->ref = ref;
	}
	pthread_mutex_unlock(&huge_lock);
	if (!h) {
		munmap(map, map_len);
		errno = ENOMEM;
		return NULL;
	}
	at_charge(ref, (int64_t)len);
	return addr;
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
	h->addr = NULL;
	recent[recent_next++ % RECENT] = e.addr;
	pthread_mutex_unlock(&huge_lock);
	at_uncharge(e.ref, (int64_t)e.len);
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
