/*
 * Control: the ALLOCTAG* environment variables and the run-time switch.
 *
 * ALLOCTAG = {0|1|never}[,compressed|,uncompressed]; boolean words
 *   y yes t true on 1 / n no f false off 0 (any case).  Unset: 1,compressed.
 * ALLOCTAG_TAG_BITS = 1..N: cap the flag bits for compressed references.
 * ALLOCTAG_DEBUG = boolean: debug checks.
 * ALLOCTAG_HEAP_MAX = bytes[K|M|G]: cap on the page heap's committed memory.
 * ALLOCTAG_DEPTH = 1..AT_DEPTH_MAX: frames per call chain (sites/chains.h).
 * ALLOCTAG_WRAPPERS = pattern[,pattern...]: functions of the allocation
 *   layer besides the built-in ones (sites/site_names.h).
 * ALLOCTAG_SECURE = 0, 1 or 2: the stricter heap's level.  1: blocks from
 *   128 KiB mapped between guard pages (huge.h), small objects' canaries and
 *   neighbour checks (objects/secure.h); 2: also small objects' poison and
 *   quarantine.  0 (unset): off.
 * A bad value: one "alloctag: " line naming it and what is accepted; the
 * default is used.
 * Secure execution (AT_SECURE, at_auxval: setuid or setgid, file
 * capabilities, an LSM transition): every ALLOCTAG* variable is ignored,
 * silently, as glibc ignores its own MALLOC_* settings; the defaults hold.
 * Every read of an ALLOCTAG* variable goes through at_getenv().
 *
 * State machine (at_state, read on every allocation and free):
 *   AT_STATE_EARLY  before alloctag_init(): pages are recorded as early pages
 *   AT_STATE_NEVER  (0) nothing to do: no store, one branch on the hot path
 *   AT_STATE_READY  store set up; at_profiling_on says whether new
 *                   allocations are charged (frees always uncharge)
 * at_profiling_on is set only once at_state is READY (init.c stores it after
 * the state), so a hot path that reads it nonzero needs no check of
 * at_state.  Nonzero, it also says how an untagged allocation is charged:
 * AT_PROFILING_CHAINS, to its call chain (ALLOCTAG_DEPTH above 1: the
 * default), AT_PROFILING_SITES, to its caller's address (ALLOCTAG_DEPTH=1;
 * sites/chains.h keeps it in step with the depth), so that the preload
 * library's malloc tells off, chains and depth 1 apart by one compare;
 * every other reader takes it as a boolean.
 */
#ifndef AT_CONTROL_H
#define AT_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"

enum { AT_STATE_NEVER = 0, AT_STATE_EARLY = 1, AT_STATE_READY = 2 };
enum { AT_PROFILING_CHAINS = 1, AT_PROFILING_SITES = 2 };

extern AT_HIDDEN unsigned char at_state;
/*
 * at_profiling_on and the small objects' slow byte (objects/slab.h:
 * at_small_slow, owned there) are the two bytes of one 16-bit word, so
 * that the preload library's malloc tells off, call chains with the
 * slow byte clear, and everything else apart by one compare of the word
 * (preload.c: MODES).  Each byte is read and written as a byte by its
 * own name; the word is only read.  small_slow starts at AT_MODES_EARLY
 * (AT_SLOW_EARLY).
 */
union at_modes {
	uint16_t word;
	struct {
		unsigned char profiling_on; /* the word's low byte */
		unsigned char small_slow;
	};
};
#define AT_MODES_EARLY 1u
extern AT_HIDDEN union at_modes at_modes;
#define at_profiling_on (at_modes.profiling_on)
/* ALLOCTAG_SECURE's level, 0 to 2 (set by start-up; read off the fast
 * paths: malloc.c, slab.c, secure.c). */
extern AT_HIDDEN unsigned char at_secure_heap;

struct at_config {
	int mode;       /* 0, 1, or -1 for never */
	int compressed; /* 1 compressed, 0 uncompressed */
	unsigned int tag_bits_cap; /* 0 = no cap */
	int debug;
	size_t heap_max; /* 0 = no limit */
	int secure;      /* ALLOCTAG_SECURE: 0, 1 or 2 */
	unsigned int depth;   /* ALLOCTAG_DEPTH; 0 = AT_DEPTH_DEFAULT */
	const char *wrappers; /* ALLOCTAG_WRAPPERS as given, or NULL */
};

/* Frames per call chain: the most a chain keeps, and the default. */
#define AT_DEPTH_MAX 64u
#define AT_DEPTH_DEFAULT 8u

AT_HIDDEN void at_config_read(struct at_config *cfg);
/* Whether the process runs in secure execution (AT_SECURE). */
AT_HIDDEN int at_secure(void);
/* getenv(name), or NULL in secure execution: for every ALLOCTAG* variable. */
AT_HIDDEN const char *at_getenv(const char *name);
/* Start-up (the constructor): take the ALLOCTAG* entries of environ in one
 * pass, which at_getenv then searches instead of environ, until released.
 * A name at_getenv is asked for must begin with "ALLOCTAG".  stack_env:
 * the environment array the kernel put on the stack (the constructor's
 * envp when it follows argv's NULL), or NULL: when environ is still that
 * array, the auxiliary vector after it is kept for at_auxval. */
AT_HIDDEN void at_env_snapshot(char **stack_env);
/* The kernel's auxiliary vector entry of type (0 if none), read from the
 * vector at_env_snapshot found (no libc call at start-up), else from
 * /proc/self/auxv.  (libc's getauxval gives glibc's own AT_HWCAP bits on
 * x86-64, not the kernel's.) */
AT_HIDDEN unsigned long at_auxval(unsigned long type);
/* type's entry of /proc/self/auxv; *found 0 (and 0 returned) when the file
 * cannot be read or lacks it.  Secure execution is assumed then. */
AT_HIDDEN unsigned long at_auxv_file(unsigned long type, int *found);
AT_HIDDEN void at_env_release(void);
/* Test-only: -1 (default) reads AT_SECURE; 0 or 1 overrides it.  Hidden,
 * so only a test linked with the runtime itself can set it. */
extern AT_HIDDEN int at_secure_test;
/* Parsers, exposed for the tests' sake: 0 if accepted. */
AT_HIDDEN int at_parse_alloctag(const char *s, int *mode, int *compressed);
AT_HIDDEN int at_parse_bool(const char *s, int *val);
AT_HIDDEN int at_parse_size(const char *s, size_t *val);
/* s as a message shows it (escaped, cut at 64 bytes) in buf; returns buf. */
AT_HIDDEN const char *at_quote(const char *s, char *buf, size_t len);

#endif
