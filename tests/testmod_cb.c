/* A shared object whose frames a test unwinds through (test_corrupt_elf.c):
 * two functions that call back into the program. */
static volatile int sink;

__attribute__((noinline)) int cb_a(int (*fn)(void))
{
	int r = fn();
	sink += r;
	return r + 1;
}

__attribute__((noinline)) int cb_b(int (*fn)(void))
{
	int r = fn() * 2;
	sink += r;
	return r + 3;
}
