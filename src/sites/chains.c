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
 */
#include "sites/chains.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "core/control.h"
#include "core/counters.h"
#include "core/message.h"
#include "core/tag_registry.h"
#include "modules/registration.h"
#include "sites/site_names.h"
#include "sites/unwind.h"

unsigned int at_chain_depth = AT_CHAIN_DEFAULT_DEPTH;
struct at_chain_table *at_chain_table;
struct at_chain *at_chain_all;
static uint32_t nr_chains;     /* registry lock for writes */
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
		struct at_chain_table *nt = table_new(t ? t->shift + 1 : 12);
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
		if (!(fr[i] = at_frame_get(f[i])))
			goto nomem;
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
	if (!named->chains) {
		named->next_named = at_named_frames;
		AT_STORE(&at_named_frames, named);
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

AT_NOINLINE struct alloc_tag *at_chain_here(uintptr_t from, const void *ra)
{
	uintptr_t f[AT_CHAIN_MAX];
	unsigned int n = at_unwind(f, at_chain_depth, from);
	if (!n) {
		f[0] = (uintptr_t)ra;
		n = 1;
	}
	return at_chain_tag(f, n);
}

uint32_t at_chain_count(void)
{
	return AT_LOAD_RELAXED(&nr_chains);
}

size_t at_chain_memory(void)
{
	return at_sites_memory() + AT_LOAD_RELAXED(&chain_table_bytes) +
	       (size_t)AT_RULE_SLOTS * sizeof(uint64_t);
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
