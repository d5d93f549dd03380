/*
 * The interval sampler: with ALLOCTAG_INTERVAL=T (a number with an
 * optional unit: ms, s; plain numbers are seconds; 1 ms .. 1 h) one thread,
 * started at start-up and only then, takes a sample every T: the wall time,
 * total live bytes of every tag and the AT_SAMPLE_TOP tags holding the most
 * (the walk allocinfo makes: registry lock, per-CPU sums plus the bins'
 * part).  The first sample is taken when the thread starts; the writer adds
 * one at the write.  Samples go into an mmap'd array grown by mremap
 * (112 bytes each: a day at 100 ms is 97 MB; the series stops growing,
 * said once, at AT_SAMPLE_MAX samples).  The thread blocks every signal;
 * a fork's child has no sampler (threads do not survive fork).
 */
#define _GNU_SOURCE
#include "live/sampler.h"
#include "live/thread.h"
#include "live/interval.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/control.h"
#include "core/message.h"
#include "core/tag_registry.h"
#include "objects/bin_charge.h"

#define AT_SAMPLE_MAX (1u << 22)

static long long interval_ns;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct at_sample *samples;
static size_t nr, cap;
static unsigned char full_said;

static void take(void)
{
	struct at_sample s;
	memset(&s, 0, sizeof(s));
	pthread_mutex_lock(&at_registry_lock);
	uint32_t end = AT_LOAD(&at_nr_idx);
	at_bin_charges_gather(end);
	for (uint32_t i = AT_IDX_FIRST; i < end; i++) {
		struct alloctag_counters c = at_counters_read(i), b = at_bin_charges_take(i);
		int64_t v = c.bytes + b.bytes;
		if (!AT_LOAD(at_tag_slot(i)) || v <= 0)
			continue;
		s.total += v;
		uint32_t pos = s.nr;
		while (pos > 0 && s.bytes[pos - 1] < v)
			pos--;
		if (pos >= AT_SAMPLE_TOP)
			continue;
		uint32_t last = s.nr < AT_SAMPLE_TOP ? s.nr : AT_SAMPLE_TOP - 1;
		memmove(&s.idx[pos + 1], &s.idx[pos], (last - pos) * sizeof(s.idx[0]));
		memmove(&s.bytes[pos + 1], &s.bytes[pos], (last - pos) * sizeof(s.bytes[0]));
		s.idx[pos] = i;
		s.bytes[pos] = v;
		if (s.nr < AT_SAMPLE_TOP)
			s.nr++;
	}
	pthread_mutex_unlock(&at_registry_lock);
	clock_gettime(CLOCK_REALTIME, &s.when);

	pthread_mutex_lock(&lock);
	if (nr == cap) {
		size_t ncap = cap ? cap * 2 : 1024;
		void *p = ncap > AT_SAMPLE_MAX ? MAP_FAILED
			: samples ? mremap(samples, cap * sizeof(s), ncap * sizeof(s), MREMAP_MAYMOVE)
				  : mmap(NULL, ncap * sizeof(s), PROT_READ | PROT_WRITE,
					 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			pthread_mutex_unlock(&lock);
			at_msg_once(full_said, "ALLOCTAG_INTERVAL: the series is full (%zu samples); "
				    "no more samples are kept", nr);
			return;
		}
		samples = p;
		cap = ncap;
	}
	samples[nr++] = s;
	pthread_mutex_unlock(&lock);
}

static void *run(void *arg)
{
	(void)arg;
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	for (;;) {
		take();
		t.tv_nsec += interval_ns % 1000000000;
		t.tv_sec += interval_ns / 1000000000 + t.tv_nsec / 1000000000;
		t.tv_nsec %= 1000000000;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
			;
	}
	return NULL;
}

void at_sampler_start(void)
{
	const char *s = at_getenv("ALLOCTAG_INTERVAL");
	if (!s)
		return;
	long long ns = at_parse_interval(s);
	if (ns < 0) {
		at_msg("ignoring ALLOCTAG_INTERVAL=\"%s\": expected a time from 1ms to 3600s "
		       "(e.g. 100ms, 0.5s, 2); no series is recorded", s);
		return;
	}
	interval_ns = ns;
	pthread_atfork(NULL, NULL, at_sampler_child_reset); /* as peak.c */
	int err = at_live_thread_start(run, "alloctag-sample");
	if (err) {
		interval_ns = 0;
		at_msg("ALLOCTAG_INTERVAL: cannot start the sampling thread; no series is recorded");
		return;
	}
}

void at_sampler_child_reset(void)
{
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
	memcpy(&lock, &fresh, sizeof(fresh));
}

long long at_sampler_interval(void)
{
	return interval_ns;
}

long long at_sampler_each(void (*fn)(const struct at_sample *s, void *ctx), void *ctx)
{
	if (!interval_ns)
		return 0;
	take();
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nr; i++)
		fn(&samples[i], ctx);
	pthread_mutex_unlock(&lock);
	return interval_ns;
}
