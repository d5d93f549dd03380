/*
 * libFuzzer target: the alloctag command's readers of outside input, the
 * raw profile (tools/profile/read.c) and allocinfo text
 * (tools/profile/allocinfo_read.c), then the reports of whatever parses
 * (symbol files: only the program FUZZ_OBJ names, whatever address a
 * mutated profile asks about in it; every other map path is replaced by
 * one that does not exist, so that no mutation opens a device or a pipe).  Built and run by
 * fuzz_profile.sh with clang's -fsanitize=fuzzer,address,undefined.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile/profile.h"
#include "report/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct profile p;
	int rc = size >= 9 && memcmp(data, "allocinfo", 9) == 0
			 ? profile_parse_allocinfo("fuzz", (const char *)data, size, &p)
			 : profile_parse("fuzz", (const char *)data, size, &p);
	if (rc == 0) {
		const char *obj = getenv("FUZZ_OBJ");
		for (size_t i = 0; i < p.nr_maps; i++) {
			if (obj && strcmp(p.maps[i].path, obj) == 0)
				continue;
			free(p.maps[i].path);
			p.maps[i].path = strdup("/nonexistent/fuzz");
		}
		static FILE *null;
		if (!null)
			null = fopen("/dev/null", "w");
		for (int f = FMT_ALLOCINFO; f <= FMT_PPROF; f++)
			report_write_to(&p, (enum report_format)f, NULL, null, 0);
		profile_free(&p);
	}
	return 0;
}
