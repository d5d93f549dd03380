/*
 * Test helper: the allocinfo text into a static buffer (through a memfd and
 * alloctag_write_allocinfo_fd), and the lines of it that contain a string.
 */
#ifndef AT_TEST_ALLOCINFO_CAPTURE_H
#define AT_TEST_ALLOCINFO_CAPTURE_H

#define _GNU_SOURCE
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <alloctag.h>

#include "check.h"

static char allocinfo_buf[1 << 20];
static char allocinfo_sel[1 << 16];

static const char *allocinfo_text(void)
{
	int fd = memfd_create("allocinfo", 0);
	CHECK(fd >= 0);
	CHECK(alloctag_write_allocinfo_fd(fd) == 0);
	off_t n = lseek(fd, 0, SEEK_CUR);
	CHECK(n > 0 && (size_t)n < sizeof(allocinfo_buf));
	CHECK(pread(fd, allocinfo_buf, (size_t)n, 0) == n);
	allocinfo_buf[n] = 0;
	close(fd);
	return allocinfo_buf;
}

/* The allocinfo lines containing needle, concatenated ("" if none). */
static const char *allocinfo_grep(const char *needle)
{
	const char *s = allocinfo_text();
	size_t len = 0;
	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t l = nl ? (size_t)(nl - s) + 1 : strlen(s);
		const char *hit = strstr(s, needle);
		if (hit && hit < s + l) {
			CHECK(len + l < sizeof(allocinfo_sel));
			memcpy(allocinfo_sel + len, s, l);
			len += l;
		}
		s += l;
	}
	allocinfo_sel[len] = 0;
	return allocinfo_sel;
}

#endif
