/*
 * Start-up: read the configuration, set up counters, registry and store, and
 * make the store ready.  Runs from a constructor (liballoctag's own run before
 * those of the objects that link it) or from the first control call, once.
 * Until it has run, pages handed out are early pages (early.c).  The public
 * run-time switch lives here too: it must run start-up first.
 */
#include <errno.h>

#include "startup/init.h"

#include "core/retry_once.h"
#include "store/charge.h"
#include "pages/early.h"
#include "core/message.h"
#include "objects/slab.h"
#include "objects/secure.h"
#include "sites/chains.h"
#include "sites/site_names.h"
#include "live/live_read.h"
#include "sites/unwind.h"

/*
 * The state machine's variable (control.h) lives here, with the only code
 * that moves it: whatever reads the state links start-up, and with it the
 * constructor below, into a program built against the static library.
 */
unsigned char at_state = AT_STATE_EARLY;

/* Start-up runs once (retry_once.h's state byte: not pthread_once, whose
 * slow path always ends in a futex wake system call, waiters or not, nor a
 * mutex, which the loader would bind and page in for this alone). */
AT_DATA_PAGE static unsigned char init_once = AT_ONCE_IDLE;
AT_DATA_PAGE void (*at_init_test_hook)(void);

/* Leave AT_STATE_EARLY: malloc's fast path may be taken from now on (slab.h). */
static void set_state(unsigned char st)
{
	AT_STORE(&at_state, st);
	__atomic_fetch_and(&at_small_slow, (unsigned char)~AT_SLOW_EARLY, __ATOMIC_SEQ_CST);
}

static void do_init(void)
{
	struct at_config cfg;

	at_config_read(&cfg);
	if (cfg.depth)
		at_chain_set_depth(cfg.depth);
	if (cfg.wrappers && at_set_wrappers(cfg.wrappers)) {
		char q[300];
		at_msg("ignoring ALLOCTAG_WRAPPERS=\"%s\": expected comma-separated function names "
		       "or shell globs, none empty, 4095 bytes in all; only the built-in wrappers "
		       "are skipped", at_quote(cfg.wrappers, q, sizeof(q)));
	}
	at_heap_set_limit(cfg.heap_max);
	at_heap_plan(cfg.mode >= 0); /* no room for the registry and counters under never */
	if (at_heap_init())
		at_msg("cannot reserve the page heap; page allocations fail until it can be reserved");
	AT_STORE_RELAXED(&alloctag_debug_key, (unsigned char)cfg.debug);
	AT_STORE_RELAXED(&at_secure_heap, (unsigned char)cfg.secure);
	if (cfg.secure) /* before the fast path opens */
		at_secure_init();

	if (cfg.mode < 0) {
		AT_STORE(&alloctag_hooks_key, 0);
		set_state(AT_STATE_NEVER);
		at_early_handover(0);
		return;
	}
	if (at_counters_init() || at_registry_init() || at_store_init(cfg.compressed, cfg.tag_bits_cap)) {
		at_msg("cannot set up the tag store; profiling is off for this process");
		AT_STORE(&alloctag_hooks_key, 0);
		set_state(AT_STATE_NEVER);
		at_early_handover(0);
		return;
	}
	if (cfg.debug) /* before the fast path opens: see slab.h */
		__atomic_fetch_or(&at_small_slow, AT_SLOW_DEBUG, __ATOMIC_SEQ_CST);
	/* READY, then profiling on, then malloc's fast path: an allocation in
	 * between acts as an early one (at_alloc_state, charge.h). */
	AT_STORE(&at_state, AT_STATE_READY);
	if (at_init_test_hook)
		at_init_test_hook();
	AT_STORE(&at_profiling_on, cfg.mode == 1 ? at_chain_profiling() : 0); /* after READY: control.h */
	__atomic_fetch_and(&at_small_slow, (unsigned char)~AT_SLOW_EARLY, __ATOMIC_SEQ_CST);
	at_early_handover(1);
}

void alloctag_init(void)
{
	if (at_likely(AT_LOAD(&at_state) != AT_STATE_EARLY))
		return;
	if (at_once_begin(&init_once)) {
		do_init();
		at_once_end(&init_once, 1);
	}
}

AT_DATA_PAGE uintptr_t at_main_stack_end;

/* Called, as every constructor, with main's arguments (the loader's
 * _dl_init, or libc's start for a static program's); argv's word below is
 * argc's, the main thread's stack top (sites/unwind.h), and the auxiliary
 * vector follows the environment (core/control.h at_env_snapshot). */
__attribute__((constructor(101))) static void alloctag_ctor(int argc, char **argv, char **envp)
{
	if (argv)
		AT_STORE_RELAXED(&at_main_stack_end, (uintptr_t)(argv - 1));
	/* one pass over environ for the dozen reads below; envp the kernel's
	 * array (argv's NULL, then the environment) when it follows argv */
	at_env_snapshot(argv && argc >= 0 && envp == argv + argc + 1 ? envp : NULL);
	alloctag_init();
	at_live_start(); /* live/live_read.h: the read handler; peak, series, endpoint if asked */
	at_env_release();
}

int alloctag_set_profiling(bool on)
{
	alloctag_init();
	if (AT_LOAD(&at_state) != AT_STATE_READY)
		return -EPERM;
	AT_STORE(&at_profiling_on, on ? at_chain_profiling() : 0);
	return 0;
}

bool alloctag_profiling(void)
{
	alloctag_init();
	return AT_LOAD(&at_state) == AT_STATE_READY && AT_LOAD_RELAXED(&at_profiling_on);
}
