/*
 * core/read_at.h: a file range read completely, by the pread64 system call
 * made in our own text; short only at the end of the file, -1 on an error,
 * errno never changed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "core/read_at.h"

int main(void)
{
	char path[] = "/tmp/at_read_at_XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	unlink(path);
	static char data[100000], got[100000];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7 + i / 251);
	CHECK_EQ(write(fd, data, sizeof(data)), (long)sizeof(data));

	/* the whole file, a middle range, a range that runs past the end */
	CHECK_EQ(at_read_at(fd, got, sizeof(got), 0), (long)sizeof(data));
	CHECK(!memcmp(got, data, sizeof(data)));
	CHECK_EQ(at_read_at(fd, got, 1000, 12345), 1000);
	CHECK(!memcmp(got, data + 12345, 1000));
	CHECK_EQ(at_read_at(fd, got, 5000, sizeof(data) - 300), 300);
	CHECK(!memcmp(got, data + sizeof(data) - 300, 300));
	CHECK_EQ(at_read_at(fd, got, 10, sizeof(data)), 0);
	CHECK_EQ(at_read_at(fd, got, 10, sizeof(data) + 4096), 0);
	CHECK_EQ(at_read_at(fd, got, 0, 5), 0);
	/* the file offset is not moved (pread) */
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), (long)sizeof(data));

	/* errors: -1, errno as it was */
	errno = 1234;
	CHECK_EQ(at_read_at(-1, got, 10, 0), -1);
	CHECK_EQ(at_read_at(fd, got, 10, (uint64_t)INT64_MAX), -1);
	CHECK_EQ(at_read_at(fd, got, 10, ~(uint64_t)0), -1);
	CHECK_EQ(at_pread_once(-1, got, 10, 0), -EBADF);
	int dir = open("/", O_RDONLY | O_DIRECTORY);
	CHECK(dir >= 0);
	CHECK_EQ(at_pread_once(dir, got, 10, 0), -EISDIR);
	CHECK_EQ(errno, 1234);
	close(dir);
	close(fd);
	printf("read_at: ok\n");
	return 0;
}
