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
#include <string.h>
#include <sys/mman.h>

#if defined(__x86_64__)

static uint64_t *rules;
static uint64_t misses;
static unsigned long long seen_subs;

#define R_VALID (1ull << 31)
#define R_STOP (1ull << 32)
#define R_CFA_RBP (1ull << 33)
#define R_CFA_OFF_SHIFT 34
#define R_RBP_SAVED (1ull << 50)
#define R_RBP_SHIFT 52

static inline uint32_t rule_slot(uintptr_t ra)
{
	return (uint32_t)((ra ^ (ra >> 16)) & (AT_RULE_SLOTS - 1));
}

static inline uint64_t rule_key(uintptr_t ra)
{
	return ((uint64_t)ra >> 16) & 0x7fffffffull;
}

/* ---- reading .eh_frame --------------------------------------------- */

struct cursor {
	const uint8_t *p, *end;
	int bad;
};

static uint64_t uleb(struct cursor *c)
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

static int64_t sleb(struct cursor *c)
{
	int64_t v = 0;
	unsigned int shift = 0;
	uint8_t b = 0;
	while (c->p < c->end) {
		b = *c->p++;
		if (shift < 64)
			v |= (int64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80)) {
			if (shift < 64 && (b & 0x40))
				v |= -((int64_t)1 << shift);
			return v;
		}
	}
	c->bad = 1;
	return 0;
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
static uintptr_t read_enc(struct cursor *c, uint8_t enc, uintptr_t data)
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
	case 0x10: v += (uintptr_t)at; break;
	case 0x30: v += data; break;
	default: c->bad = 1; return 0;
	}
	if (enc & 0x80) /* indirect: not used by .eh_frame of ordinary code */
		c->bad = 1;
	return v;
}

/* What the CFA program says at one address. */
struct cfa_state {
	int cfa_reg;     /* 7 rsp, 6 rbp, else unsupported */
	int64_t cfa_off;
	int rbp_kind;    /* 0 same value, 1 saved at CFA + rbp_off, 2 unsupported */
	int64_t rbp_off;
	int ra_kind;     /* 1 saved at CFA + ra_off, 0 undefined (outermost), 2 unsupported */
	int64_t ra_off;
	int cfa_expr;
};

struct cie {
	int64_t data_align;
	uint64_t code_align;
	uint8_t fde_enc;
	int aug_z, signal;
	const uint8_t *insns, *end;
};

static int parse_cie(const uint8_t *p, const uint8_t *limit, struct cie *cie)
{
	struct cursor c = {p, limit, 0};
	uint64_t len = GET(&c, uint32_t);
	if (len == 0xffffffffu)
		return -1; /* 64-bit DWARF: not emitted for x86-64 user code */
	if (len > (size_t)(limit - c.p))
		return -1;
	c.end = c.p + len;
	if (GET(&c, uint32_t) != 0)
		return -1;
	uint8_t version = GET(&c, uint8_t);
	const char *aug = (const char *)c.p;
	while (c.p < c.end && *c.p)
		c.p++;
	if (c.p >= c.end)
		return -1;
	c.p++;
	if (aug[0] && aug[0] != 'z')
		return -1; /* "eh" and other old forms */
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
		const uint8_t *aend = c.p + alen;
		if (alen > (size_t)(c.end - c.p))
			return -1;
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
	return c.bad ? -1 : 0;
}

#define MAX_REMEMBER 8

/* Run a CFA program until loc passes pc (or the end); 0, or -1 on an
 * instruction it cannot follow. */
static int run_cfa(struct cursor *c, const struct cie *cie, uintptr_t loc, uintptr_t pc,
		   struct cfa_state *st, const struct cfa_state *init)
{
	struct cfa_state stack[MAX_REMEMBER];
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
			off = (int64_t)uleb(c) * cie->data_align;
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
			off = (int64_t)uleb(c) * cie->data_align;
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
				return -1;
			stack[depth++] = *st;
			continue;
		case 0x0b:
			if (!depth)
				return -1;
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
				return -1;
			c->p += n;
			st->cfa_expr = 1;
			continue;
		}
		case 0x10:   /* expression */
		case 0x16: { /* val_expression */
			reg = uleb(c);
			uint64_t n = uleb(c);
			if (n > (size_t)(c->end - c->p))
				return -1;
			c->p += n;
			goto unsupported_reg;
		}
		case 0x11:
			reg = uleb(c);
			off = sleb(c) * cie->data_align;
			goto offset;
		case 0x12:
			st->cfa_reg = (int)uleb(c);
			st->cfa_off = sleb(c) * cie->data_align;
			st->cfa_expr = 0;
			continue;
		case 0x13:
			st->cfa_off = sleb(c) * cie->data_align;
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
			off = -(int64_t)uleb(c) * cie->data_align;
			goto offset;
		default:
			return -1;
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
			return -1;
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
	return c->bad ? -1 : 0;
}

/* The rule word (without key) for call address pc, in an object whose
 * .eh_frame_hdr is at hdr; R_STOP when none. */
static uint64_t rule_from_hdr(const uint8_t *hdr, uintptr_t pc)
{
	struct cursor c = {hdr, hdr + 4096, 0}; /* the header's fixed part */
	if (GET(&c, uint8_t) != 1)
		return R_STOP;
	uint8_t ptr_enc = GET(&c, uint8_t), cnt_enc = GET(&c, uint8_t), tab_enc = GET(&c, uint8_t);
	(void)read_enc(&c, ptr_enc, (uintptr_t)hdr);
	uintptr_t count = read_enc(&c, cnt_enc, (uintptr_t)hdr);
	if (c.bad || tab_enc != 0x3b || !count)
		return R_STOP; /* only the datarel sdata4 table that ld writes */
	const int32_t *tab = (const int32_t *)c.p;
	intptr_t rel = (intptr_t)(pc - (uintptr_t)hdr);
	if (rel < tab[0])
		return R_STOP;
	size_t lo = 0, hi = count; /* last entry with start <= pc */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (tab[2 * mid] <= rel)
			lo = mid;
		else
			hi = mid;
	}
	const uint8_t *fde = hdr + tab[2 * lo + 1];
	/* The FDE */
	struct cursor f = {fde, fde + 8, 0};
	uint32_t len = GET(&f, uint32_t);
	if (len == 0xffffffffu || len < 8)
		return R_STOP;
	f.end = fde + 4 + len;
	const uint8_t *cie_ptr_at = f.p;
	uint32_t cie_off = GET(&f, uint32_t);
	if (!cie_off)
		return R_STOP; /* a CIE, not an FDE */
	struct cie cie;
	const uint8_t *cie_at = cie_ptr_at - cie_off;
	if (parse_cie(cie_at, cie_at + (1u << 20), &cie) || cie.signal)
		return R_STOP;
	uintptr_t start = read_enc(&f, cie.fde_enc, 0);
	uintptr_t range = read_enc(&f, cie.fde_enc & 0x0f, 0);
	if (f.bad || pc < start || pc - start >= range)
		return R_STOP;
	if (cie.aug_z) {
		uint64_t alen = uleb(&f);
		if (alen > (size_t)(f.end - f.p))
			return R_STOP;
		f.p += alen;
	}
	struct cfa_state st = {7, 8, 0, 0, 1, -8, 0}, init;
	struct cursor ci = {cie.insns, cie.end, 0};
	if (run_cfa(&ci, &cie, 0, (uintptr_t)-1, &st, NULL))
		return R_STOP;
	init = st;
	if (run_cfa(&f, &cie, start, pc, &st, &init))
		return R_STOP;
	if (st.cfa_expr || (st.cfa_reg != 7 && st.cfa_reg != 6) || st.cfa_off < 0 ||
	    st.cfa_off > 0xffff || st.ra_kind != 1 || st.ra_off != -8 || st.rbp_kind == 2)
		return R_STOP; /* ra undefined (outermost frame) is a stop too */
	uint64_t w = (uint64_t)st.cfa_off << R_CFA_OFF_SHIFT;
	if (st.cfa_reg == 6)
		w |= R_CFA_RBP;
	if (st.rbp_kind == 1) {
		if (st.rbp_off >= 0 || (-st.rbp_off & 7) || -st.rbp_off / 8 > 0xfff)
			return R_STOP;
		w |= R_RBP_SAVED | (uint64_t)(-st.rbp_off / 8) << R_RBP_SHIFT;
	}
	return w;
}

struct find {
	uintptr_t pc;
	uint64_t rule;
	unsigned long long subs;
};

static int find_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	struct find *fd = data;
	(void)size;
	fd->subs = info->dlpi_subs;
	const ElfW(Phdr) *eh = NULL;
	int inside = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD) {
			uintptr_t s = info->dlpi_addr + ph->p_vaddr;
			if (fd->pc >= s && fd->pc < s + ph->p_memsz)
				inside = 1;
		} else if (ph->p_type == PT_GNU_EH_FRAME) {
			eh = ph;
		}
	}
	if (!inside)
		return 0;
	fd->rule = eh ? rule_from_hdr((const uint8_t *)(info->dlpi_addr + eh->p_vaddr), fd->pc)
		      : R_STOP;
	return 1;
}

static uint64_t *rules_get(void)
{
	uint64_t *r = AT_LOAD(&rules);
	if (r)
		return r;
	uint64_t *n = mmap(NULL, AT_RULE_SLOTS * sizeof(*n), PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (n == MAP_FAILED)
		return NULL;
	if (!__atomic_compare_exchange_n(&rules, &r, n, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		munmap(n, AT_RULE_SLOTS * sizeof(*n));
		return r;
	}
	return n;
}

static AT_NOINLINE uint64_t rule_miss(uintptr_t ra)
{
	uint64_t *tab = rules_get();
	struct find fd = {ra - 1, R_STOP, 0};
	__atomic_fetch_add(&misses, 1, __ATOMIC_RELAXED);
	dl_iterate_phdr(find_cb, &fd);
	if (!tab)
		return fd.rule;
	if (fd.subs != AT_LOAD_RELAXED(&seen_subs)) { /* an object was unloaded */
		AT_STORE_RELAXED(&seen_subs, fd.subs);
		for (uint32_t i = 0; i < AT_RULE_SLOTS; i++)
			AT_STORE_RELAXED(&tab[i], 0);
	}
	AT_STORE_RELAXED(&tab[rule_slot(ra)], fd.rule | R_VALID | rule_key(ra));
	return fd.rule;
}

static inline uint64_t rule_of(uintptr_t ra)
{
	uint64_t *tab = AT_LOAD_RELAXED(&rules);
	if (at_likely(tab != NULL)) {
		uint64_t w = AT_LOAD_RELAXED(&tab[rule_slot(ra)]);
		if (at_likely((uint32_t)w == (R_VALID | rule_key(ra))))
			return w;
	}
	return rule_miss(ra);
}

AT_HIDDEN unsigned int at_unwind_walk(uintptr_t *frames, unsigned int max, uintptr_t from,
				      struct at_unwind_trace *tr, uintptr_t pc, uintptr_t sp,
				      uintptr_t bp);

/* Record a word the walk read (once past `from`). */
static inline void trace(struct at_unwind_trace *tr, uintptr_t addr, uintptr_t val, int rbp)
{
	if (tr->n == AT_TRACE_MAX) {
		tr->unusable = 1;
		return;
	}
	tr->rbp |= (uint32_t)rbp << tr->n;
	tr->addr[tr->n] = addr;
	tr->val[tr->n++] = val;
}

unsigned int at_unwind_walk(uintptr_t *frames, unsigned int max, uintptr_t from,
			    struct at_unwind_trace *tr, uintptr_t pc, uintptr_t sp, uintptr_t bp)
{
	const uintptr_t lo = sp, hi = at_stack_top(sp);
	unsigned int n = 0, own = 0, bp_fresh = 0, pend = 0;
	uintptr_t pend_at = 0;
	struct at_unwind_trace dummy;
	if (!tr)
		tr = &dummy;
	tr->n = 0;
	tr->unusable = 0;
	tr->bounded = 0;
	tr->rbp = 0;
	tr->top = from;
	if (!hi || from < sp || from > hi)
		return 0;
	for (;;) {
		if (n || sp == from) {
			frames[n++] = pc;
			if (n == max)
				return n;
		} else if (sp > from || ++own > 16) {
			return 0; /* `from` is not a frame of this stack */
		}
		uint64_t r = rule_of(pc);
		if (r & R_STOP)
			return n;
		if ((r & R_CFA_RBP) && n) {
			if (!bp_fresh)
				tr->unusable = 1; /* the result depends on rbp at `from` */
			else if (pend) /* on the saved rbp used: record it */
				trace(tr, pend_at, bp, 1);
			pend = 0;
		}
		uintptr_t cfa = ((r & R_CFA_RBP) ? bp : sp) + ((r >> R_CFA_OFF_SHIFT) & 0xffff);
		if (cfa <= sp || cfa > hi || cfa - sp > (1u << 20) || cfa - 8 < lo) {
			tr->bounded = 1;
			return n;
		}
		if (n && cfa > tr->top)
			tr->top = cfa;
		if (r & R_RBP_SAVED) {
			uintptr_t at = cfa - 8 * (r >> R_RBP_SHIFT);
			if (at < lo || at > hi - 8) {
				tr->bounded = 1;
				return n;
			}
			if (n && at < from)
				tr->bounded = 1; /* lying CFI: a slot below `from` */
			bp = *(const uintptr_t *)at;
			if (n) { /* recorded only if a CFA is computed from it */
				pend_at = at;
				pend = bp_fresh = 1;
			}
		}
		pc = *(const uintptr_t *)(cfa - 8);
		if (n)
			trace(tr, cfa - 8, pc, 0);
		sp = cfa;
		if (pc < 4096)
			return n;
	}
}

/* The state at the return from at_unwind: pc = its return address,
 * sp = past it, rbp as it is; then the walk (its seventh argument, rbp,
 * on the stack). */
__asm__(".text\n"
	".globl at_unwind\n"
	".hidden at_unwind\n"
	".type at_unwind, @function\n"
	"at_unwind:\n"
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
	".size at_unwind, .-at_unwind\n");

uint64_t at_unwind_misses(void)
{
	return AT_LOAD_RELAXED(&misses);
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

uint64_t at_unwind_misses(void)
{
	return 0;
}

#endif
