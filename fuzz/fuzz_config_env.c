/*
 * libFuzzer target: the whole configuration read (at_config_read) from four
 * values (ALLOCTAG, ALLOCTAG_TAG_BITS, ALLOCTAG_DEBUG, ALLOCTAG_HEAP_MAX),
 * split from the input at NUL bytes; a missing value is unset.  Whatever the
 * values: the configuration is within its ranges, and stderr gets exactly
 * one line per refused value, beginning "alloctag: ignoring NAME=\"", with
 * no other control byte than its newline.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/control.h"
#include "pages/page.h"

static const char *const names[4] = {"ALLOCTAG", "ALLOCTAG_TAG_BITS", "ALLOCTAG_DEBUG",
				     "ALLOCTAG_HEAP_MAX"};
static int err_fd = -1, saved_fd = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[1024];
	if (size >= sizeof(buf))
		return -1;
	memcpy(buf, data, size);
	buf[size] = 0;
	const char *val[4] = {0};
	size_t off = 0;
	for (int k = 0; k < 4 && off <= size; k++) {
		val[k] = buf + off;
		off += strlen(buf + off) + 1;
	}
	for (int k = 0; k < 4; k++) {
		if (val[k])
			setenv(names[k], val[k], 1);
		else
			unsetenv(names[k]);
	}
	if (err_fd < 0) {
		err_fd = memfd_create("stderr", 0);
		saved_fd = dup(2);
	}
	ftruncate(err_fd, 0);
	lseek(err_fd, 0, SEEK_SET);
	dup2(err_fd, 2);
	struct at_config cfg;
	at_config_read(&cfg);
	dup2(saved_fd, 2);

	/* Which values the parsers refuse, on their own. */
	int refused[4] = {0}, m, c, b;
	size_t sz;
	if (val[0])
		refused[0] = at_parse_alloctag(val[0], &m, &c) != 0;
	if (val[1])
		refused[1] = at_parse_size(val[1], &sz) || sz < 1 || sz > AT_NR_SPARE_BITS ||
			     !*val[1] || val[1][strlen(val[1]) - 1] > '9';
	if (val[2])
		refused[2] = at_parse_bool(val[2], &b) != 0;
	if (val[3])
		refused[3] = at_parse_size(val[3], &sz) || !sz;

	if (cfg.mode < -1 || cfg.mode > 1 || (cfg.compressed != 0 && cfg.compressed != 1) ||
	    cfg.tag_bits_cap > AT_NR_SPARE_BITS || (cfg.debug != 0 && cfg.debug != 1))
		abort();
	if ((refused[0] && (cfg.mode != 1 || cfg.compressed != 1)) ||
	    (refused[1] && cfg.tag_bits_cap) || (refused[2] && cfg.debug) ||
	    (refused[3] && cfg.heap_max))
		abort();

	char out[8192];
	ssize_t n = pread(err_fd, out, sizeof(out) - 1, 0);
	if (n < 0)
		abort();
	out[n] = 0;
	const char *line = out;
	for (int k = 0; k < 4; k++) {
		if (!refused[k])
			continue;
		char want[64];
		int wl = snprintf(want, sizeof(want), "alloctag: ignoring %s=\"", names[k]);
		if (strncmp(line, want, (size_t)wl))
			abort(); /* missing, or out of order */
		const char *nl = strchr(line, '\n');
		if (!nl)
			abort();
		for (const char *p = line; p < nl; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				abort();
		line = nl + 1;
	}
	if (*line)
		abort(); /* a line for a value that was accepted */
	return 0;
}
