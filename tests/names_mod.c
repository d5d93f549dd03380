/* Functions for test_loaded_names.c, built three times: with its .symtab,
 * without (linked -s: named from .dynsym only), and without and with a
 * large .dynstr (NAMES_MOD_BIG). */
#define F(name, k)                                                                             \
	__attribute__((noinline, used)) int name(int x)                                        \
	{                                                                                      \
		return x * (k) + (k) / 3 + 1;                                                  \
	}
F(names_mod_alpha, 3)
F(names_mod_bravo, 5)
F(names_mod_charlie, 7)
F(names_mod_delta, 11)
F(names_mod_echo, 13)
F(names_mod_foxtrot, 17)
F(names_mod_golf, 19)
F(names_mod_hotel, 23)

#ifdef NAMES_MOD_BIG
/* Built a third time, stripped, with 1024 exported variables of 80-byte
 * names more: a .dynstr of over 80 KiB, past what is read in place. */
#define V(a, b, c, d, e)                                                                       \
	int names_mod_padding_to_eighty_bytes_of_dynamic_string_table_entry_xxxxxxx_##a##b##c##d##e;
#define V4(a, b, c, d) V(a, b, c, d, 0) V(a, b, c, d, 1) V(a, b, c, d, 2) V(a, b, c, d, 3)
#define V3(a, b, c) V4(a, b, c, 0) V4(a, b, c, 1) V4(a, b, c, 2) V4(a, b, c, 3)
#define V2(a, b) V3(a, b, 0) V3(a, b, 1) V3(a, b, 2) V3(a, b, 3)
#define V1(a) V2(a, 0) V2(a, 1) V2(a, 2) V2(a, 3)
V1(0) V1(1) V1(2) V1(3)
#endif
