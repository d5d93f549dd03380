/*
 * Start-up's own pieces, which run before main in every process: the
 * ALLOCTAG* variable lookup (at_getenv: its own search of environ, exact
 * names only; the constructor's one-pass snapshot of the ALLOCTAG* entries),
 * the live reader's signal and mask (set without libc's calls), the
 * auxiliary vector read after the environment (at_auxval), the counters'
 * CPU-id bound (one sched_getaffinity) and the CPU count readers sum, and
 * the run-until-success set-up (retry_once.h: one state byte, no mutex),
 * run by many threads at once.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include <sys/auxv.h>
#include <unistd.h>

#include "check.h"
#include "core/control.h"
#include "core/counters.h"
#include "core/retry_once.h"
#include "live/live_read.h"

extern char **environ;

static void getenv_exact(void)
{
	/* Names that share a prefix with each other, in both orders. */
	CHECK(!setenv("ALLOCTAG_DEPTHX", "7", 1));
	CHECK(!setenv("ALLOCTAG_DEPTH", "5", 1));
	CHECK(!setenv("ALLOCTAG_DEP", "3", 1));
	CHECK(!setenv("ALLOCTAG", "0,uncompressed", 1));
	CHECK(!setenv("ALLOCTAG_PEAK", "", 1));
	CHECK_STREQ(at_getenv("ALLOCTAG_DEPTH"), "5");
	CHECK_STREQ(at_getenv("ALLOCTAG_DEP"), "3");
	CHECK_STREQ(at_getenv("ALLOCTAG_DEPTHX"), "7");
	CHECK_STREQ(at_getenv("ALLOCTAG"), "0,uncompressed");
	CHECK_STREQ(at_getenv("ALLOCTAG_PEAK"), "");
	CHECK(at_getenv("ALLOCTAG_DE") == NULL);
	CHECK(at_getenv("ALLOCTAG_DEPTHXY") == NULL);
	CHECK(at_getenv("") == NULL);
	/* A value with '=' in it: the first '=' ends the name. */
	CHECK(!setenv("ALLOCTAG_WRAPPERS", "a=b", 1));
	CHECK_STREQ(at_getenv("ALLOCTAG_WRAPPERS"), "a=b");
	/* Changed and removed at run time: the lookup reads environ each call. */
	CHECK(!setenv("ALLOCTAG_DEPTH", "12", 1));
	CHECK_STREQ(at_getenv("ALLOCTAG_DEPTH"), "12");
	CHECK(!unsetenv("ALLOCTAG_DEPTH"));
	CHECK(at_getenv("ALLOCTAG_DEPTH") == NULL);
	CHECK_STREQ(at_getenv("ALLOCTAG_DEPTHX"), "7");
	/* Secure execution: nothing is read. */
	at_secure_test = 1;
	CHECK(at_getenv("ALLOCTAG_DEPTHX") == NULL);
	at_secure_test = -1;
	CHECK_STREQ(at_getenv("ALLOCTAG_DEPTHX"), "7");
	/* No environment at all. */
	char **saved = environ;
	environ = NULL;
	CHECK(at_getenv("ALLOCTAG") == NULL);
	environ = saved;
}

/* The index in environ of the entry that begins with prefix */
static int env_index(const char *prefix)
{
	for (int i = 0; environ[i]; i++)
		if (!strncmp(environ[i], prefix, strlen(prefix)))
			return i;
	return -1;
}

static void getenv_snapshot(void)
{
	CHECK(!setenv("ALLOCTAG", "1", 1));
	CHECK(!setenv("ALLOCTAG_DEPTH", "4", 1));
	CHECK(!setenv("ALLOCTAGX", "9", 1));
	CHECK(!unsetenv("ALLOCTAG_PEAK"));
	CHECK(!unsetenv("ALLOCTAG_DEP"));
	at_env_snapshot(NULL);
	/* name, value (NULL: unset) */
	static const char *const want[][2] = {
		{"ALLOCTAG", "1"},	    {"ALLOCTAG_DEPTH", "4"}, {"ALLOCTAGX", "9"},
		{"ALLOCTAG_WRAPPERS", "a=b"}, {"ALLOCTAG_PEAK", NULL},  {"ALLOCTAG_DEP", NULL},
	};
	for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
		const char *v = at_getenv(want[k][0]);
		CHECK(!v == !want[k][1]);
		if (v)
			CHECK_STREQ(v, want[k][1]);
	}
	/* What is searched is the snapshot: an entry replaced in place in the
	 * same array is not seen until the snapshot is released. */
	int i = env_index("ALLOCTAG_DEPTH=");
	CHECK(i >= 0);
	char *old = environ[i];
	environ[i] = "ALLOCTAG_DEPTH=11";
	CHECK_STREQ(at_getenv("ALLOCTAG_DEPTH"), "4");
	at_secure_test = 1; /* secure execution: nothing, snapshot or not */
	CHECK(at_getenv("ALLOCTAG_DEPTH") == NULL);
	at_secure_test = -1;
	at_env_release();
	CHECK_STREQ(at_getenv("ALLOCTAG_DEPTH"), "11");
	environ[i] = old;
	/* environ moved (another array): walked, snapshot or not. */
	at_env_snapshot(NULL);
	char *moved[] = {"ALLOCTAG_DEPTH=2", "PATH=/bin", NULL};
	char **saved = environ;
	environ = moved;
	CHECK_STREQ(at_getenv("ALLOCTAG_DEPTH"), "2");
	CHECK(at_getenv("ALLOCTAG") == NULL);
	environ = saved;
	CHECK_STREQ(at_getenv("ALLOCTAG_DEPTH"), "4");
	at_env_release();
	/* More ALLOCTAG* entries than a snapshot holds (32): no snapshot, every
	 * entry found, an in-place change seen at once. */
	char name[32];
	for (int k = 0; k < 33; k++) {
		snprintf(name, sizeof(name), "ALLOCTAG_T%d", k);
		CHECK(!setenv(name, "v", 1));
	}
	CHECK(!setenv("ALLOCTAG_T32", "last", 1));
	at_env_snapshot(NULL);
	CHECK_STREQ(at_getenv("ALLOCTAG_T32"), "last");
	CHECK_STREQ(at_getenv("ALLOCTAG_T0"), "v");
	i = env_index("ALLOCTAG_DEPTH=");
	old = environ[i];
	environ[i] = "ALLOCTAG_DEPTH=12";
	CHECK_STREQ(at_getenv("ALLOCTAG_DEPTH"), "12");
	environ[i] = old;
	at_env_release();
	for (int k = 0; k < 33; k++) {
		snprintf(name, sizeof(name), "ALLOCTAG_T%d", k);
		CHECK(!unsetenv(name));
	}
}

#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000 /* the kernel's flag: glibc's headers do not show it */
#endif

/* The live reader's handler, as start-up installs it (by the system call):
 * on SIGRTMAX - 3, blocking what sigfillset's mask blocks (as the kernel
 * keeps it: without SIGKILL and SIGSTOP), with glibc's flags. */
static void live_signal(void)
{
	CHECK_EQ(AT_LIVE_SIGNAL, SIGRTMAX - 3);
	at_live_start();
	struct sigaction cur;
	CHECK(!sigaction(AT_LIVE_SIGNAL, NULL, &cur));
	CHECK(cur.sa_flags & SA_SIGINFO);
	CHECK(cur.sa_handler != SIG_DFL && cur.sa_handler != SIG_IGN);
	sigset_t want;
	sigfillset(&want);
	sigdelset(&want, SIGKILL);
	sigdelset(&want, SIGSTOP);
	unsigned long got_w, want_w;
	memcpy(&got_w, &cur.sa_mask, sizeof(got_w));
	memcpy(&want_w, &want, sizeof(want_w));
	CHECK_EQ(got_w, want_w);
	CHECK(!sigismember(&cur.sa_mask, 32)); /* glibc's SIGCANCEL */
	CHECK(!sigismember(&cur.sa_mask, 33)); /* and SIGSETXID */
	CHECK(sigismember(&cur.sa_mask, SIGINT) == 1);
	/* Its return: through glibc's two instructions (mov $15, %rax;
	 * syscall), by which debuggers and unwinders know a signal frame. */
	CHECK(cur.sa_flags & SA_RESTORER);
	CHECK(!memcmp((const void *)cur.sa_restorer, "\x48\xc7\xc0\x0f\x00\x00\x00\x0f\x05", 9));
	CHECK(cur.sa_flags & SA_RESTART);
	CHECK(cur.sa_flags & SA_ONSTACK);
}

#define THREADS 8

static struct at_retry_once once = AT_RETRY_ONCE_INIT;
static int runs, fails_left, inside, overlapped, set_up;
static int go, ready;

static void pause_ms(long ms)
{
	struct timespec ts = {0, ms * 1000000L};
	nanosleep(&ts, NULL);
}

/* Fails fails_left times, then succeeds; slow, so that the others wait. */
static int setup(void)
{
	if (__atomic_fetch_add(&inside, 1, __ATOMIC_SEQ_CST))
		__atomic_store_n(&overlapped, 1, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&runs, 1, __ATOMIC_SEQ_CST);
	pause_ms(20);
	int fail = fails_left > 0;
	if (fail)
		fails_left--;
	else
		set_up = 1;
	__atomic_fetch_sub(&inside, 1, __ATOMIC_SEQ_CST);
	return fail ? EAGAIN : 0;
}

static int results[THREADS];

static void *caller(void *arg)
{
	int i = (int)(long)arg;
	__atomic_fetch_add(&ready, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
		;
	int rc;
	/* Each thread keeps calling until the set-up is done, as an
	 * allocation retried after ENOMEM would. */
	while ((rc = at_retry_once(&once, setup)) == -EAGAIN)
		;
	results[i] = rc;
	CHECK(set_up); /* no caller returns 0 before the set-up has finished */
	return NULL;
}

static void retry_once_threads(void)
{
	/* One thread: a failure is returned and the next call runs it again. */
	struct at_retry_once one = AT_RETRY_ONCE_INIT;
	fails_left = 1;
	CHECK_EQ(at_retry_once(&one, setup), -EAGAIN);
	CHECK_EQ(runs, 1);
	CHECK_EQ(one.state, AT_ONCE_IDLE);
	CHECK_EQ(at_retry_once(&one, setup), 0);
	CHECK_EQ(runs, 2);
	CHECK_EQ(at_retry_once(&one, setup), 0);
	CHECK_EQ(runs, 2); /* done: not run again */

	/* Many threads: never two set-ups at once, two failures then one
	 * success, every thread ends with 0. */
	runs = 0;
	set_up = 0;
	fails_left = 2;
	pthread_t th[THREADS];
	for (long i = 0; i < THREADS; i++)
		CHECK(!pthread_create(&th[i], NULL, caller, (void *)i));
	while (__atomic_load_n(&ready, __ATOMIC_SEQ_CST) < THREADS)
		;
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < THREADS; i++)
		CHECK(!pthread_join(th[i], NULL));
	for (int i = 0; i < THREADS; i++)
		CHECK_EQ(results[i], 0);
	CHECK_EQ(runs, 3);
	CHECK_EQ(overlapped, 0);
	CHECK_EQ(once.state, AT_ONCE_DONE);
}

/* The constructor took the vector after the stack's environment, and
 * /proc/self/auxv holds it too: what libc's getauxval says, entry by entry (not AT_HWCAP, which glibc on
 * x86-64 replaces with its own bits); 0 for a type the kernel never
 * gives.  The counters cover a whole number of 64-id words of CPU ids, at
 * least every possible CPU; readers sum the possible CPUs. */
static void auxv_and_cpus(void)
{
	static const unsigned long types[] = {AT_PHDR, AT_PHNUM, AT_PAGESZ, AT_ENTRY, AT_RANDOM,
					      AT_SECURE, AT_UID, AT_EUID, AT_EXECFN};
	int found;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		CHECK_EQ(at_auxval(types[i]), getauxval(types[i]));
		/* the file the runtime reads when the stack's vector is not
		 * found: the same entries */
		CHECK_EQ(at_auxv_file(types[i], &found), getauxval(types[i]));
		CHECK_EQ(found, 1);
	}
	CHECK_EQ(at_auxval(9999), 0);
	CHECK_EQ(at_auxv_file(9999, &found), 0);
	CHECK_EQ(found, 0);
	CHECK_EQ(at_secure(), 0);
	if (!at_counters_base) /* ALLOCTAG=never: no counters */
		return;
	long conf = sysconf(_SC_NPROCESSORS_CONF);
	CHECK(conf >= 1);
	CHECK_EQ(at_counters_nread(), (unsigned int)conf);
	CHECK(at_counters_ncpu >= (unsigned int)conf);
	CHECK_EQ(at_counters_ncpu % 64, 0);
	CHECK_EQ(at_counters_group, (at_counters_ncpu + 1) * AT_COUNTERS_STRIDE);
}

int main(void)
{
	auxv_and_cpus();
	getenv_exact();
	getenv_snapshot();
	live_signal();
	retry_once_threads();
	printf("startup: ok\n");
	return 0;
}
