/*
 * Secure execution: every ALLOCTAG* variable is ignored.  Prints what the
 * runtime did with its environment, and AT_SECURE as the kernel gave it:
 *
 *   secure=S mode=M compressed=C tag_bits=B debug=D order9=O
 *
 * mode: alloctag_profiling() (1 on, 0 off, -1 never: switching refused);
 * order9: whether a 2 MiB page block could be had (ALLOCTAG_HEAP_MAX=1M
 * refuses it).  With TEST_SECURE_OVERRIDE=1 in the environment a
 * constructor that runs before start-up sets the test-only override, for
 * machines where tests/secure_exec.sh cannot make a setuid copy (not root).
 */
#pragma GCC diagnostic ignored "-Wprio-ctor-dtor"
#include <alloctag.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include "check.h"
#include "core/control.h"

__attribute__((constructor(100))) static void override(void)
{
	const char *o = getenv("TEST_SECURE_OVERRIDE");
	if (o && !strcmp(o, "1"))
		at_secure_test = 1;
}

int main(void)
{
	int mode = alloctag_profiling();
	if (!mode && alloctag_set_profiling(false) == -EPERM)
		mode = -1;
	void *p = at_alloc_pages(9);
	printf("secure=%d mode=%d compressed=%d tag_bits=%u debug=%d order9=%d\n",
	       at_secure(), mode, alloctag_compressed(), alloctag_tag_bits(),
	       (int)alloctag_debug_key, p != NULL);
	at_free_pages(p, 9);
	return 0;
}
