#!/bin/sh
# The shadow-model soak (tests/soak.c) for a long time: alternates the
# compressed store, the side table, debug mode and ALLOCTAG_SECURE=2, in runs
# of RUN seconds,
# until HOURS have passed; prints each run's figures and the totals.
# usage: sh scripts/soak.sh [hours] [threads] [build dir]
#   e.g. sh scripts/soak.sh 4 4          (RUN=600 by default)
set -eu
cd "$(dirname "$0")/.."
hours=${1:-1}
threads=${2:-3}
build=${3:-build}
run=${RUN:-600}
soak=$build/tests/soak
[ -x "$soak" ] || cmake --build "$build" -j"$(nproc)" --target soak
end=$(( $(date +%s) + $(awk "BEGIN { printf \"%d\", $hours * 3600 }") ))
ops=0 checks=0 bytes=0 runs=0 secs=0 forks=0 dl=0
i=0
while [ "$(date +%s)" -lt "$end" ]; do
	case $((i % 4)) in
	0) env="ALLOCTAG=1,compressed" ;;
	1) env="ALLOCTAG=1,uncompressed" ;;
	2) env="ALLOCTAG=1 ALLOCTAG_DEBUG=1" ;;
	3) env="ALLOCTAG=1 ALLOCTAG_SECURE=2" ;;
	esac
	left=$(( end - $(date +%s) ))
	t=$(( left < run ? left : run ))
	[ "$t" -ge 1 ] || break
	line=$(env $env "$soak" "$t" "$threads") || { echo "FAIL ($env): $line" >&2; exit 1; }
	echo "$env: $line"
	set -- $(echo "$line" | sed 's/[^0-9. ]//g')
	# fields: seconds threads rounds operations checks bytes switches dl forks huge reads
	secs=$(awk "BEGIN { print $secs + $1 }")
	ops=$((ops + $4)) checks=$((checks + $5)) bytes=$((bytes + $6)) dl=$((dl + $8)) forks=$((forks + $9))
	runs=$((runs + 1))
	i=$((i + 1))
done
echo "soak total: $runs runs, $(awk "BEGIN { printf \"%.2f\", $secs / 3600 }") hours," \
	"$ops operations, $checks exact counter checks, $bytes bytes verified," \
	"$dl dlopen/dlclose, $forks forks, nothing lost"
