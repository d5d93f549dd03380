#!/bin/sh
# Real Debian programs under liballoctag-preload.so in each ALLOCTAG mode, in
# debug mode and in the stricter heap (ALLOCTAG_SECURE=2), each output compared byte for byte with a plain run (glibc
# malloc), exit status too, and nothing on stderr from alloctag.
#   python3 (threads), perl, sort (a large file), sqlite3, gcc compiling a
#   file, git (init, add, commit, log, gc), xz -T2, bash forking many times.
# usage: real_programs.sh <liballoctag-preload.so> [short|long]
#   short (CI): small inputs, seconds per program; long: inputs 10-20x larger.
set -u
PRE=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
size=${2:-short}
case $size in short) k=1 ;; long) k=15 ;; *) echo "usage: $0 lib [short|long]" >&2; exit 2 ;; esac
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
modes="1,compressed 1,uncompressed 0 never debug secure"
fails=0 runs=0
# The library is really loaded: a bad value gets its message.
ALLOCTAG=bogus LD_PRELOAD="$PRE" /bin/true 2>"$T/probe"
grep -q '^alloctag: ignoring ALLOCTAG="bogus"' "$T/probe" || { echo "FAIL: $PRE not loaded: $(cat "$T/probe")" >&2; exit 1; }

# The programs: name, then the command line (run by sh -c in $T/work).
awk -v n=$((60000 * k)) 'BEGIN { srand(11); for (i = 0; i < n; i++) printf "%d %s-%x\n", int(rand() * 1e9), substr("qwertyuiopasdfgh", 1 + i % 16), i * 7919 }' >"$T/lines"
cat >"$T/threads.py" <<PYEOF
import threading, json, hashlib
res = [None] * 4
def work(k):
    d = {str(i * k): [j for j in range(i % 40)] for i in range(${k}0000)}
    s = json.dumps(d, sort_keys=True)
    res[k] = (len(s), hashlib.sha256(s.encode()).hexdigest())
ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
[t.start() for t in ts]
[t.join() for t in ts]
print(res)
PYEOF
cat >"$T/prog.c" <<'CEOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
struct node { struct node *next; char name[32]; };
static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
int main(void) {
	struct node *head = NULL;
	for (int i = 0; i < 1000; i++) {
		struct node *n = malloc(sizeof(*n));
		snprintf(n->name, sizeof(n->name), "node-%d", i * 37 % 1000);
		n->next = head;
		head = n;
	}
	char *v[1000];
	int k = 0;
	for (struct node *n = head; n; n = n->next) v[k++] = n->name;
	qsort(v, k, sizeof(v[0]), cmp);
	printf("%s %s\n", v[0], v[k - 1]);
	return 0;
}
CEOF
cat >"$T/sql" <<SQLEOF
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v REAL);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $((20000 * k)))
INSERT INTO t SELECT x, printf('name-%08d', x * 7919 % 100003), x * 0.5 FROM c;
CREATE INDEX ti ON t(name);
SELECT count(*), sum(v), min(name), max(name) FROM t;
SELECT name FROM t ORDER BY name DESC LIMIT 3;
SQLEOF

run() { # mode, name, command: prints the output file
	mode=$1
	name=$2
	shift 2
	out=$T/out.$name.$mode
	rm -rf "$T/work" && mkdir "$T/work"
	case $mode in
	plain) (cd "$T/work" && env HOME="$T" sh -c "$*") >"$out" 2>"$out.err" ;;
	debug) (cd "$T/work" && env HOME="$T" ALLOCTAG_DEBUG=1 LD_PRELOAD="$PRE" sh -c "$*") >"$out" 2>"$out.err" ;;
	secure) (cd "$T/work" && env HOME="$T" ALLOCTAG_SECURE=2 LD_PRELOAD="$PRE" sh -c "$*") >"$out" 2>"$out.err" ;;
	*) (cd "$T/work" && env HOME="$T" ALLOCTAG="$mode" LD_PRELOAD="$PRE" sh -c "$*") >"$out" 2>"$out.err" ;;
	esac
	echo "exit $?" >>"$out"
}

check() { # name, command
	name=$1
	shift
	before=$fails
	run plain "$name" "$@"
	if grep -q alloctag "$T/out.$name.plain.err"; then
		echo "FAIL $name: the plain run mentions alloctag" >&2
		fails=$((fails + 1))
	fi
	for m in $modes; do
		runs=$((runs + 1))
		run "$m" "$name" "$@"
		if ! cmp -s "$T/out.$name.plain" "$T/out.$name.$m"; then
			echo "FAIL $name under $m: output differs" >&2
			diff "$T/out.$name.plain" "$T/out.$name.$m" | head -5 >&2
			fails=$((fails + 1))
		elif grep -q 'alloctag' "$T/out.$name.$m.err"; then
			echo "FAIL $name under $m: $(grep alloctag "$T/out.$name.$m.err" | head -3)" >&2
			fails=$((fails + 1))
		fi
	done
	[ "$fails" = "$before" ] && echo "$name: $(tail -1 "$T/out.$name.plain"), same output in $modes"
}

check python3 "$PY $T/threads.py"
check perl "perl -e 'my %h; for my \$i (1..$((100000 * k))) { \$h{\"k\$i\"} = [\$i, \"v\" x (\$i % 30)] } my \$s = 0; \$s += length(join(q(,), @{\$h{\$_}})) for sort keys %h; print \"\$s\\n\"'"
check sort "sort -k2 -S 2M --parallel=2 $T/lines | md5sum; sort -n $T/lines | tail -3"
check sqlite3 "sqlite3 :memory: < $T/sql"
check gcc "gcc -O2 -o prog $T/prog.c && ./prog"
check git "git init -q r && cd r && git config user.email t@e && git config user.name t && for i in \$(seq $((40 * k))); do echo \"line \$i\" > f\$((i % 7)); git add -A; git commit -qm \"c \$i\"; done && git log --oneline | wc -l && git gc -q && git count-objects | cut -c1-2 && git rev-list --count HEAD"
check xz "xz -T2 -6 -c $T/lines | xz -d -T2 | md5sum"
check bash "bash -c 'n=0; for i in \$(seq $((300 * k))); do n=\$((n + \$(echo \$i | wc -c))); done; echo \$n'"
echo "real programs: $runs runs compared, $fails failures"
[ "$fails" = 0 ]
