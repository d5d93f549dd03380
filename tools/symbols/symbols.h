/*
 * Symbolization of a profile's return addresses (symbols/dwfl.c, libdw).
 *
 * A location is one (map, file address) of a profile: the return address
 * of a call.  Its frames are the function, file and line of the call
 * instruction (looked up at address - 1), innermost first: the function the
 * call is in, then each function it is inlined into, ending with the
 * out-of-line function (DWARF's inlined-subroutine scopes).  Without DWARF
 * the one frame has only a symbol name ("func+0xoff", from .symtab, else
 * .dynsym) or none.  Every location has its object name, "object+0xADDR".
 *
 * An object whose build ID differs from the profile's is not read at all
 * (said once per object): wrong names are worse than none.
 */
#ifndef ALLOCTAG_TOOL_SYMBOLS_H
#define ALLOCTAG_TOOL_SYMBOLS_H

#include <stdint.h>

#include "../profile/profile.h"

struct sym_frame {
	char *func;        /* demangled name, e.g. "build_map(int)"; NULL: unknown */
	char *file;        /* source file, NULL without DWARF */
	unsigned int line; /* 0 without DWARF */
};

struct sym_loc {
	unsigned int nr_frames; /* >= 1 */
	struct sym_frame *frames;
	char *object; /* "object+0xADDR" (ADDR: the file address) */
};

struct symbolizer;

struct symbolizer *sym_new(const struct profile *p);
/* The location of frame (map, addr); cached, valid until sym_free(). */
const struct sym_loc *sym_get(struct symbolizer *s, int map, uint64_t addr);
void sym_free(struct symbolizer *s);

/* True for a source file of the system's headers (/usr/include/...). */
int sym_system_file(const char *file);
/* The name for allocinfo's func: field: no parameter list, no spaces (a space
 * between two identifier characters becomes "_": "operator_new"). */
char *sym_short_name(const char *func);

#endif
