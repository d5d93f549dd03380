# The common start of the scripts that run whole programs under a preload
# library (realprog.sh, smallrss.sh), sourced as
#     . "$(dirname "$0")/prelude.sh" SCRIPT_NAME DEFAULT_ROUNDS "$@"
# Sets HERE (this folder), PRE (the library, absolute), ROUNDS, W (a
# temporary folder removed at exit) and builds $W/measure (measure.c);
# so_of PACKAGE LIBNAME prints a Debian package's shared library, if any.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
PRE=${3:?usage: $1 PRELOAD_LIB [ROUNDS]}
ROUNDS=${4:-$2}
PRE=$(cd "$(dirname "$PRE")" && pwd)/$(basename "$PRE")
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
gcc -O2 -o "$W/measure" "$HERE/measure.c"
so_of() { dpkg -L "$1" 2>/dev/null | grep -E "/$2\.so\.[0-9]+$" | head -n1 || true; }
