/*
 * For the unwinder's tests: capture() records, from one frame, the return
 * addresses alloctag's unwinder finds (ours, n_ours) and those glibc's
 * backtrace() finds (theirs, n_theirs; theirs[0] is inside capture, so
 * ours[k] is theirs[k + 1]).
 */
#ifndef AT_TEST_UNWIND_CAPTURE_H
#define AT_TEST_UNWIND_CAPTURE_H

#include <execinfo.h>

#include "sites/unwind.h"

#define MAXF 64
static uintptr_t ours[MAXF];
static void *theirs[MAXF + 1];
static unsigned int n_ours;
static int n_theirs;
static volatile int sink;

/* A test may run code right before and after the walk (its own counts). */
#ifndef CAPTURE_BEFORE_WALK
#define CAPTURE_BEFORE_WALK()
#define CAPTURE_AFTER_WALK()
#endif

static __attribute__((noinline)) void capture(void)
{
	CAPTURE_BEFORE_WALK();
	n_ours = at_unwind(ours, MAXF, (uintptr_t)__builtin_dwarf_cfa(), NULL);
	CAPTURE_AFTER_WALK();
	n_theirs = backtrace(theirs, MAXF + 1); /* theirs[0]: inside capture */
	sink++;
}

#endif
