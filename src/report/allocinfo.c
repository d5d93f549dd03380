/*
 * Reports: the kernel's /proc/allocinfo text (version 2.0) and top users.
 *
 *   allocinfo - version: 2.0
 *   #     <size>  <calls> <tag info>
 *   %12lli %8llu file:line func:name[ key:value ...] \n
 * with "file:line [object] func:name" for shared-object tags.  Key:value
 * pairs: " accurate:no" (was current during an uncounted early allocation),
 * " loaded:no" (its shared object has been unloaded; the line stays until
 * the tag's counters reach zero).
 *
 * Lines come in index order; a tag's line is formatted into a stack buffer
 * (no malloc), then written out.  Index order is the order of the tags in
 * each image's section, which the compiler chooses (source order at -O0,
 * mostly reversed at -O2): as in the kernel's /proc/allocinfo, the order of
 * the lines is not part of the format, and readers that need one sort.
 * Call-chain tags (sites/chains.h) are not printed one by one: each site
 * gets one line, after the other tags (in the order the sites were first
 * met), named after its frame, with the counters of every chain it names
 * summed.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "objects/bin_charge.h"
#include "core/control.h"
#include "startup/init.h"
#include "core/tag_registry.h"
#include "sites/chains.h"
#include "sites/site_names.h"

struct alloctag_counters alloctag_read(const struct alloc_tag *tag)
{
	struct alloctag_counters zero = {0, 0};
	if (!tag || AT_LOAD_RELAXED(&at_state) != AT_STATE_READY)
		return zero;
	const struct alloc_tag *c = AT_LOAD(&tag->canon);
	if (!c)
		return zero;
	struct alloctag_counters r = at_counters_read(c->idx), b = at_bin_charges_of(c->idx);
	r.bytes += b.bytes;
	r.calls += b.calls;
	return r;
}

/* Tag i's counters in a walk over every index (registry lock held, bin_charge.h). */
static struct alloctag_counters walk_read(uint32_t i)
{
	struct alloctag_counters r = at_counters_read(i), b = at_bin_charges_take(i);
	r.bytes += b.bytes;
	r.calls += b.calls;
	return r;
}

int alloctag_tag_name(const struct alloc_tag *tag, char *buf, size_t len)
{
	if (tag->modname)
		return snprintf(buf, len, "%s:%u [%s] func:%s", tag->filename, tag->lineno,
				tag->modname, tag->function);
	return snprintf(buf, len, "%s:%u func:%s", tag->filename, tag->lineno, tag->function);
}

static const char header[] = "allocinfo - version: 2.0\n#     <size>  <calls> <tag info>\n";

/* Format tag's line into buf; returns its length. */
static size_t format_line(const struct alloc_tag *tag, struct alloctag_counters c, char *buf,
			  size_t len)
{
	int n = snprintf(buf, len, "%12lli %8llu ", (long long)c.bytes, (unsigned long long)c.calls);
	n += alloctag_tag_name(tag, buf + n, len - n);
	unsigned int flags = AT_LOAD_RELAXED(&tag->flags);
	if (flags & ALLOCTAG_FLAG_INACCURATE)
		n += snprintf(buf + n, len - n, " accurate:no");
	if (flags & ALLOCTAG_FLAG_UNLOADED)
		n += snprintf(buf + n, len - n, " loaded:no");
	n += snprintf(buf + n, len - n, " \n");
	if ((size_t)n >= len) { /* absurdly long names: cut, keep the line ending */
		n = (int)len - 1;
		buf[n - 2] = ' ';
		buf[n - 1] = '\n';
	}
	return (size_t)n;
}

typedef int (*emit_fn)(void *ctx, const char *s, size_t n);

/*
 * The walk holds the registry lock: shared-object tags (and their strings)
 * of unloaded objects are reclaimed under it, first thing here.
 */
static int each_line(emit_fn emit, void *ctx)
{
	char buf[4096];
	int err = emit(ctx, header, sizeof(header) - 1);
	if (err || AT_LOAD(&at_state) != AT_STATE_READY)
		return err;
	pthread_mutex_lock(&at_registry_lock);
	at_module_reclaim();
	uint32_t end = AT_LOAD(&at_nr_idx);
	at_bin_charges_gather(end);
	for (uint32_t i = AT_IDX_FIRST; i < end; i++) {
		const struct alloc_tag *t = AT_LOAD(at_tag_slot(i));
		struct alloctag_counters c = walk_read(i); /* every i: see bin_charge.h */
		if (!t || err)
			continue;
		struct at_chain *ch = at_chain_of(t);
		if (ch) { /* summed into its site's line below */
			struct at_frame *named = at_frame_of_name(ch->tag.filename);
			named->acc_bytes += c.bytes;
			named->acc_calls += c.calls;
			continue;
		}
		if ((AT_LOAD_RELAXED(&t->flags) & ALLOCTAG_FLAG_UNLOADED) && !c.bytes && !c.calls)
			continue; /* unloaded and no longer holding anything */
		err = emit(ctx, buf, format_line(t, c, buf, sizeof(buf)));
	}
	for (struct at_frame *f = at_named_frames; f; f = f->next_named) {
		struct alloctag_counters c = {f->acc_bytes, f->acc_calls};
		f->acc_bytes = f->acc_calls = 0;
		if (!err)
			err = emit(ctx, buf, format_line(&f->tag, c, buf, sizeof(buf)));
	}
	pthread_mutex_unlock(&at_registry_lock);
	return err;
}

static int emit_file(void *ctx, const char *s, size_t n)
{
	return fwrite(s, 1, n, (FILE *)ctx) == n ? 0 : -EIO;
}

static int emit_fd(void *ctx, const char *s, size_t n)
{
	int fd = *(int *)ctx;
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int alloctag_write_allocinfo(FILE *out)
{
	alloctag_init();
	int err = each_line(emit_file, out);
	if (!err && fflush(out))
		err = -EIO;
	return err;
}

int alloctag_write_allocinfo_fd(int fd)
{
	alloctag_init();
	return each_line(emit_fd, &fd);
}

/* Insert (t, c) into the n-long sorted out[0 .. *have). */
static void top_insert(struct alloctag_usage *out, size_t n, size_t *have,
		       const struct alloc_tag *t, struct alloctag_counters c)
{
	if (c.bytes <= 0 && c.calls <= 0)
		return;
	size_t pos = *have;
	while (pos > 0 && out[pos - 1].counters.bytes < c.bytes)
		pos--;
	if (pos >= n)
		return;
	size_t last = *have < n ? *have : n - 1;
	memmove(&out[pos + 1], &out[pos], (last - pos) * sizeof(*out));
	out[pos].tag = t;
	out[pos].counters = c;
	if (*have < n)
		(*have)++;
}

/* Call chains count as their sites, as in allocinfo (the tag given is the
 * site frame's, named like the line). */
size_t alloctag_top_users(struct alloctag_usage *out, size_t n)
{
	size_t have = 0;
	alloctag_init();
	if (!n || AT_LOAD(&at_state) != AT_STATE_READY)
		return 0;
	pthread_mutex_lock(&at_registry_lock); /* see each_line() */
	uint32_t end = AT_LOAD(&at_nr_idx);
	at_bin_charges_gather(end);
	for (uint32_t i = AT_IDX_FIRST; i < end; i++) {
		const struct alloc_tag *t = AT_LOAD(at_tag_slot(i));
		struct alloctag_counters c = walk_read(i); /* every i: see bin_charge.h */
		if (!t)
			continue;
		struct at_chain *ch = at_chain_of(t);
		if (ch) {
			struct at_frame *named = at_frame_of_name(ch->tag.filename);
			named->acc_bytes += c.bytes;
			named->acc_calls += c.calls;
			continue;
		}
		top_insert(out, n, &have, t, c);
	}
	for (struct at_frame *f = at_named_frames; f; f = f->next_named) {
		struct alloctag_counters c = {f->acc_bytes, f->acc_calls};
		f->acc_bytes = f->acc_calls = 0;
		top_insert(out, n, &have, &f->tag, c);
	}
	pthread_mutex_unlock(&at_registry_lock);
	return have;
}
