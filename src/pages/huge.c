/* Huge blocks: direct mmap (see huge.h). */
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
static size_t nr_live, live_bytes, max_live, max_bytes; /* under huge_lock */

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
	size_t map_len = len + align - AT_PAGE_SIZE;
	if (len < size || map_len < len || map_len > PTRDIFF_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	char *map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED) {
		errno = ENOMEM;
		return NULL;
	}
	char *addr = (char *)(((uintptr_t)map + align - 1) & ~(uintptr_t)(align - 1));
	at_ref_t ref = AT_REF_NONE;
	if (at_state == AT_STATE_READY)
		ref = at_current_ref();

	pthread_mutex_lock(&huge_lock);
	if (!table) {
		void *t = mmap(NULL, AT_HUGE_MAX * sizeof(struct huge), PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (t != MAP_FAILED)
			table = t;
	}
	struct huge *h = find(NULL);
	if (h) {
		h->addr = addr;
		h->len = len;
		h->map = map;
		h->map_len = map_len;
		h->ref = ref;
		nr_live++;
		live_bytes += len;
		if (nr_live > max_live)
			max_live = nr_live;
		if (live_bytes > max_bytes)
			max_bytes = live_bytes;
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
		pthread_mutex_unlock(&huge_lock);
		at_fatal("%s(%p): not a block alloctag handed out", what, p);
	}
	struct huge e = *h;
	h->addr = NULL;
	nr_live--;
	live_bytes -= e.len;
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

void at_huge_stats(struct at_huge_stats *st)
{
	pthread_mutex_lock(&huge_lock);
	st->count = nr_live;
	st->bytes = live_bytes;
	st->max_count = max_live;
	st->max_bytes = max_bytes;
	pthread_mutex_unlock(&huge_lock);
}
