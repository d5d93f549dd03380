#!/usr/bin/env bash
# How many pages of the small objects' metadata windows (the shadow,
# objects/slab.h) a program keeps resident: builds the preload library of
# source tree SRC (a copy, in a temporary directory) with a destructor
# that counts, at each process's exit, the resident pages (mincore) of the
# shadow's first min(heap span, 1 GiB) bytes, and the process's RssAnon,
# and runs CMD ROUNDS times under it in each mode (default ALLOCTAG,
# never, 1,uncompressed).
#
#   bench/malloc/winpages.sh SRC ROUNDS CMD [ARG...]
#
# Printed per mode: each round's pages/RssAnon KiB, CMD's processes'
# summed.  A command that fails (a crash, a non-zero exit) or whose
# processes wrote no figures stops the script with a message, not a 0.  Load
# moves nothing here: the same program makes the same slabs.  Two trees
# (a change and the build before it) give a change's effect.
set -eu
SRC=$(cd "${1:?usage: winpages.sh SRC ROUNDS CMD [ARG...]}" && pwd)
ROUNDS=${2:?usage: winpages.sh SRC ROUNDS CMD [ARG...]}
shift 2
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir "$W/src"
(cd "$SRC" && tar --exclude='./build*' --exclude=./.git -cf - .) | tar -xf - -C "$W/src"
cat >>"$W/src/src/objects/slab.c" <<'C'

/* winpages.sh: the shadow's resident pages at exit, to $WINPAGES_FILE */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
__attribute__((destructor)) static void winpages_dump(void)
{
	const char *out = getenv("WINPAGES_FILE");
	if (!out || !at_meta_base)
		return;
	static unsigned char vec[65536];
	static char st[8192];
	size_t span = AT_LOAD_RELAXED(&at_heap_span), res = 0;
	if (span > (1ul << 30))
		span = 1ul << 30;
	for (size_t off = 0; off < span; off += sizeof(vec) * 4096) {
		size_t len = span - off < sizeof(vec) * 4096 ? span - off : sizeof(vec) * 4096;
		if (mincore(at_meta_base + off, len, vec))
			break; /* under a limit: past the shadow's mapped part */
		for (size_t i = 0; i < len / 4096; i++)
			res += vec[i] & 1;
	}
	int fd = open("/proc/self/status", O_RDONLY);
	ssize_t r = fd < 0 ? 0 : read(fd, st, sizeof st - 1);
	if (fd >= 0)
		close(fd);
	st[r > 0 ? r : 0] = 0;
	const char *a = strstr(st, "RssAnon:");
	char b[48];
	int n = snprintf(b, sizeof b, "%zu %ld\n", res, a ? strtol(a + 8, NULL, 10) : 0L);
	fd = open(out, O_WRONLY | O_APPEND | O_CREAT, 0600);
	if (fd >= 0) {
		if (write(fd, b, (size_t)n) != n) {}
		close(fd);
	}
}
C
cmake -S "$W/src" -B "$W/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$W/build" -j"$(nproc)" --target alloctag_preload >/dev/null
LIB=$W/build/liballoctag-preload.so
for mode in 1 never 1,uncompressed; do
    line="ALLOCTAG=$mode:"
    for r in $(seq "$ROUNDS"); do
        rm -f "$W/pages"
        rc=0
        WINPAGES_FILE=$W/pages ALLOCTAG=$mode LD_PRELOAD=$LIB "$@" >/dev/null 2>"$W/err" </dev/null || rc=$?
        if [ "$rc" -ne 0 ]; then
            tail -5 "$W/err" >&2
            echo "winpages.sh: '$*' failed under ALLOCTAG=$mode (exit status $rc): no figures" >&2
            exit 1
        fi
        if [ ! -s "$W/pages" ]; then
            echo "winpages.sh: '$*' wrote no figures under ALLOCTAG=$mode (no process of it exited normally under the library)" >&2
            exit 1
        fi
        line="$line $(awk '{ s += $1; k += $2 } END { print s + 0 "/" k + 0 }' "$W/pages")"
    done
    echo "$line"
done
