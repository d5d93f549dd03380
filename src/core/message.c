#include "core/message.h"

#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

static void vmsg(const char *fmt, va_list ap)
{
	char buf[1024];
	int n = 10;

	__builtin_memcpy(buf, "alloctag: ", 10);
	int k = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	if (k < 0)
		k = 0;
	n += k;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	for (const char *p = buf; n > 0;) {
		ssize_t w = write(2, p, n);
		if (w <= 0)
			break;
		p += w;
		n -= w;
	}
}

void at_msg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void at_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	abort();
}
