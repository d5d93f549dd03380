#!/bin/sh
# Secure execution, for real: a setuid copy of test_secure (owned by nobody,
# run by root, so the kernel passes AT_SECURE=1) ignores every ALLOCTAG*
# variable, silently; the same copy without the setuid bit obeys them; the
# test-only override gives the same result as the real thing.  Needs root to
# make the setuid copy: anyone else skips that part (exit 77) after checking
# the override.
# usage: secure_exec.sh <test_secure>
set -u
prog=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
env_all="ALLOCTAG=never ALLOCTAG_TAG_BITS=3 ALLOCTAG_DEBUG=1 ALLOCTAG_HEAP_MAX=1M"
check_default() { # $1: output, $2: stderr, $3: secure flag expected
	case "$1" in
	"secure=$3 mode=1 compressed=1 tag_bits="*" debug=0 order9=1") ;;
	*) fail "secure run: got '$1'" ;;
	esac
	[ -z "$2" ] || fail "secure run printed on stderr: $2"
}
# The environment is obeyed normally.
out=$(env $env_all "$prog" 2>/dev/null) || fail "plain run exited $?"
[ "$out" = "secure=0 mode=-1 compressed=0 tag_bits=0 debug=1 order9=0" ] ||
	fail "plain run: got '$out'"
out=$(env ALLOCTAG=1 ALLOCTAG_TAG_BITS=3 "$prog" 2>/dev/null) || fail "plain run exited $?"
[ "$out" = "secure=0 mode=1 compressed=1 tag_bits=3 debug=0 order9=1" ] ||
	fail "plain run with 3 bits: got '$out'"
out=$(env ALLOCTAG=1 ALLOCTAG_TAG_BITS=3 TEST_SECURE_OVERRIDE=1 "$prog" 2>/dev/null) || fail "override run exited"
[ "$out" != "secure=1 mode=1 compressed=1 tag_bits=3 debug=0 order9=1" ] ||
	fail "override run obeyed ALLOCTAG_TAG_BITS"
# Bad values too are ignored without a word in secure execution.
bad="ALLOCTAG=bogus ALLOCTAG_TAG_BITS=x ALLOCTAG_DEBUG=maybe ALLOCTAG_HEAP_MAX=-1 ALLOCTAG_SECURE=3"
out=$(env TEST_SECURE_OVERRIDE=1 $env_all "$prog" 2>/tmp/secure_err.$$) || fail "override run exited"
check_default "$out" "$(cat /tmp/secure_err.$$)" 1
out=$(env TEST_SECURE_OVERRIDE=1 $bad "$prog" 2>/tmp/secure_err.$$) || fail "override run exited"
check_default "$out" "$(cat /tmp/secure_err.$$)" 1
rm -f /tmp/secure_err.$$
echo "override: ALLOCTAG* ignored"
[ "$(id -u)" = 0 ] || { echo "not root: no setuid copy"; exit 77; }
dir=$(mktemp -d) || fail mktemp
trap 'rm -rf "$dir"' EXIT
cp "$prog" "$dir/test_secure"
chown nobody "$dir/test_secure" && chmod 4755 "$dir/test_secure" || fail "cannot make it setuid"
chmod 755 "$dir"
probe=$("$dir/test_secure" 2>/dev/null)
case $probe in
secure=0*)
	# setuid bits are ignored on a nosuid file system: nothing to test here
	if findmnt -n -o OPTIONS -T "$dir" 2>/dev/null | grep -q nosuid; then
		echo "$dir is on a nosuid file system: no setuid copy"; exit 77
	fi
	fail "the setuid copy did not run in secure execution: $probe" ;;
esac
out=$(env $env_all "$dir/test_secure" 2>"$dir/err") || fail "setuid run exited"
check_default "$out" "$(cat "$dir/err")" 1
out=$(env $bad "$dir/test_secure" 2>"$dir/err") || fail "setuid run exited"
check_default "$out" "$(cat "$dir/err")" 1
out=$(env ALLOCTAG=1 ALLOCTAG_TAG_BITS=3 "$dir/test_secure" 2>"$dir/err") || fail "setuid run exited"
check_default "$out" "$(cat "$dir/err")" 1
# Without the setuid bit the same copy obeys them again.
chmod 0755 "$dir/test_secure"
out=$(env $env_all "$dir/test_secure" 2>/dev/null) || fail "plain copy exited"
[ "$out" = "secure=0 mode=-1 compressed=0 tag_bits=0 debug=1 order9=0" ] ||
	fail "plain copy: got '$out'"
echo "setuid: ALLOCTAG* ignored"
