/*
 * The call-chain unwinder (layout of the rule cache, the walk's bounds:
 * unwind.h).  The rule of an address comes from its object's
 * .eh_frame_hdr search table and the FDE's CFA program, run up to the call
 * instruction.  Only what the walk needs is tracked: the CFA (rsp or rbp +
 * offset), where rbp was saved, where the return address is.
 */
#define _GNU_SOURCE /* dl_iterate_phdr */
#include "sites/unwind.h"

#include <link.h>
#include <sys/single_threaded.h>
#include <string.h>
#include <sys/mman.h>

#include "core/control.h"
#include "core/message.h"
#include "sites/eh_file.h"
#include "sites/site_names.h"

#if defined(__x86_64__)

/* The rule cache (unwind.h): the current table, as its address (32-byte
 * aligned) with its shift (2^shift sets of AT_RULE_WAYS words) in the low
 * 5 bits: one load gives both, and no header; tables it replaced stay
 * mapped (a reader may still hold one) and are counted in rule_bytes, but
 * the first, which is in the sites' pool. */
static uintptr_t rules;
_Static_assert(AT_RULE_SHIFT_MAX < 32, "a table's shift fits its address's low 5 bits");
static size_t rule_bytes;
/* The tables replaced, by shift (a shift is replaced once): their
 * resident pages, for the tests (at_unwind_replaced_resident). */
static uintptr_t replaced[AT_RULE_SHIFT_MAX + 1];
/* misses: rule-cache misses so far; fill: words made valid in the current
 * table since it was made or cleared; evicted: valid words replaced in it
 * since then; child, child_evicted: a forked process's own table (unwind.h,
 * "A forked process's rules": its words, 0 when it stores in the main one)
 * and the valid words replaced in it */
AT_CHAIN_HOT static struct {
	uint64_t misses;
	uint32_t fill, evicted;
	uintptr_t child;
	uint32_t child_evicted;
	unsigned char forked; /* stores in the child's table */
} rule_counts;
/* The main table's replacements and clears (at_unwind_generation). */
static uint32_t generation;
/* The loader's count of unloads (dlpi_subs) the rule cache was last
 * cleared for; it only grows (rule_miss raises it by compare-and-swap,
 * and the loader's count only grows), so a reader that recorded it knows
 * whether an unload was seen since by comparing it again. */
static unsigned long long seen_subs;

#define R_VALID (1ull << 31)
#define R_TAUGHT (1ull << 47) /* unwind.h: a rule a child taught */
#define R_STOP (1ull << 32)
#define R_CFA_RBP (1ull << 33)
#define R_RBP_SLOT_SHIFT 32 /* 8 * the slot, in bits 35..46 */
#define R_CFA_OFF_SHIFT 48
/* The same in the word's high half (rule_of's result): tests with small
 * immediates, the slot's bytes by one and, the CFA offset by one shift. */
#define H_STOP (uint32_t)(R_STOP >> 32)
#define H_CFA_RBP (uint32_t)(R_CFA_RBP >> 32)
#define H_RBP_SLOT 0x7ff8u
#define H_CFA_OFF_SHIFT (R_CFA_OFF_SHIFT - 32)

/* ra's set: bits 3 .. 3 + shift of ra (the walk computes its offset as
 * rule_view says; the key's multiply runs beside the set's load). */
static inline uint32_t tab_shift(uintptr_t t)
{
	return (uint32_t)(t & 31);
}

static inline uint64_t *tab_words(uintptr_t t)
{
	return (uint64_t *)(t & ~(uintptr_t)31);
}

static inline uint64_t *rule_set(uintptr_t t, uintptr_t ra)
{
	return tab_words(t) + ((ra >> 3) & (((uint64_t)1 << tab_shift(t)) - 1)) * AT_RULE_WAYS;
}

/* ra's key: the top 31 bits of ra times an odd constant (the same in
 * every table: no shift to load). */
static inline uint32_t rule_key(uintptr_t ra)
{
	return (uint32_t)(R_VALID | ((ra * 0x9E3779B97F4A7C15ull) >> 33));
}

/* ---- reading .eh_frame --------------------------------------------- */

struct cursor {
	const uint8_t *p, *end;
	int bad;
	uintptr_t bias; /* run-time address of a byte = its pointer + bias */
};

/* A ULEB128 of more than one byte (uleb's). */
static uint64_t uleb_long(struct cursor *c)
{
	uint64_t v = 0;
	unsigned int shift = 0;
	while (c->p < c->end) {
		uint8_t b = *c->p++;
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80))
			return v;
	}
	c->bad = 1;
	return 0;
}

/* A ULEB128: one byte in line (CFA programs' operands almost always are),
 * longer ones by a call. */
static inline __attribute__((always_inline)) uint64_t uleb(struct cursor *c)
{
	if (c->p < c->end && !(*c->p & 0x80))
		return *c->p++;
	return uleb_long(c);
}

AT_ONCE_TEXT static int64_t sleb(struct cursor *c)
{
	uint64_t v = 0;
	unsigned int shift = 0;
	uint8_t b = 0;
	while (c->p < c->end) {
		b = *c->p++;
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80)) {
			if (shift < 64 && (b & 0x40))
				v |= ~0ull << shift;
			return (int64_t)v;
		}
	}
	c->bad = 1;
	return 0;
}

/* x * y as two's complement (corrupt CFI may overflow; no UB) */
static inline int64_t mul(int64_t x, int64_t y)
{
	return (int64_t)((uint64_t)x * (uint64_t)y);
}

#define GET(c, type)                                                           \
	({                                                                     \
		type _v = 0;                                                   \
		if ((size_t)((c)->end - (c)->p) >= sizeof(type)) {             \
			memcpy(&_v, (c)->p, sizeof(type));                     \
			(c)->p += sizeof(type);                                \
		} else {                                                       \
			(c)->bad = 1;                                          \
		}                                                              \
		_v;                                                            \
	})

/* A DW_EH_PE-encoded pointer; datarel is relative to `data`. */
AT_ONCE_TEXT static uintptr_t read_enc(struct cursor *c, uint8_t enc, uintptr_t data)
{
	const uint8_t *at = c->p;
	uintptr_t v;
	if (enc == 0xff) /* omit */
		return 0;
	switch (enc & 0x0f) {
	case 0x00: v = GET(c, uint64_t); break;
	case 0x01: v = uleb(c); break;
	case 0x02: v = GET(c, uint16_t); break;
	case 0x03: v = GET(c, uint32_t); break;
	case 0x04: v = GET(c, uint64_t); break;
	case 0x09: v = (uintptr_t)sleb(c); break;
	case 0x0a: v = (uintptr_t)(intptr_t)GET(c, int16_t); break;
	case 0x0b: v = (uintptr_t)(intptr_t)GET(c, int32_t); break;
	case 0x0c: v = (uintptr_t)GET(c, int64_t); break;
	default: c->bad = 1; return 0;
	}
	switch (enc & 0x70) {
	case 0x00: break;
	case 0x10: v += (uintptr_t)at + c->bias; break;
	case 0x30: v += data; break;
	default: c->bad = 1; return 0;
	}
	if (enc & 0x80) /* indirect: not used by .eh_frame of ordinary code */
		c->bad = 1;
	return v;
}

/* The CIE at p, read inside [p, limit): 0, AT_EH_STOP when it uses what
 * the rules cannot (64-bit DWARF, old augmentations, a signal frame), or
 * AT_EH_CORRUPT. */
AT_ONCE_TEXT static int parse_cie(const uint8_t *p, const uint8_t *limit, uintptr_t bias, struct at_cie *cie)
{
	struct cursor c = {p, limit, 0, bias};
	uint64_t len = GET(&c, uint32_t);
	if (len == 0xffffffffu)
		return AT_EH_STOP; /* 64-bit DWARF: not emitted for x86-64 user code */
	if (c.bad || len > (size_t)(limit - c.p))
		return AT_EH_CORRUPT;
	c.end = c.p + len;
	if (GET(&c, uint32_t) != 0)
		return AT_EH_CORRUPT; /* not a CIE */
	uint8_t version = GET(&c, uint8_t);
	const char *aug = (const char *)c.p;
	while (c.p < c.end && *c.p)
		c.p++;
	if (c.p >= c.end)
		return AT_EH_CORRUPT;
	c.p++;
	if (aug[0] && aug[0] != 'z')
		return AT_EH_STOP; /* "eh" and other old forms */
	cie->code_align = uleb(&c);
	cie->data_align = sleb(&c);
	if (version == 1)
		(void)GET(&c, uint8_t);
	else
		(void)uleb(&c);
	cie->fde_enc = 0; /* absptr */
	cie->aug_z = aug[0] == 'z';
	cie->signal = 0;
	if (cie->aug_z) {
		uint64_t alen = uleb(&c);
		if (c.bad || alen > (size_t)(c.end - c.p))
			return AT_EH_CORRUPT;
		const uint8_t *aend = c.p + alen;
		for (const char *a = aug + 1; *a; a++) {
			if (*a == 'R') {
				cie->fde_enc = GET(&c, uint8_t);
			} else if (*a == 'P') {
				uint8_t e = GET(&c, uint8_t);
				(void)read_enc(&c, e & 0x7f, 0);
			} else if (*a == 'L') {
				(void)GET(&c, uint8_t);
			} else if (*a == 'S') {
				cie->signal = 1;
			} else {
				break; /* unknown: the length says where the data ends */
			}
		}
		c.p = aend;
	}
	cie->insns = c.p;
	cie->end = c.end;
	if (c.bad)
		return AT_EH_CORRUPT;
	return cie->signal ? AT_EH_STOP : 0;
}

#define MAX_REMEMBER 8

/* Run a CFA program until loc passes pc (or the end); 0, AT_EH_STOP on an
 * instruction it cannot follow, AT_EH_CORRUPT on one cut short. */
AT_ONCE_TEXT static int run_cfa(struct cursor *c, const struct at_cie *cie, uintptr_t loc, uintptr_t pc,
		   struct at_cfa_state *st, const struct at_cfa_state *init)
{
	struct at_cfa_state stack[MAX_REMEMBER];
	int depth = 0;
	while (c->p < c->end && !c->bad) {
		uint8_t op = *c->p++;
		uint64_t reg = 0;
		int64_t off;
		uintptr_t adv = 0;
		switch (op & 0xc0) {
		case 0x40:
			adv = (op & 0x3f) * cie->code_align;
			goto advance;
		case 0x80:
			reg = op & 0x3f;
			off = mul((int64_t)uleb(c), cie->data_align);
			goto offset;
		case 0xc0:
			reg = op & 0x3f;
			goto restore;
		}
		switch (op) {
		case 0x00: continue;
		case 0x01: {
			uintptr_t nl = read_enc(c, cie->fde_enc, 0);
			if (nl > pc)
				return 0;
			loc = nl;
			continue;
		}
		case 0x02: adv = GET(c, uint8_t) * cie->code_align; goto advance;
		case 0x03: adv = GET(c, uint16_t) * cie->code_align; goto advance;
		case 0x04: adv = GET(c, uint32_t) * cie->code_align; goto advance;
		case 0x05:
			reg = uleb(c);
			off = mul((int64_t)uleb(c), cie->data_align);
			goto offset;
		case 0x06:
			reg = uleb(c);
			goto restore;
		case 0x07: /* undefined */
			reg = uleb(c);
			if (reg == 16)
				st->ra_kind = 0;
			else if (reg == 6)
				st->rbp_kind = 2;
			continue;
		case 0x08: /* same value */
			reg = uleb(c);
			if (reg == 6)
				st->rbp_kind = 0;
			else if (reg == 16)
				st->ra_kind = 2;
			continue;
		case 0x09: /* register */
			reg = uleb(c);
			(void)uleb(c);
			goto unsupported_reg;
		case 0x0a:
			if (depth == MAX_REMEMBER)
				return AT_EH_STOP;
			stack[depth++] = *st;
			continue;
		case 0x0b:
			if (!depth)
				return AT_EH_STOP;
			*st = stack[--depth];
			continue;
		case 0x0c:
			st->cfa_reg = (int)uleb(c);
			st->cfa_off = (int64_t)uleb(c);
			st->cfa_expr = 0;
			continue;
		case 0x0d:
			st->cfa_reg = (int)uleb(c);
			st->cfa_expr = 0;
			continue;
		case 0x0e:
			st->cfa_off = (int64_t)uleb(c);
			continue;
		case 0x0f: { /* def_cfa_expression */
			uint64_t n = uleb(c);
			if (n > (size_t)(c->end - c->p))
				return AT_EH_CORRUPT;
			c->p += n;
			st->cfa_expr = 1;
			continue;
		}
		case 0x10:   /* expression */
		case 0x16: { /* val_expression */
			reg = uleb(c);
			uint64_t n = uleb(c);
			if (n > (size_t)(c->end - c->p))
				return AT_EH_CORRUPT;
			c->p += n;
			goto unsupported_reg;
		}
		case 0x11:
			reg = uleb(c);
			off = mul(sleb(c), cie->data_align);
			goto offset;
		case 0x12:
			st->cfa_reg = (int)uleb(c);
			st->cfa_off = mul(sleb(c), cie->data_align);
			st->cfa_expr = 0;
			continue;
		case 0x13:
			st->cfa_off = mul(sleb(c), cie->data_align);
			continue;
		case 0x14: /* val_offset */
			reg = uleb(c);
			(void)uleb(c);
			goto unsupported_reg;
		case 0x15:
			reg = uleb(c);
			(void)sleb(c);
			goto unsupported_reg;
		case 0x2e: /* GNU_args_size */
			(void)uleb(c);
			continue;
		case 0x2f:
			reg = uleb(c);
			off = mul((int64_t)(0 - uleb(c)), cie->data_align);
			goto offset;
		default:
			return AT_EH_STOP;
		}
	advance:
		if (loc + adv > pc)
			return 0;
		loc += adv;
		continue;
	offset:
		if (reg == 6) {
			st->rbp_kind = 1;
			st->rbp_off = off;
		} else if (reg == 16) {
			st->ra_kind = 1;
			st->ra_off = off;
		}
		continue;
	restore:
		if (!init)
			return AT_EH_STOP;
		if (reg == 6) {
			st->rbp_kind = init->rbp_kind;
			st->rbp_off = init->rbp_off;
		} else if (reg == 16) {
			st->ra_kind = init->ra_kind;
			st->ra_off = init->ra_off;
		}
		continue;
	unsupported_reg:
		if (reg == 6)
			st->rbp_kind = 2;
		else if (reg == 16)
			st->ra_kind = 2;
		continue;
	}
	return c->bad ? AT_EH_CORRUPT : 0;
}

static inline int32_t load32(const uint8_t *p) /* unaligned in corrupt objects */
{
	int32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

AT_ONCE_TEXT int at_eh_hdr(const uint8_t *p, size_t n, uintptr_t addr, uint64_t *count, size_t *table)
{
	struct cursor c = {p, p + n, 0, addr - (uintptr_t)p};
	if (GET(&c, uint8_t) != 1)
		return AT_EH_CORRUPT;
	uint8_t ptr_enc = GET(&c, uint8_t), cnt_enc = GET(&c, uint8_t), tab_enc = GET(&c, uint8_t);
	(void)read_enc(&c, ptr_enc, addr);
	*count = read_enc(&c, cnt_enc, addr);
	*table = (size_t)(c.p - p);
	if (c.bad)
		return AT_EH_CORRUPT;
	if (tab_enc != 0x3b || !*count)
		return AT_EH_STOP; /* only the datarel sdata4 table that ld writes */
	return 0;
}

size_t at_eh_search(const uint8_t *tab, size_t count, int64_t rel)
{
	size_t lo = 0, hi = count; /* last entry with start <= rel */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (load32(tab + 8 * mid) <= rel)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

AT_ONCE_TEXT void at_eh_cie_read(const uint8_t *cie_p, size_t cie_n, uintptr_t cie_addr,
				struct at_eh_cie *c)
{
	c->init = (struct at_cfa_state){7, 8, 0, 0, 1, -8, 0};
	c->ran = 0;
	c->parsed = parse_cie(cie_p, cie_p + cie_n, cie_addr - (uintptr_t)cie_p, &c->cie);
	if (c->parsed)
		return;
	struct cursor ci = {c->cie.insns, c->cie.end, 0, cie_addr - (uintptr_t)cie_p};
	c->ran = run_cfa(&ci, &c->cie, 0, (uintptr_t)-1, &c->init, NULL);
}

AT_ONCE_TEXT int at_eh_fde_rule_cie(const uint8_t *fde, size_t fde_n, uintptr_t fde_addr,
				    const struct at_eh_cie *c, uintptr_t cie_addr, uintptr_t pc,
				    uint64_t *rule)
{
	*rule = R_STOP;
	if (fde_n < 8)
		return AT_EH_CORRUPT;
	struct cursor f = {fde, fde + 8, 0, fde_addr - (uintptr_t)fde};
	uint32_t len = GET(&f, uint32_t);
	if (len == 0xffffffffu)
		return AT_EH_STOP;
	if (len < 8 || len - 4 > fde_n - 8)
		return AT_EH_CORRUPT;
	f.end = fde + 4 + len;
	uint32_t cie_off = GET(&f, uint32_t);
	if (!cie_off || fde_addr + 4 - cie_off != cie_addr)
		return AT_EH_CORRUPT; /* a CIE, not an FDE; or not the CIE given */
	if (c->parsed)
		return c->parsed;
	uintptr_t start = read_enc(&f, c->cie.fde_enc, 0);
	uintptr_t range = read_enc(&f, c->cie.fde_enc & 0x0f, 0);
	if (f.bad)
		return AT_EH_CORRUPT;
	if (pc < start || pc - start >= range)
		return AT_EH_STOP;
	if (c->cie.aug_z) {
		uint64_t alen = uleb(&f);
		if (f.bad || alen > (size_t)(f.end - f.p))
			return AT_EH_CORRUPT;
		f.p += alen;
	}
	if (c->ran)
		return c->ran;
	struct at_cfa_state st = c->init;
	int r = run_cfa(&f, &c->cie, start, pc, &st, &c->init);
	if (r)
		return r;
	if (st.cfa_expr || (st.cfa_reg != 7 && st.cfa_reg != 6) || st.cfa_off < 0 ||
	    st.cfa_off > 0xffff || st.ra_kind != 1 || st.ra_off != -8 || st.rbp_kind == 2)
		return AT_EH_STOP; /* ra undefined (outermost frame) is a stop too */
	uint64_t w = (uint64_t)st.cfa_off << R_CFA_OFF_SHIFT;
	if (st.cfa_reg == 6)
		w |= R_CFA_RBP;
	if (st.rbp_kind == 1) {
		if (st.rbp_off >= 0 || st.rbp_off < -8 * 0xfff || (-st.rbp_off & 7))
			return AT_EH_STOP;
		w |= (uint64_t)-st.rbp_off << R_RBP_SLOT_SHIFT; /* 8 .. 0x7ff8: not 0 */
	}
	*rule = w;
	return 0;
}

AT_ONCE_TEXT int at_eh_fde_rule(const uint8_t *fde, size_t fde_n, uintptr_t fde_addr, const uint8_t *cie_p,
		   size_t cie_n, uintptr_t cie_addr, uintptr_t pc, uint64_t *rule)
{
	struct at_eh_cie c;
	at_eh_cie_read(cie_p, cie_n, cie_addr, &c);
	return at_eh_fde_rule_cie(fde, fde_n, fde_addr, &c, cie_addr, pc, rule);
}

int at_eh_rule(const uint8_t *data, size_t size, const uint8_t *hdr, uintptr_t pc,
	       uint64_t *rule)
{
	*rule = R_STOP;
	const uint8_t *end = data + size;
	if (hdr < data || hdr >= end)
		return AT_EH_CORRUPT;
	uint64_t count;
	size_t at;
	int r = at_eh_hdr(hdr, (size_t)(end - hdr), (uintptr_t)hdr, &count, &at);
	if (r)
		return r;
	const uint8_t *tab = hdr + at; /* count pairs (start, FDE), relative to hdr */
	if (count > (size_t)(end - tab) / 8)
		return AT_EH_CORRUPT;
	int64_t rel = (int64_t)(pc - (uintptr_t)hdr);
	if (rel < load32(tab))
		return AT_EH_STOP;
	size_t lo = at_eh_search(tab, count, rel);
	/* The FDE and its CIE */
	int64_t fde_off = (hdr - data) + (int64_t)load32(tab + 8 * lo + 4);
	if (fde_off < 0 || fde_off > (int64_t)size - 8)
		return AT_EH_CORRUPT;
	const uint8_t *fde = data + fde_off;
	uint32_t len = (uint32_t)load32(fde);
	if (len == 0xffffffffu)
		return AT_EH_STOP;
	if (len < 8 || len - 4 > (size_t)(end - fde) - 8)
		return AT_EH_CORRUPT;
	uint32_t cie_off = (uint32_t)load32(fde + 4);
	if (!cie_off || cie_off > (size_t)(fde + 4 - data))
		return AT_EH_CORRUPT; /* a CIE, not an FDE; or outside */
	const uint8_t *cie = fde + 4 - cie_off;
	return at_eh_fde_rule(fde, (size_t)(end - fde), (uintptr_t)fde, cie, (size_t)(end - cie),
			      (uintptr_t)cie, pc, rule);
}

struct find {
	uintptr_t pc;
	uint64_t rule;
	unsigned long long subs;
};

/*
 * Objects whose CFI was found corrupt: ignored (every frame in them is a
 * stop) until an object is unloaded (the rule cache is cleared then too),
 * and said once each (by .eh_frame_hdr address, kept after an unload).
 * Written inside dl_iterate_phdr's callback, under the loader's lock.
 */
#define BAD_OBJECTS 16
static struct { /* in .bss, not AT_BIG_BSS: every new object's walk reads it */
	const uint8_t *hdr;
	int ignored;
} bad_objects[BAD_OBJECTS];
static int bad_objects_full;

static int bad_object_ignored(const uint8_t *hdr)
{
	for (int i = 0; i < BAD_OBJECTS; i++)
		if (AT_LOAD_RELAXED(&bad_objects[i].hdr) == hdr)
			return AT_LOAD_RELAXED(&bad_objects[i].ignored);
	return 0;
}

static void bad_object(const uint8_t *hdr, const char *name)
{
	for (int i = 0; i < BAD_OBJECTS; i++) {
		const uint8_t *h = AT_LOAD_RELAXED(&bad_objects[i].hdr);
		if (h == hdr || !h) {
			AT_STORE_RELAXED(&bad_objects[i].hdr, hdr);
			AT_STORE_RELAXED(&bad_objects[i].ignored, 1);
			if (!h)
				at_msg("%s: corrupt .eh_frame_hdr or .eh_frame; call chains end at "
				       "its frames",
				       name && name[0] ? name : "the main program");
			return;
		}
	}
	at_msg_once(bad_objects_full, "more objects with corrupt .eh_frame; not named");
}

static void bad_objects_forget(void)
{
	for (int i = 0; i < BAD_OBJECTS; i++)
		AT_STORE_RELAXED(&bad_objects[i].ignored, 0);
}

/* Whether pc lies in a PT_LOAD segment of info's object; its
 * .eh_frame_hdr's address in *hdr (NULL: none). */
static int object_holds(const struct dl_phdr_info *info, uintptr_t pc, const uint8_t **hdr)
{
	int inside = 0;
	*hdr = NULL;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD) {
			uintptr_t s = info->dlpi_addr + ph->p_vaddr;
			if (pc >= s && pc < s + ph->p_memsz)
				inside = 1;
		} else if (ph->p_type == PT_GNU_EH_FRAME) {
			*hdr = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
		}
	}
	return inside;
}

/* pc's rule in the object of info, whose .eh_frame_hdr is at hdr: from its
 * file, else from its mapping. */
static uint64_t object_rule(const struct dl_phdr_info *info, const uint8_t *hdr, uintptr_t pc);

/* An object was unloaded (the loader's dlpi_subs changed): what the
 * caches know of objects forgotten (the rule cache: rule_miss). */
static void objects_forget(void)
{
	bad_objects_forget();
	at_eh_file_forget();
}

AT_ONCE_TEXT static int find_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	struct find *fd = data;
	(void)size;
	fd->subs = info->dlpi_subs;
	const uint8_t *hdr;
	if (!object_holds(info, fd->pc, &hdr))
		return 0;
	if (AT_LOAD_RELAXED(&seen_subs) != info->dlpi_subs)
		objects_forget();
	fd->rule = object_rule(info, hdr, fd->pc);
	return 1;
}

AT_ONCE_TEXT static uint64_t object_rule(const struct dl_phdr_info *info, const uint8_t *hdr, uintptr_t pc)
{
	uint64_t rule = R_STOP;
	if (!hdr || bad_object_ignored(hdr))
		return R_STOP;
	int r = at_eh_file_rule(info, hdr, pc, &rule);
	if (r != AT_EH_MEMORY) {
		if (r == AT_EH_CORRUPT)
			bad_object(hdr, info->dlpi_name);
		return rule;
	}
	/* The readable span around hdr: the readable PT_LOAD segment holding
	 * it (in whole pages), and those adjacent to it (no gap between). */
	uintptr_t lo = 0, hi = 0;
	for (int pass = 0, grown = 1; grown; pass++) {
		grown = 0;
		for (int i = 0; i < info->dlpi_phnum; i++) {
			const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
			if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_R))
				continue;
			uintptr_t s = (info->dlpi_addr + ph->p_vaddr) & ~(uintptr_t)4095;
			uintptr_t e = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz + 4095) &
				      ~(uintptr_t)4095;
			if (!pass ? s <= (uintptr_t)hdr && (uintptr_t)hdr < e && !hi
				  : s <= hi && e >= lo && (s < lo || e > hi)) {
				lo = !pass || s < lo ? s : lo;
				hi = !pass || e > hi ? e : hi;
				grown = 1;
			}
		}
	}
	if (lo == hi || at_eh_rule((const uint8_t *)lo, hi - lo, hdr, pc, &rule) == AT_EH_CORRUPT)
		bad_object(hdr, info->dlpi_name);
	return rule;
}

/*
 * The objects of rule misses, so that a miss finds its object without
 * dl_iterate_phdr (the loader's lock, a callback per object before it):
 * _dl_find_object (lock-free) gives the object of pc, and its record here
 * the loader's dl_phdr_info for it, copied by one dl_iterate_phdr at its
 * first miss (which also sees dlpi_subs: an unload forgets the caches as
 * in find_cb).  A record is used only while _dl_find_object reports the
 * same link map, mapping and .eh_frame_hdr; the records are dropped when
 * the table is full or an unload was seen by either path.  miss.lock
 * (taken by exchange, never waited for) guards them: a miss that finds it
 * taken (another thread's, or the one a signal handler interrupted) takes
 * dl_iterate_phdr's path (so does every miss of a child forked while
 * another thread held it).  pc's object is live (pc is a return address of
 * the calling thread's stack), so its mapping is read without the loader's
 * lock.
 */
#define MISS_OBJS 32
struct miss_obj {
	const void *lm, *start, *end, *eh; /* _dl_find_object's */
	const uint8_t *hdr;                /* its .eh_frame_hdr by its program headers */
	struct dl_phdr_info info;
};
/* in the data segment's last page (its 3.3 KiB, which a program's first
 * misses write, took a page of .bss of its own) */
AT_PAGE_END_DATA static struct miss_obj miss_objs[MISS_OBJS];
_Static_assert(sizeof(miss_objs) <= 4096, "the records in one page");
/* in the fork page (core/compiler.h): a forked child's miss writes the
 * lock; subs: seen_subs when the records were started (dropped when it has
 * grown since: an unload seen) */
AT_CHAIN_HOT static struct {
	int lock;
	unsigned int nobjs;
	unsigned long long subs;
} miss;

/*
 * Objects that are never unloaded while this library runs: the main
 * program (dl_iterate_phdr's first), the object of our own code and libc,
 * the object of the libc variable we read (__libc_single_threaded: no
 * relocation more than fork_locks.h's; unloading either would unload us).
 * A miss in one of them finds its record here, by the mapping's bounds
 * alone, with no lock, no _dl_find_object and no program header read: a
 * forked child's first new chain, made in code its parent ran, pages in
 * none of the loader's text.  Entry i is written once, by a miss holding
 * miss.lock, before nperm counts it (release); never dropped (an unload
 * cannot be one of them).
 */
static AT_NOINLINE uint64_t rule_miss(uintptr_t ra, int main_table);
#define PERM_OBJS 3
static struct miss_obj perm_objs[PERM_OBJS];
static unsigned int nperm;

/* The record of perm_objs whose mapping holds pc, or NULL. */
static const struct miss_obj *perm_find(uintptr_t pc)
{
	unsigned int n = AT_LOAD(&nperm);
	for (unsigned int i = 0; i < n; i++)
		if (pc >= (uintptr_t)perm_objs[i].start && pc < (uintptr_t)perm_objs[i].end)
			return &perm_objs[i];
	return NULL;
}

/* fd->pc's rule from a record of perm_objs: 1, or 0 when none holds it. */
static int perm_rule(struct find *fd)
{
	const struct miss_obj *o = perm_find(fd->pc);
	if (!o)
		return 0;
	fd->rule = object_rule(&o->info, o->hdr, fd->pc);
	return 1;
}

int at_unwind_permanent(uintptr_t pc)
{
	return perm_find(pc) != NULL;
}

int at_unwind_object(uintptr_t pc, struct dl_find_object *fo)
{
	const struct miss_obj *o = perm_find(pc);
	if (!o)
		return -1;
	memset(fo, 0, sizeof(*fo));
	fo->dlfo_map_start = (void *)o->start;
	fo->dlfo_map_end = (void *)o->end;
	fo->dlfo_link_map = (struct link_map *)o->lm;
	fo->dlfo_eh_frame = (void *)o->eh;
	return 0;
}

/* Record o in perm_objs if its object is never unloaded (miss.lock held):
 * first, the main program's. */
static void perm_add(const struct miss_obj *o, int first)
{
	unsigned int n = AT_LOAD_RELAXED(&nperm);
	const uint8_t *hdr;
	if (n == PERM_OBJS ||
	    !(first || object_holds(&o->info, (uintptr_t)&rule_miss, &hdr) ||
	      object_holds(&o->info, (uintptr_t)&__libc_single_threaded, &hdr)))
		return;
	for (unsigned int i = 0; i < n; i++)
		if (perm_objs[i].lm == o->lm)
			return;
	perm_objs[n] = *o;
	AT_STORE(&nperm, n + 1);
}

struct collect {
	uintptr_t pc;
	unsigned long long subs;
	struct dl_phdr_info *info; /* filled when an object holds pc */
	const uint8_t *hdr;        /* and its .eh_frame_hdr */
	int found, seen;           /* seen: objects passed over */
};

AT_ONCE_TEXT static int collect_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	struct collect *c = data;
	const uint8_t *hdr;
	c->subs = info->dlpi_subs;
	if (!object_holds(info, c->pc, &hdr)) {
		c->seen++;
		return 0;
	}
	c->hdr = hdr;
	memset(c->info, 0, sizeof(*c->info));
	memcpy(c->info, info, size < sizeof(*info) ? size : sizeof(*info));
	c->found = 1;
	return 1;
}

/* fd->pc's rule through _dl_find_object (miss.lock held): 1, or 0 when the
 * object is not known to it (fd untouched but for subs). */
AT_ONCE_TEXT static int fast_rule(struct find *fd)
{
	struct dl_find_object fo;
	if (_dl_find_object((void *)fd->pc, &fo) || !fo.dlfo_link_map)
		return 0;
	if (miss.subs != AT_LOAD_RELAXED(&seen_subs)) {
		miss.subs = AT_LOAD_RELAXED(&seen_subs);
		miss.nobjs = 0;
	}
	struct miss_obj *o = NULL;
	for (unsigned int i = 0; i < miss.nobjs && !o; i++)
		if (miss_objs[i].lm == fo.dlfo_link_map && miss_objs[i].start == fo.dlfo_map_start &&
		    miss_objs[i].end == fo.dlfo_map_end && miss_objs[i].eh == fo.dlfo_eh_frame &&
		    miss_objs[i].info.dlpi_addr == fo.dlfo_link_map->l_addr)
			o = &miss_objs[i];
	if (!o) {
		if (miss.nobjs == MISS_OBJS)
			miss.nobjs = 0;
		o = &miss_objs[miss.nobjs];
		struct collect c = {fd->pc, 0, &o->info, NULL, 0, 0};
		dl_iterate_phdr(collect_cb, &c);
		fd->subs = c.subs;
		if (c.subs != AT_LOAD_RELAXED(&seen_subs)) { /* an unload: records dropped */
			objects_forget();
			if (o != miss_objs)
				miss_objs[0].info = o->info;
			o = miss_objs;
			miss.nobjs = 0;
		}
		if (!c.found)
			return 0;
		o->lm = fo.dlfo_link_map;
		o->start = fo.dlfo_map_start;
		o->end = fo.dlfo_map_end;
		o->eh = fo.dlfo_eh_frame;
		o->hdr = c.hdr;
		miss.nobjs++;
		perm_add(o, !c.seen);
	}
	/* pc lies in the object's mapping: in one of its segments, as a return
	 * address does (else in no FDE: a stop, as dl_iterate_phdr's path says) */
	fd->rule = object_rule(&o->info, o->hdr, fd->pc);
	return 1;
}

static size_t table_size(uint32_t shift)
{
	return ((size_t)AT_RULE_WAYS << shift) * sizeof(uint64_t);
}

/* Empty table t (a reader may still use it: it finds no key, and misses):
 * its pages dropped (zero pages, not zero stores: a store would make
 * every page resident; a reader's load maps the shared zero page, none of
 * the process's own), so that a table replaced keeps no page resident; the
 * first table's words all stored 0 (it is in the sites' pool, whose pages
 * it shares). */
static void table_clear(uintptr_t t)
{
	uint64_t *w = tab_words(t);
	size_t size = table_size(tab_shift(t));
	if (tab_shift(t) > AT_RULE_SHIFT_FIRST) {
		madvise(w, size, MADV_DONTNEED);
		return;
	}
	for (size_t i = 0; i < size / sizeof(*w); i++)
		AT_STORE_RELAXED(&w[i], 0);
}

/* Publish a new, empty table of 2^shift sets in place of old (NULL: the
 * first); the one published (ours or a racing thread's), NULL without
 * memory. */
AT_ONCE_TEXT static uintptr_t table_grow(uintptr_t old, uint32_t shift)
{
	/* The first table (4 KiB) in the sites' pool, where it shares pages
	 * with the chains' records (in a mapping of its own it kept its own
	 * page resident), 32-byte aligned for the shift in its address's low
	 * bits; its pages written now: a forked child's first lookup of a new
	 * return address reads a page and writes it, which, were the page
	 * never touched, is two faults (the zero page, then a copy of it),
	 * one when it is present.  The larger ones are mappings of their own
	 * (page-aligned), reserved as used. */
	int first = shift <= AT_RULE_SHIFT_FIRST;
	char *n;
	if (first) {
		char *p = at_sites_pool_alloc(table_size(shift) + 24);
		if (!p)
			return old;
		n = (char *)(((uintptr_t)p + 31) & ~(uintptr_t)31);
		for (size_t off = 0; off < table_size(shift); off += 4096)
			((volatile char *)n)[off] = 0;
		((volatile char *)n)[table_size(shift) - 1] = 0;
	} else {
		n = mmap(NULL, table_size(shift), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (n == MAP_FAILED)
			return old;
	}
	if (!__atomic_compare_exchange_n(&rules, &old, (uintptr_t)n | shift, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		if (!first) /* a racing first table stays unused in the pool */
			munmap(n, table_size(shift));
		return old;
	}
	if (!first) /* the first is counted in the pool's bytes */
		__atomic_fetch_add(&rule_bytes, table_size(shift), __ATOMIC_RELAXED);
	__atomic_fetch_add(&generation, 1, __ATOMIC_RELAXED);
	AT_STORE_RELAXED(&rule_counts.fill, 0); /* the new table's, from empty */
	AT_STORE_RELAXED(&rule_counts.evicted, 0);
	if (old) { /* replaced: its words read as misses, its pages given back */
		table_clear(old);
		AT_STORE_RELAXED(&replaced[tab_shift(old)], old);
	}
	return (uintptr_t)n | shift;
}

/* ra's set in the forked process's table c. */
static inline uint64_t *child_set(uintptr_t c, uintptr_t ra)
{
	return (uint64_t *)c + ((ra >> 3) & ((1u << AT_RULE_SHIFT_CHILD) - 1)) * AT_RULE_WAYS;
}

/* The forked process's table, made at its first store (the sites' pool,
 * 32-byte aligned); 0 without memory. */
AT_ONCE_TEXT static uintptr_t child_table(void)
{
	uintptr_t c = AT_LOAD(&rule_counts.child);
	if (c)
		return c;
	char *p = at_sites_pool_alloc(table_size(AT_RULE_SHIFT_CHILD) + 24);
	if (!p)
		return 0;
	uintptr_t n = ((uintptr_t)p + 31) & ~(uintptr_t)31;
	if (!__atomic_compare_exchange_n(&rule_counts.child, &c, n, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return c; /* another thread's (ours stays in the pool, unused) */
	return n;
}

/* Word w (rule | key) stored for ra in the forked process's table; when
 * more than 2^AT_RULE_SHIFT_CHILD valid words were replaced in it, the
 * process stores in the main table from then on. */
AT_ONCE_TEXT static void child_store(uintptr_t ra, uint64_t w)
{
	uintptr_t c = child_table();
	if (!c) {
		AT_STORE_RELAXED(&rule_counts.forked, 0);
		return;
	}
	uint64_t *set = child_set(c, ra);
	unsigned int way = AT_RULE_WAYS;
	for (unsigned int i = 0; i < AT_RULE_WAYS && way == AT_RULE_WAYS; i++)
		if (!(AT_LOAD_RELAXED(&set[i]) & R_VALID))
			way = i;
	if (way == AT_RULE_WAYS) {
		way = (unsigned int)(ra >> 16) % AT_RULE_WAYS;
		if (__atomic_add_fetch(&rule_counts.child_evicted, 1, __ATOMIC_RELAXED) >
		    1u << AT_RULE_SHIFT_CHILD)
			AT_STORE_RELAXED(&rule_counts.forked, 0);
	}
	AT_STORE_RELAXED(&set[way], w);
}

AT_FORK_TEXT void at_unwind_forked(void)
{
	rule_counts.child = 0;
	rule_counts.child_evicted = 0;
	rule_counts.forked = rules != 0;
}

/* ra's rule computed and stored (a miss): in a forked process's own
 * table, as unwind.h says, unless main_table (a rule taught by a child:
 * chain_teach.h, for the process's children to inherit). */
static AT_NOINLINE AT_ONCE_TEXT uint64_t rule_miss(uintptr_t ra, int main_table)
{
	uintptr_t c = main_table ? 0 : AT_LOAD_RELAXED(&rule_counts.child);
	if (c) { /* a forked process's own rules first */
		const uint64_t *set = child_set(c, ra);
		uint32_t key = rule_key(ra);
		for (unsigned int i = 0; i < AT_RULE_WAYS; i++) {
			uint64_t w = AT_LOAD_RELAXED(&set[i]);
			if ((uint32_t)w == key)
				return w & ~(uint64_t)UINT32_MAX;
		}
	}
	uintptr_t t = AT_LOAD(&rules);
	if (!t)
		t = table_grow(0, AT_RULE_SHIFT_FIRST);
	struct find fd = {ra - 1, R_STOP, AT_LOAD_RELAXED(&seen_subs)};
	__atomic_fetch_add(&rule_counts.misses, 1, __ATOMIC_RELAXED);
	int done = perm_rule(&fd);
	if (!done && !__atomic_exchange_n(&miss.lock, 1, __ATOMIC_ACQUIRE)) {
		done = fast_rule(&fd);
		__atomic_store_n(&miss.lock, 0, __ATOMIC_RELEASE);
	}
	if (!done)
		dl_iterate_phdr(find_cb, &fd);
	/* an object was unloaded since the count recorded: raised to the
	 * count seen (by one thread; an older count seen, another thread's
	 * walk raced an unload, raises nothing), which drops miss_objs too */
	unsigned long long seen = AT_LOAD_RELAXED(&seen_subs);
	while (fd.subs > seen && !__atomic_compare_exchange_n(&seen_subs, &seen, fd.subs, 0,
							      __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	int unloaded = fd.subs > seen;
	if (unloaded && c)
		for (size_t i = 0; i < table_size(AT_RULE_SHIFT_CHILD) / sizeof(uint64_t); i++)
			AT_STORE_RELAXED((uint64_t *)c + i, 0);
	if (!main_table && AT_LOAD_RELAXED(&rule_counts.forked)) {
		child_store(ra, fd.rule | rule_key(ra));
		return fd.rule;
	}
	if (!t)
		return fd.rule;
	if (unloaded) {
		table_clear(t);
		__atomic_fetch_add(&generation, 1, __ATOMIC_RELAXED);
		AT_STORE_RELAXED(&rule_counts.fill, 0);
		AT_STORE_RELAXED(&rule_counts.evicted, 0);
	}
	uint64_t *set = rule_set(t, ra);
	unsigned int way = AT_RULE_WAYS;
	for (unsigned int i = 0; i < AT_RULE_WAYS && way == AT_RULE_WAYS; i++)
		if (!(AT_LOAD_RELAXED(&set[i]) & R_VALID))
			way = i;
	uint32_t grow;
	if (way == AT_RULE_WAYS) { /* the set is full: replace one */
		way = (unsigned int)(ra >> 16) % AT_RULE_WAYS;
		/* a taught rule replaces one no child taught, if the set has one */
		for (unsigned int i = 0; main_table && i < AT_RULE_WAYS; i++)
			if (!(AT_LOAD_RELAXED(&set[(way + i) % AT_RULE_WAYS]) & R_TAUGHT)) {
				way = (way + i) % AT_RULE_WAYS;
				break;
			}
		grow = __atomic_add_fetch(&rule_counts.evicted, 1, __ATOMIC_RELAXED) >
			       (1u << tab_shift(t)) >> AT_RULE_EVICT_SHIFT &&
		       tab_shift(t) < AT_RULE_EVICT_BELOW;
	} else {
		grow = __atomic_add_fetch(&rule_counts.fill, 1, __ATOMIC_RELAXED) >
		       (AT_RULE_WAYS << tab_shift(t)) / 2;
	}
	if (grow && tab_shift(t) + AT_RULE_SHIFT_STEP <= AT_RULE_SHIFT_MAX) {
		/* the new one fills from misses, this one's first; the old one's
		 * pages stay dropped */
		uintptr_t n = table_grow(t, tab_shift(t) + AT_RULE_SHIFT_STEP);
		if (n != t) {
			set = rule_set(n, ra);
			way = 0;
		}
	}
	AT_STORE_RELAXED(&set[way], fd.rule | rule_key(ra) | (main_table ? R_TAUGHT : 0));
	return fd.rule;
}

/* The table a walk reads: its words and the mask of a set's byte offset
 * (rule_set's index times 16, from ra * 2: one lea and one and per
 * frame), loaded once a walk and again after a miss, which may have made
 * or replaced it. */
struct rule_view {
	const char *words;
	uintptr_t mask;
};

static const uint64_t no_table[AT_RULE_WAYS]; /* before the first: one set, no key */

static inline void rule_view_load(struct rule_view *v)
{
	uintptr_t t = AT_LOAD(&rules);
	_Static_assert(AT_RULE_WAYS * sizeof(uint64_t) == 16, "a set's bytes: 16");
	v->words = t ? (const char *)tab_words(t) : (const char *)no_table;
	v->mask = t ? (((uintptr_t)1 << tab_shift(t)) - 1) << 4 : 0;
}

/* ra's rule (the word's high half) from table v. */
/* ra's word in the table v reads, or 0: a miss. */
static inline uint64_t rule_find(const struct rule_view *v, uintptr_t ra)
{
	const uint64_t *set = (const uint64_t *)(v->words + ((ra * 2) & v->mask));
	uint32_t key = rule_key(ra);
	for (unsigned int i = 0; i < AT_RULE_WAYS; i++) {
		uint64_t w = AT_LOAD_RELAXED(&set[i]);
		if (at_likely((uint32_t)w == key))
			return w;
	}
	return 0;
}

static inline uint32_t rule_of(struct rule_view *v, uintptr_t ra)
{
	uint64_t w = rule_find(v, ra);
	if (at_likely(w))
		return (uint32_t)(w >> 32);
	uint64_t r = rule_miss(ra, 0);
	rule_view_load(v);
	return (uint32_t)(r >> 32);
}

/*
 * The walk (at_unwind_walk; inlined in at_unwind_from, where sp is `from`
 * and no frame lies below it).  From `from` on, the CFAs only rise (each
 * at least 8 bytes above the stack pointer before it, which is the CFA
 * before it, or `from`): the return address's slot, CFA - 8, is never
 * below `from`, and the highest CFA is the last one computed.  A saved
 * rbp's slot is at least 8 bytes below its CFA (the rule's slot is not
 * 0), so never past the stack top when the CFA is not.  `pend_at`: the
 * slot of the saved rbp last loaded while no CFA was computed from it; 1
 * when rbp was loaded from the stack and no later load waits; 0 while rbp
 * is still the one at `from`.
 */
/* The word at a in a replayed trace r (at_unwind_replay): the value the
 * walk read there, else 1.  A word a walk reads and does not trace is a
 * saved rbp that no CFA was computed from: its value changes nothing.
 * Any other is traced, so a word missing from r that the replay uses
 * (a return address, a saved rbp a CFA is computed from) goes into the
 * replay's own trace as 1 (or ends it at a bound), and the traces
 * differ. */
static uintptr_t replay_load(const struct at_unwind_trace *r, uintptr_t a)
{
	for (unsigned int i = 0; i < r->n && i < AT_TRACE_MAX; i++)
		if (r->addr[i] == a)
			return r->val[i];
	return 1;
}

/* A stack word the walk reads: from memory, or from trace `replay` (a
 * constant NULL in the walks: no test left in them).  `lean`, a constant:
 * the lean walk (unwind.h at_unwind_lean), which returns 0 at a rule-cache
 * miss or where it would use rbp's value at `from`, and whose trace may
 * be NULL (a constant: nothing traced). */
#define WALK_LOAD(a) (replay ? replay_load(replay, (a)) : *(const uintptr_t *)(a))

static inline __attribute__((always_inline)) unsigned int
walk(uintptr_t *frames, unsigned int max, uintptr_t from, struct at_unwind_trace *tr, uintptr_t pc,
     uintptr_t sp, uintptr_t bp, const struct at_unwind_trace *replay, int lean)
{
	const uintptr_t lo = sp, hi = at_stack_top(sp);
	uintptr_t *fp = frames, *const fend = frames + max;
	uintptr_t *ta = tr ? tr->addr : NULL, *const tend = tr ? tr->addr + AT_TRACE_MAX : NULL;
	unsigned int own = 0, bounded = 0, rbp_from = 0, over = 0;
	uint32_t rbp_bits = 0;
	uintptr_t pend_at = 0, top = from;
	if (!hi || from < sp || from > hi)
		goto out;
	struct rule_view v;
	rule_view_load(&v);
	uint32_t r;
	uintptr_t cfa, at;
	/* The frames below `from` (at_unwind's own and its callers'): unwound,
	 * not kept, nothing traced. */
	while (sp != from) {
		if (sp > from || ++own > 16)
			goto out; /* `from` is not a frame of this stack */
		r = rule_of(&v, pc);
		if (r & H_STOP)
			goto out;
		cfa = ((r & H_CFA_RBP) ? bp : sp) + (r >> H_CFA_OFF_SHIFT);
		if (cfa - sp - 8 > (1u << 20) - 8 || cfa > hi) {
			bounded = 1;
			goto out;
		}
		if (r & H_RBP_SLOT) {
			at = cfa - (r & H_RBP_SLOT);
			if (at < lo) {
				bounded = 1;
				goto out;
			}
			bp = WALK_LOAD(at);
		}
		pc = WALK_LOAD(cfa - 8);
		sp = cfa;
		if (pc < 4096)
			goto out;
	}
	top = sp;
	/* From `from` on: every frame kept, every word used traced (a saved
	 * rbp only once a CFA is computed from it). */
	for (;;) {
		*fp++ = pc;
		if (fp == fend)
			break;
		if (lean) {
			uint64_t w = rule_find(&v, pc);
			if (at_unlikely(!w))
				return 0; /* a miss: the full walk computes it */
			r = (uint32_t)(w >> 32);
		} else {
			r = rule_of(&v, pc);
		}
		if (at_likely(!(r & (H_STOP | H_CFA_RBP)))) {
			/* CFA = rsp + offset: at least 8 bytes up, as below */
			cfa = sp + (r >> H_CFA_OFF_SHIFT);
			if (at_unlikely((r >> H_CFA_OFF_SHIFT) < 8 || cfa > hi)) {
				bounded = 1;
				break;
			}
		} else {
			if (r & H_STOP)
				break;
			if (!pend_at) { /* the result depends on rbp at `from` */
				if (lean)
					return 0;
				rbp_from = 1;
			} else if (pend_at != 1) { /* on the saved rbp used: record it */
				if (tr && at_likely(ta != tend)) {
					rbp_bits |= 1u << (ta - tr->addr);
					ta[0] = pend_at;
					ta[AT_TRACE_MAX] = bp;
					ta++;
				} else if (tr) {
					over = 1;
				}
				pend_at = 1;
			}
			cfa = bp + (r >> H_CFA_OFF_SHIFT);
			if (cfa - sp - 8 > (1u << 20) - 8 || cfa > hi) {
				bounded = 1;
				break;
			}
		}
		if (r & H_RBP_SLOT) {
			at = cfa - (r & H_RBP_SLOT);
			if (at_unlikely(at < from)) {
				top = cfa;
				bounded = 1; /* lying CFI: a slot below `from` */
				if (at < lo)
					goto out;
			}
			bp = WALK_LOAD(at);
			pend_at = at; /* recorded only if a CFA is computed from it */
		}
		pc = WALK_LOAD(cfa - 8);
		if (tr && at_likely(ta != tend)) {
			ta[0] = cfa - 8;
			ta[AT_TRACE_MAX] = pc;
			ta++;
		} else if (tr) {
			over = 1;
		}
		sp = cfa;
		if (pc < 4096)
			break;
	}
	top = sp;
out:
	if (tr) {
		tr->n = (unsigned int)(ta - tr->addr);
		tr->unusable = rbp_from || over;
		tr->bounded = bounded;
		tr->rbp_from = rbp_from;
		tr->rbp = rbp_bits;
		tr->top = top;
	}
	return (unsigned int)(fp - frames);
}

AT_HIDDEN unsigned int at_unwind_walk(uintptr_t *frames, unsigned int max, uintptr_t from,
				      struct at_unwind_trace *tr, uintptr_t pc, uintptr_t sp,
				      uintptr_t bp);

unsigned int at_unwind_walk(uintptr_t *frames, unsigned int max, uintptr_t from,
			    struct at_unwind_trace *tr, uintptr_t pc, uintptr_t sp, uintptr_t bp)
{
	return walk(frames, max, from, tr, pc, sp, bp, NULL, 0);
}

/* at_unwind with a trace (not NULL): the state at the return from it: pc
 * = its return address, sp = past it, rbp as it is; then the walk (its
 * seventh argument, rbp, on the stack).  The walks take a trace always:
 * no unused one on the stack of a call chain's walk (a forked child's
 * first chain writes every stack page its walk reaches, a copy each). */
AT_HIDDEN unsigned int at_unwind_traced(uintptr_t *frames, unsigned int max, uintptr_t from,
					struct at_unwind_trace *tr);
__asm__(".pushsection .text.at_unwind, \"ax\", @progbits\n"
	".globl at_unwind_traced\n"
	".hidden at_unwind_traced\n"
	".type at_unwind_traced, @function\n"
	"at_unwind_traced:\n"
	".cfi_startproc\n"
	"subq $24, %rsp\n" /* 7th argument: rbp; 16-byte alignment at the call */
	".cfi_adjust_cfa_offset 24\n"
	"movq %rbp, (%rsp)\n"
	"leaq 32(%rsp), %r9\n"      /* sp after return */
	"movq 24(%rsp), %r8\n"      /* pc: the return address */
	"call at_unwind_walk\n"
	"addq $24, %rsp\n"
	".cfi_adjust_cfa_offset -24\n"
	"ret\n"
	".cfi_endproc\n"
	".size at_unwind_traced, .-at_unwind_traced\n"
	".popsection\n");

unsigned int at_unwind(uintptr_t *frames, unsigned int max, uintptr_t from,
		       struct at_unwind_trace *tr)
{
	struct at_unwind_trace dummy;
	return at_unwind_traced(frames, max, from, tr ? tr : &dummy);
}

unsigned int at_unwind_from(uintptr_t *frames, unsigned int max, uintptr_t from, uintptr_t ra,
			    struct at_unwind_trace *tr)
{
	unsigned int n = walk(frames, max, from, tr, ra, from, 0, NULL, 0);
	if (at_likely(!tr->rbp_from))
		return n;
	return at_unwind_traced(frames, max, from, tr);
}

unsigned int at_unwind_lean(uintptr_t *frames, unsigned int max, uintptr_t from, uintptr_t ra,
			    struct at_unwind_trace *tr)
{
	return tr ? walk(frames, max, from, tr, ra, from, 0, NULL, 1)
		  : walk(frames, max, from, NULL, ra, from, 0, NULL, 1);
}

uint64_t at_unwind_misses(void)
{
	return AT_LOAD_RELAXED(&rule_counts.misses);
}

void at_unwind_learn(uintptr_t ra)
{
	struct rule_view v;
	rule_view_load(&v);
	if (!rule_find(&v, ra))
		rule_miss(ra, 1);
}

uint32_t at_unwind_generation(void)
{
	return AT_LOAD_RELAXED(&generation);
}

int at_unwind_replay(const uintptr_t *f, unsigned int n, unsigned int max, uintptr_t from,
		     const struct at_unwind_trace *t)
{
	uintptr_t g[AT_DEPTH_MAX];
	struct at_unwind_trace r;
	if (!n || n > max || max > AT_DEPTH_MAX || t->n > AT_TRACE_MAX || t->unusable || t->bounded)
		return 0;
	unsigned int m = walk(g, max, from, &r, f[0], from, 0, t, 0);
	if (r.unusable || r.bounded || m != n || r.n != t->n || r.rbp != t->rbp || r.top != t->top)
		return 0;
	for (unsigned int k = 0; k < n; k++)
		if (g[k] != f[k])
			return 0;
	for (unsigned int i = 0; i < r.n; i++)
		if (r.addr[i] != t->addr[i] || r.val[i] != t->val[i])
			return 0;
	return 1;
}

const uint64_t *at_unwind_table(size_t *bytes)
{
	uintptr_t t = AT_LOAD(&rules);
	*bytes = t ? table_size(tab_shift(t)) : 0;
	return t ? tab_words(t) : NULL;
}

size_t at_unwind_memory(void)
{
	return AT_LOAD_RELAXED(&rule_bytes);
}

size_t at_unwind_replaced_resident(void)
{
	size_t bytes = 0;
	for (uint32_t shift = AT_RULE_SHIFT_FIRST + 1; shift <= AT_RULE_SHIFT_MAX; shift++) {
		uintptr_t t = AT_LOAD_RELAXED(&replaced[shift]);
		unsigned char vec[table_size(AT_RULE_SHIFT_MAX) / 4096];
		if (!t || mincore(tab_words(t), table_size(shift), vec))
			continue;
		for (size_t i = 0; i < table_size(shift) / 4096; i++)
			bytes += vec[i] & 1 ? 4096 : 0;
	}
	return bytes;
}

#else /* no unwinder for this architecture: chains of one frame */

unsigned int at_unwind(uintptr_t *frames, unsigned int max, uintptr_t from,
		       struct at_unwind_trace *tr)
{
	(void)frames;
	(void)max;
	(void)from;
	(void)tr;
	return 0;
}

unsigned int at_unwind_from(uintptr_t *frames, unsigned int max, uintptr_t from, uintptr_t ra,
			    struct at_unwind_trace *tr)
{
	return at_unwind(frames, max, from, tr);
}

unsigned int at_unwind_lean(uintptr_t *frames, unsigned int max, uintptr_t from, uintptr_t ra,
			    struct at_unwind_trace *tr)
{
	(void)frames;
	(void)max;
	(void)from;
	(void)ra;
	(void)tr;
	return 0;
}

int at_unwind_object(uintptr_t pc, struct dl_find_object *fo)
{
	(void)pc;
	(void)fo;
	return -1;
}

int at_unwind_permanent(uintptr_t pc)
{
	(void)pc;
	return 0;
}

void at_unwind_learn(uintptr_t ra)
{
	(void)ra;
}

uint32_t at_unwind_generation(void)
{
	return 0;
}

int at_unwind_replay(const uintptr_t *f, unsigned int n, unsigned int max, uintptr_t from,
		     const struct at_unwind_trace *t)
{
	(void)f;
	(void)n;
	(void)max;
	(void)from;
	(void)t;
	return 0;
}

uint64_t at_unwind_misses(void)
{
	return 0;
}

const uint64_t *at_unwind_table(size_t *bytes)
{
	uintptr_t t = AT_LOAD(&rules);
	*bytes = t ? table_size(tab_shift(t)) : 0;
	return t ? tab_words(t) : NULL;
}

size_t at_unwind_memory(void)
{
	return 0;
}

size_t at_unwind_replaced_resident(void)
{
	return 0;
}

#endif
