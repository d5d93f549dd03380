/* The runtime-named functions test_core_scan imports (a shared object of
 * the test's own: the names are what the scan looks for). */
void alloctag_scan_probe(void);
void at_scan_probe(void);
void alloctag_scan_probe(void)
{
}
void at_scan_probe(void)
{
}
