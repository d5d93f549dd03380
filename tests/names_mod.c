/* Functions for test_loaded_names.c, built twice: with its .symtab and
 * without (linked -s: named from .dynsym only). */
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
