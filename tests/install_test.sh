#!/bin/sh
# Install into a scratch prefix, build a user program with nothing but
# pkg-config, run it, and check the shared library's exports: only the
# public API, and no malloc family (liballoctag does not replace malloc).
set -eu
build=$1
src=$2
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig:$prefix/lib/x86_64-linux-gnu/pkgconfig"
libdir=$(pkg-config --variable=libdir alloctag)
cc -o "$prefix/example" "$src/examples/example.c" $(pkg-config --cflags --libs alloctag) \
  -Wl,-rpath,"$libdir"
out=$("$prefix/example")
[ "$(echo "$out" | head -1)" = "allocinfo - version: 2.0" ] || { echo "FAIL: header: $out"; exit 1; }
echo "$out" | grep -q "examples/example.c:22 func:load_cache" || { echo "FAIL: example output:"; echo "$out"; exit 1; }
test -f "$libdir/liballoctag.a"
bad=$(nm -D --defined-only "$libdir/liballoctag.so" | awk '{print $3}' |
      grep -Ev '^(alloctag_|at_|ALLOCTAG)' || true)
[ -z "$bad" ] || { echo "FAIL: unexpected exports: $bad"; exit 1; }
for f in malloc free calloc realloc posix_memalign aligned_alloc memalign valloc pvalloc malloc_usable_size; do
  if nm -D --defined-only "$libdir/liballoctag.so" | awk '{print $3}' | grep -qx "$f"; then
    echo "FAIL: liballoctag.so exports $f"; exit 1
  fi
done
echo "install + pkg-config OK"
