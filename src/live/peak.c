/*
 * The peak recorder: with ALLOCTAG_PEAK=1 the profile also holds every
 * site's live bytes and calls at the moment total live bytes were highest.
 *
 * Detection.  Live bytes are kept per CPU and in the thread caches' bins
 * (bin_charge.h): no word holds their total, and adding one to malloc's
 * fast path would cost what the bins save.  So the recorder watches a
 * coarser total instead, T: bytes handed out by the allocator's central
 * structures (slab objects outside their slabs, large blocks outside the
 * page allocator and the threads' block caches, huge blocks), one atomic
 * add on the slow paths that move them (peak.h).  T >= live bytes L, and
 * T - L is what the threads' bins hold free (at most 64 KiB per size class
 * per thread, tcache.h).  Whenever T passes `next`, the recorder reads
 * every tag's exact counters (per-CPU sums and the bins' part, the walk
 * allocinfo makes) and, if their sum is higher than the recorded peak,
 * keeps them with the time; then next = T + T / 100 (at least
 * AT_PEAK_FLOOR).
 *
 * Tolerance: the recorded peak P satisfies P >= L_max / 1.01 - B, where
 * L_max is the true highest total and B the free bytes the bins held at the
 * recording (B = 0 for a program whose memory is large blocks; a few KiB
 * per thread otherwise), and P <= L_max.  The recording is made by the
 * thread whose allocation crossed `next`, outside every allocator lock;
 * if the registry lock or the recorder's lock is busy it is skipped and
 * the next crossing records.  Cost: one relaxed atomic add per slow-path
 * event; one walk of the tags per 1% of growth (BENCHMARKS.md, "peak").
 *
 * Memory: two tables of AT_IDX_MAX (bytes, calls) pairs, reserved and
 * committed as indexes are used (the best and the one being filled; they
 * swap when a higher peak is found).
 */
#define _GNU_SOURCE
#include "live/peak.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/control.h"
#include "core/message.h"
#include "core/peak_hook.h"
#include "core/tag_registry.h"
#include "objects/bin_charge.h"

#define AT_PEAK_FLOOR (1ll << 20)

static unsigned char at_peak_on;
static int64_t total;
static int64_t next = AT_PEAK_FLOOR;
static pthread_mutex_t peak_lock = PTHREAD_MUTEX_INITIALIZER;
static struct alloctag_counters *best, *work;
static uint32_t best_end;
static int64_t best_total = -1;
static struct timespec best_when;

/* Read every tag into work; record it if higher.  peak_lock held. */
static void record(int force)
{
	if (force)
		pthread_mutex_lock(&at_registry_lock);
	else if (pthread_mutex_trylock(&at_registry_lock))
		return;
	uint32_t end = AT_LOAD(&at_nr_idx);
	int64_t sum = 0;
	at_bin_charges_gather(end);
	for (uint32_t i = AT_IDX_FIRST; i < end; i++) {
		struct alloctag_counters c = at_counters_read(i), b = at_bin_charges_take(i);
		c.bytes += b.bytes;
		c.calls += b.calls;
		if (!AT_LOAD(at_tag_slot(i)))
			c.bytes = c.calls = 0;
		work[i] = c;
		sum += c.bytes;
	}
	pthread_mutex_unlock(&at_registry_lock);
	if (sum > best_total) {
		struct alloctag_counters *t = best;
		best = work;
		work = t;
		best_end = end;
		best_total = sum;
		clock_gettime(CLOCK_REALTIME, &best_when);
	}
}

static void peak_add(int64_t bytes)
{
	int64_t t = __atomic_add_fetch(&total, bytes, __ATOMIC_RELAXED);
	if (bytes <= 0 || t <= AT_LOAD_RELAXED(&next) || AT_LOAD_RELAXED(&at_state) != AT_STATE_READY)
		return;
	if (pthread_mutex_trylock(&peak_lock))
		return;
	if (t > next) {
		record(0);
		int64_t n = t + t / 100;
		AT_STORE_RELAXED(&next, n > AT_PEAK_FLOOR ? n : AT_PEAK_FLOOR);
	}
	pthread_mutex_unlock(&peak_lock);
}

void at_peak_start(void)
{
	const char *s = at_getenv("ALLOCTAG_PEAK");
	int on = 0;
	if (!s)
		return;
	if (at_parse_bool(s, &on)) {
		at_msg("ignoring ALLOCTAG_PEAK=\"%s\": expected 1 or 0 (or y/n, yes/no, on/off, "
		       "true/false); no peak is recorded", s);
		return;
	}
	if (!on)
		return;
	size_t len = (size_t)AT_IDX_MAX * sizeof(struct alloctag_counters);
	void *a = mmap(NULL, 2 * len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (a == MAP_FAILED) {
		at_msg("ALLOCTAG_PEAK: cannot map the peak tables; no peak is recorded");
		return;
	}
	best = a;
	work = (struct alloctag_counters *)((char *)a + len);
	/* a fork's child must not inherit the lock held by a recording thread
	 * it does not have (its exit writer would wait for it forever) */
	pthread_atfork(NULL, NULL, at_peak_child_reset);
	AT_STORE(&at_peak_on, 1);
	AT_STORE(&at_peak_sink, peak_add);
}

void at_peak_child_reset(void)
{
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
	memcpy(&peak_lock, &fresh, sizeof(fresh));
}

int at_peak_each(struct timespec *when, int64_t *tot,
		 void (*fn)(uint32_t idx, int64_t bytes, int64_t calls, void *ctx), void *ctx)
{
	if (!AT_LOAD(&at_peak_on) || AT_LOAD(&at_state) != AT_STATE_READY)
		return 0;
	pthread_mutex_lock(&peak_lock);
	record(1);
	*when = best_when;
	*tot = best_total;
	for (uint32_t i = AT_IDX_FIRST; i < best_end; i++)
		if (best[i].bytes || best[i].calls)
			fn(i, best[i].bytes, best[i].calls, ctx);
	pthread_mutex_unlock(&peak_lock);
	return 1;
}
