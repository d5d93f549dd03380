/*
 * The symbolizer over elfutils' libdwfl (symbols.h).
 *
 * One Dwfl session per map of the profile, opened on first use: the
 * object's file is reported at its own link-time addresses, and separate
 * debug files are found the standard way (dwfl_standard_find_debuginfo:
 * /usr/lib/debug/.build-id/xx/yyyy.debug by build ID, then .gnu_debuglink).
 * Locations are cached in a hash table keyed by (map, address), so a
 * profile's 100k chains cost one lookup per distinct return address.
 *
 * A lookup: the line (dwfl_module_getsrc), then the chain of scopes at the
 * address: the CU (aranges), the out-of-line function holding the address
 * by binary search in the CU's function index (every subprogram with an
 * address range, through namespaces and classes; made at the CU's first
 * lookup), then down through the inlined subroutines and lexical blocks
 * that hold it.  Where the index has nothing, libdw's dwarf_getscopes and
 * dwarf_getscopes_die (which walk the CU each time).  The symbol table is
 * read only for addresses DWARF does not name.
 */
#define _GNU_SOURCE
#include "symbols.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/common.h"

char *__cxa_demangle(const char *mangled, char *buf, size_t *n, int *status);

/* One address range of an out-of-line function of a CU (DWARF addresses). */
struct fn_range {
	Dwarf_Addr low, high;
	Dwarf_Off die;
};

/* A CU's functions sorted by address, made at its first lookup. */
struct cu_index {
	Dwarf_Off cu;
	struct fn_range *v;
	size_t n;
};

struct map_state {
	int opened; /* 0 not yet, 1 usable, -1 not usable (said once) */
	Dwfl *dwfl;
	Dwfl_Module *mod;
	GElf_Addr bias; /* module address = bias + file address */
	Dwarf_Addr low, high; /* the module's addresses: nothing outside is named */
	struct cu_index *cus; /* hash table by CU offset, cap_cus slots */
	size_t nr_cus, cap_cus;
};

struct entry {
	int map;
	uint64_t addr;
	struct sym_loc *loc;
};

struct symbolizer {
	const struct profile *p;
	struct map_state *maps;
	struct entry *tab;
	size_t cap, used; /* power of two; used <= cap / 2 */
};

static const Dwfl_Callbacks callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
};

struct symbolizer *sym_new(const struct profile *p)
{
	struct symbolizer *s = xcalloc(1, sizeof(*s));
	s->p = p;
	s->maps = xcalloc(p->nr_maps + 1, sizeof(*s->maps));
	s->cap = 1024;
	s->tab = xcalloc(s->cap, sizeof(*s->tab));
	return s;
}

static void hexid(const unsigned char *b, int n, char *out)
{
	for (int i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * n] = '\0';
}

static struct map_state *open_map(struct symbolizer *s, int map)
{
	struct map_state *m = &s->maps[map];
	const struct prof_map *pm = &s->p->maps[map];
	if (m->opened)
		return m->opened > 0 ? m : NULL;
	m->opened = -1;
	m->dwfl = dwfl_begin(&callbacks);
	if (!m->dwfl)
		return NULL;
	dwfl_report_begin(m->dwfl);
	m->mod = dwfl_report_elf(m->dwfl, pm->path, pm->path, -1, 0, false);
	dwfl_report_end(m->dwfl, NULL, NULL);
	if (!m->mod) {
		if (pm->path[0] == '/' || pm->path[0] == '.') /* not "[vdso]"-like names */
			tool_msg("%s: cannot read: %s; its frames are shown as object+offset",
				 pm->path, dwfl_errmsg(-1));
		return NULL;
	}
	const unsigned char *bits;
	GElf_Addr vaddr;
	int n = dwfl_module_build_id(m->mod, &bits, &vaddr);
	if (pm->build_id) {
		char have[2 * 64 + 1] = "";
		if (n > 0 && n <= 64)
			hexid(bits, n, have);
		if (strcmp(have, pm->build_id) != 0) {
			tool_msg("%s: build ID %s differs from the profile's %s (the file changed "
				 "since the profile was written); its frames are not symbolized",
				 pm->path, have[0] ? have : "(none)", pm->build_id);
			return NULL;
		}
	}
	if (!dwfl_module_getelf(m->mod, &m->bias))
		return NULL;
	dwfl_module_info(m->mod, NULL, &m->low, &m->high, NULL, NULL, NULL, NULL);
	m->opened = 1;
	return m;
}

static char *demangle(const char *name)
{
	if (!name)
		return NULL;
	if (name[0] == '_' && name[1] == 'Z') {
		int status;
		char *d = __cxa_demangle(name, NULL, NULL, &status);
		if (d && status == 0)
			return d;
		free(d);
	}
	return xstrdup(name);
}

/* A subprogram or inlined subroutine's name: a C++ linkage name demangled
 * (with its class, namespaces and parameters), else DW_AT_name (a C
 * function's linkage name is only an assembler alias, e.g. glibc's
 * __GI_ names). */
static char *die_func(Dwarf_Die *die)
{
	Dwarf_Attribute a;
	const char *n = NULL;
	if (dwarf_attr_integrate(die, DW_AT_linkage_name, &a) ||
	    dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &a))
		n = dwarf_formstring(&a);
	if (n && n[0] == '_' && n[1] == 'Z')
		return demangle(n);
	if (dwarf_attr_integrate(die, DW_AT_name, &a) && (n = dwarf_formstring(&a)))
		return xstrdup(n);
	return demangle(n);
}

/* Empty names (corrupt DWARF) are unknown ones. */
static void add_frame(struct sym_loc *l, size_t *cap, char *func, const char *file,
		      unsigned int line)
{
	if (func && !func[0]) {
		free(func);
		func = NULL;
	}
	if (file && !file[0])
		file = NULL;
	GROW(l->frames, *cap, l->nr_frames + 1);
	l->frames[l->nr_frames].func = func;
	l->frames[l->nr_frames].file = file ? xstrdup(file) : NULL;
	l->frames[l->nr_frames].line = line;
	l->nr_frames++;
}

/* ---- scopes through a per-CU function index ------------------------- */

static int has_range(Dwarf_Die *d)
{
	return dwarf_hasattr(d, DW_AT_low_pc) || dwarf_hasattr(d, DW_AT_ranges);
}

static void index_add(struct cu_index *ix, size_t *cap, Dwarf_Die *fn)
{
	Dwarf_Addr base, low, high;
	ptrdiff_t off = 0;
	while ((off = dwarf_ranges(fn, off, &base, &low, &high)) > 0) {
		GROW(ix->v, *cap, ix->n + 1);
		ix->v[ix->n++] = (struct fn_range){low, high, dwarf_dieoffset(fn)};
	}
}

/* Out-of-line functions of a scope (CU, namespace, class), recursively
 * through the scopes that have no address range of their own. */
static void index_scope(struct cu_index *ix, size_t *cap, Dwarf_Die *parent, int depth)
{
	Dwarf_Die child;
	if (depth > 16 || dwarf_child(parent, &child) != 0)
		return;
	do {
		int tag = dwarf_tag(&child);
		if (tag == DW_TAG_subprogram) {
			if (has_range(&child))
				index_add(ix, cap, &child);
		} else if (tag == DW_TAG_namespace || tag == DW_TAG_class_type ||
			   tag == DW_TAG_structure_type || tag == DW_TAG_union_type ||
			   tag == DW_TAG_module) {
			index_scope(ix, cap, &child, depth + 1);
		}
	} while (dwarf_siblingof(&child, &child) == 0);
}

static int range_cmp(const void *a, const void *b)
{
	const struct fn_range *x = a, *y = b;
	return x->low < y->low ? -1 : x->low > y->low;
}

static struct cu_index *cu_index_of(struct map_state *m, Dwarf_Die *cu)
{
	Dwarf_Off off = dwarf_dieoffset(cu);
	if ((m->nr_cus + 1) * 2 > m->cap_cus) {
		size_t ncap = m->cap_cus ? m->cap_cus * 2 : 64;
		struct cu_index *n = xcalloc(ncap, sizeof(*n));
		for (size_t i = 0; i < m->cap_cus; i++) {
			if (!m->cus[i].cu)
				continue;
			size_t j = (m->cus[i].cu * 0x9E3779B97F4A7C15ull >> 24) & (ncap - 1);
			while (n[j].cu)
				j = (j + 1) & (ncap - 1);
			n[j] = m->cus[i];
		}
		free(m->cus);
		m->cus = n;
		m->cap_cus = ncap;
	}
	size_t j = (off * 0x9E3779B97F4A7C15ull >> 24) & (m->cap_cus - 1);
	while (m->cus[j].cu && m->cus[j].cu != off)
		j = (j + 1) & (m->cap_cus - 1);
	struct cu_index *ix = &m->cus[j];
	if (!ix->cu) {
		size_t cap = 0;
		ix->cu = off;
		m->nr_cus++;
		index_scope(ix, &cap, cu, 0);
		if (ix->n)
			qsort(ix->v, ix->n, sizeof(*ix->v), range_cmp);
	}
	return ix;
}

/*
 * The scopes containing pc, innermost first, down from the out-of-line
 * function that holds it (found by binary search in its CU's index):
 * inlined subroutines and lexical blocks whose ranges hold pc.  0 when the
 * index has no function there (the caller then asks libdw).
 */
static int fast_scopes(struct map_state *m, Dwarf_Die *cu, Dwarf_Addr pc, Dwarf_Die **out)
{
	struct cu_index *ix = cu_index_of(m, cu);
	size_t lo = 0, hi = ix->n, found = (size_t)-1;
	while (lo < hi) { /* last range starting at or below pc */
		size_t mid = lo + (hi - lo) / 2;
		if (ix->v[mid].low <= pc) {
			found = mid;
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	/* ranges of different functions do not overlap; look back a little for
	 * a range that holds pc (a nested one may start later) */
	size_t k = found;
	for (size_t back = 0; k != (size_t)-1 && back < 4; back++, k--)
		if (ix->v[k].low <= pc && pc < ix->v[k].high)
			break;
	if (k == (size_t)-1 || !(ix->v[k].low <= pc && pc < ix->v[k].high))
		return 0;
	Dwarf_Die fn;
	if (!dwarf_offdie(dwarf_cu_getdwarf(cu->cu), ix->v[k].die, &fn))
		return 0;
	size_t cap = 8, n = 0;
	Dwarf_Die *path = xmalloc(cap * sizeof(*path));
	path[n++] = fn;
	for (;;) {
		Dwarf_Die child;
		int descended = 0;
		if (dwarf_child(&path[n - 1], &child) == 0) {
			do {
				int tag = dwarf_tag(&child);
				if ((tag == DW_TAG_inlined_subroutine || tag == DW_TAG_lexical_block) &&
				    dwarf_haspc(&child, pc) == 1) {
					GROW(path, cap, n + 1);
					path[n++] = child;
					descended = 1;
					break;
				}
			} while (dwarf_siblingof(&child, &child) == 0);
		}
		if (!descended)
			break;
	}
	for (size_t i = 0; i < n / 2; i++) { /* innermost first */
		Dwarf_Die t = path[i];
		path[i] = path[n - 1 - i];
		path[n - 1 - i] = t;
	}
	*out = path;
	return (int)n;
}

/* DWARF frames of module address a (the call instruction); 0 if none found. */
static int dwarf_frames(struct map_state *m, GElf_Addr a, struct sym_loc *l, size_t *cap)
{
	Dwfl_Line *dl = dwfl_module_getsrc(m->mod, a);
	if (!dl)
		return 0;
	int lineno = 0;
	const char *file = dwfl_lineinfo(dl, NULL, &lineno, NULL, NULL, NULL);
	if (!file)
		return 0;
	Dwarf_Addr bias;
	Dwarf_Die *cu = dwfl_module_addrdie(m->mod, a, &bias);
	Dwarf_Die *scopes = NULL;
	int n = cu ? fast_scopes(m, cu, a - bias, &scopes) : 0;
	if (n <= 0 && cu) {
		Dwarf_Die innermost;
		n = dwarf_getscopes(cu, a - bias, &scopes);
		if (n > 0) { /* the PC's scopes end in the abstract origin's; the
			      * innermost DIE's are the concrete chain (as eu-addr2line -i) */
			innermost = scopes[0];
			free(scopes);
			scopes = NULL;
			n = dwarf_getscopes_die(&innermost, &scopes);
		}
	}
	Dwarf_Files *files = NULL;
	size_t nfiles = 0;
	char *cur_file = xstrdup(file);
	unsigned int cur_line = (unsigned int)lineno;
	for (int i = 0; i < n; i++) {
		int tag = dwarf_tag(&scopes[i]);
		if (tag != DW_TAG_subprogram && tag != DW_TAG_inlined_subroutine &&
		    tag != DW_TAG_entry_point)
			continue;
		add_frame(l, cap, die_func(&scopes[i]), cur_file, cur_line);
		if (tag != DW_TAG_inlined_subroutine)
			break;
		Dwarf_Attribute at;
		Dwarf_Word fidx = 0, cline = 0;
		if (dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_file, &at), &fidx) ||
		    dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_line, &at), &cline))
			break;
		if (!files && dwarf_getsrcfiles(cu, &files, &nfiles))
			break;
		const char *cf = fidx < nfiles ? dwarf_filesrc(files, fidx, NULL, NULL) : NULL;
		free(cur_file);
		cur_file = xstrdup(cf ? cf : "??");
		cur_line = (unsigned int)cline;
	}
	if (l->nr_frames == 0) /* line info but no scope: the symbol's name */
		add_frame(l, cap, NULL, cur_file, cur_line);
	free(cur_file);
	free(scopes);
	return 1;
}

static struct sym_loc *symbolize(struct symbolizer *s, int map, uint64_t addr)
{
	struct sym_loc *l = xcalloc(1, sizeof(*l));
	size_t cap = 0;
	const struct prof_map *pm = map >= 0 ? &s->p->maps[map] : NULL;
	l->object = xasprintf("%s+0x%" PRIx64, pm ? pm->path : "?", addr);
	struct map_state *m = pm ? open_map(s, map) : NULL;
	/* An address outside the object (a profile of another build, a
	 * truncated file): no name, rather than the nearest symbol's. */
	if (m && addr > 0 && m->bias + addr - 1 >= m->low && m->bias + addr - 1 < m->high) {
		/* The symbol table only when DWARF does not name the function:
		 * libdwfl's symbol lookup scans every symbol. */
		GElf_Addr a = m->bias + addr - 1, off = 0;
		GElf_Sym sym;
		int dw = dwarf_frames(m, a, l, &cap);
		const char *name = dw && l->frames[0].func
					   ? NULL
					   : dwfl_module_addrinfo(m->mod, a, &off, &sym, NULL, NULL, NULL);
		if (name && !name[0])
			name = NULL; /* a corrupt symbol table's empty name */
		if (dw) {
			if (!l->frames[0].func && name) /* no scope: the symbol names it */
				l->frames[0].func = demangle(name);
		} else if (name) {
			char *d = demangle(name);
			add_frame(l, &cap, xasprintf("%s+0x%" PRIx64, d, (uint64_t)off + 1), NULL, 0);
			free(d);
		}
	}
	if (l->nr_frames == 0)
		add_frame(l, &cap, NULL, NULL, 0);
	return l;
}

static size_t hash(int map, uint64_t addr)
{
	return (size_t)(((uint64_t)(map + 1) * 0x9E3779B97F4A7C15ull ^ addr) * 0xff51afd7ed558ccdull >> 17);
}

const struct sym_loc *sym_get(struct symbolizer *s, int map, uint64_t addr)
{
	size_t i = hash(map, addr) & (s->cap - 1);
	for (; s->tab[i].loc; i = (i + 1) & (s->cap - 1))
		if (s->tab[i].map == map && s->tab[i].addr == addr)
			return s->tab[i].loc;
	struct sym_loc *l = symbolize(s, map, addr);
	s->tab[i] = (struct entry){map, addr, l};
	if (++s->used > s->cap / 2) { /* rehash into twice the slots */
		struct entry *old = s->tab;
		size_t ocap = s->cap;
		s->cap *= 2;
		s->tab = xcalloc(s->cap, sizeof(*s->tab));
		for (size_t k = 0; k < ocap; k++) {
			if (!old[k].loc)
				continue;
			size_t j = hash(old[k].map, old[k].addr) & (s->cap - 1);
			while (s->tab[j].loc)
				j = (j + 1) & (s->cap - 1);
			s->tab[j] = old[k];
		}
		free(old);
	}
	return l;
}

void sym_free(struct symbolizer *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->cap; i++) {
		struct sym_loc *l = s->tab[i].loc;
		if (!l)
			continue;
		for (unsigned int k = 0; k < l->nr_frames; k++) {
			free(l->frames[k].func);
			free(l->frames[k].file);
		}
		free(l->frames);
		free(l->object);
		free(l);
	}
	for (size_t i = 0; i < s->p->nr_maps; i++) {
		if (s->maps[i].dwfl)
			dwfl_end(s->maps[i].dwfl);
		for (size_t k = 0; k < s->maps[i].cap_cus; k++)
			free(s->maps[i].cus[k].v);
		free(s->maps[i].cus);
	}
	free(s->maps);
	free(s->tab);
	free(s);
}

int sym_system_file(const char *file)
{
	return file && (strncmp(file, "/usr/include/", 13) == 0 ||
			strncmp(file, "/usr/lib/gcc/", 13) == 0 ||
			strncmp(file, "/usr/local/include/", 19) == 0);
}

static int ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

char *sym_short_name(const char *func)
{
	size_t n = strlen(func);
	char *out = xmalloc(n + 1), *o = out;
	int depth = 0;
	for (size_t i = 0; i < n; i++) {
		char c = func[i];
		if (c == '<')
			depth++;
		else if (c == '>' && depth > 0)
			depth--;
		else if (c == '(' && depth == 0 && i > 0 &&
			 !(i >= 8 && strncmp(func + i - 8, "operator", 8) == 0))
			break;
		if (c == ' ') { /* "operator new" -> operator_new, "a, b" -> a,b */
			if (o > out && ident_char(o[-1]) && ident_char(func[i + 1]))
				*o++ = '_';
			continue;
		}
		*o++ = c;
	}
	*o = '\0';
	return out;
}
