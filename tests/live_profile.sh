#!/bin/sh
# The peak (alloctag run --peak) of a program that allocates 100 MiB, frees
# it and allocates 10 MiB; the interval series (alloctag run --interval) of
# a program with a known ramp (1 MiB more every 100 ms, 10 times).
# usage: live_profile.sh ALLOCTAG LIVE_TARGET LIVE_TARGET_SOURCE
set -eu
AT=$1
TGT=$2
SRC=$3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
line() { grep -n "/\* line $1 \*/" "$SRC" | cut -d: -f1; }
LP1=$(line P1)
LP2=$(line P2)
cd "$T"

# 1. peak: ~100 MiB at line P1 (within 1%: the recorder's tolerance), at a
# time inside the run; the end state is 10 MiB at line P2
before=$(date +%s)
"$AT" run --peak --top 0 -o "$T/peak.prof" -- "$TGT" peak </dev/null >/dev/null 2>"$T/err" || fail "run --peak: $(cat "$T/err")"
after=$(date +%s)
"$AT" report "$T/peak.prof" >"$T/top" || fail "report of the peak profile"
total=$(awk '$1 == "peak" { print $3 }' "$T/peak.prof")
ptime=$(awk '$1 == "peak" { print int($2) }' "$T/peak.prof")
[ -n "$total" ] || fail "no peak record: $(cat "$T/peak.prof")"
# 100 MiB of 1 KiB objects: 104857600 bytes; the recorder keeps at least 1/1.01 of it
[ "$total" -le 104857600 ] && [ "$total" -ge 103819406 ] || fail "peak total $total is not within 1% of 100 MiB"
[ "$ptime" -ge "$before" ] && [ "$ptime" -le "$after" ] || fail "peak time $ptime outside the run ($before..$after)"
# the peak's sites: line P1 holds the peak (all of it but the stdout buffer), line P2 nothing
sed -n '/site at the peak$/,$p' "$T/top" >"$T/peaksites"
grep -Eq "^ +(99\.[0-9]|100\.0) MiB +10[0-9]{4}  main at .*live_target\.c:$LP1\$" "$T/peaksites" || fail "peak sites: $(cat "$T/top")"
! grep -q "live_target\.c:$LP2\$" "$T/peaksites" || fail "line P2 at the peak: $(cat "$T/top")"
grep -Eq "^peak: (99\.[0-9]|100\.0) MiB at [0-9-]+ [0-9:.]+ UTC \([0-9.]+ s before the profile\)\$" "$T/top" || fail "peak line: $(cat "$T/top")"
# the end state, exact
grep -Eq "^ +10\.0 MiB +10240 +10\.0 MiB +10240  main at .*live_target\.c:$LP2\$" "$T/top" || fail "end state: $(cat "$T/top")"
"$AT" report --format allocinfo "$T/peak.prof" | grep -Eq "^ +0 +0 .*live_target\.c:$LP1 func:main \$" || fail "end state P1: $("$AT" report --format allocinfo "$T/peak.prof")"
echo "peak: ok ($total bytes)"

# 1b. a program that never holds 1 MiB (the recorder's floor): what the
# profile has is the live state when it was written, and the reports say so
"$AT" run --peak --top 0 -o "$T/small.prof" -- /bin/echo small </dev/null >/dev/null 2>"$T/err" || fail "run --peak echo: $(cat "$T/err")"
stotal=$(awk '$1 == "peak" { print $3 }' "$T/small.prof")
[ -n "$stotal" ] && [ "$stotal" -lt 1048576 ] || fail "small peak record: $(grep '^peak' "$T/small.prof")"
"$AT" report "$T/small.prof" >"$T/stop" || fail "report of the small profile"
grep -Eq "^peak: none of 1 MiB or more \(the recorder's floor\); [0-9.]+ (B|KiB) live when the profile was written, at [0-9-]+ [0-9:.]+ UTC\$" "$T/stop" || fail "small peak line: $(cat "$T/stop")"
grep -Eq "^ +live +calls  site when written\$" "$T/stop" || fail "small peak table: $(cat "$T/stop")"
! grep -q "site at the peak" "$T/stop" || fail "a peak claimed: $(cat "$T/stop")"
"$AT" report --format html -o "$T/small.html" "$T/small.prof" || fail "html of the small profile"
grep -q "<h2>When the profile was written (" "$T/small.html" || fail "html: no 'When the profile was written'"
grep -q '"peak":null' "$T/small.html" || fail "html: a peak marked"
grep -q "no peak of 1 MiB or more" "$T/small.html" || fail "html header"
echo "no peak below the floor: ok ($stotal bytes when written)"

# 2. series: samples every 50 ms; the ramp site holds k MiB, k = 0..10,
# never decreasing; the last sample has all 10 MiB
"$AT" run --interval 50ms --top 0 -o "$T/ramp.prof" -- "$TGT" ramp 100 </dev/null >/dev/null 2>"$T/err" || fail "run --interval: $(cat "$T/err")"
grep -qx "interval 50000000" "$T/ramp.prof" || fail "no interval record"
# the ramp chain's index: the chain record whose frame is line R's return address
"$AT" report --format json "$T/ramp.prof" >/dev/null || fail "json of the series profile"
idx=$(awk '$1 == "chain" && $2 == 10485760 { getline; if ($1 == "index") print $2 }' "$T/ramp.prof")
[ -n "$idx" ] || fail "no index record after the ramp's chain"
awk -v idx="$idx" '
    $1 == "sample" {
        n++; k = 0
        for (i = 4; i <= NF; i++) { split($i, f, ":"); if (f[1] == idx) k = f[2] }
        if (k % 1048576) { print "sample " n ": " k " is not a whole number of MiB"; bad = 1 }
        if (k < prev) { print "sample " n ": " k " < " prev; bad = 1 }
        if ($3 < k) { print "sample " n ": total " $3 " < site " k; bad = 1 }
        if (!seen[k]++) distinct++
        prev = k; last = k
    }
    END {
        if (n < 10) { print "only " n " samples"; bad = 1 }
        if (last != 10485760) { print "last sample " last; bad = 1 }
        if (distinct < 6) { print "only " distinct " distinct values"; bad = 1 }
        exit bad
    }' "$T/ramp.prof" >"$T/why" || fail "series: $(cat "$T/why")"
"$AT" report "$T/ramp.prof" | grep -Eq "^series: [0-9]+ samples every 50 ms over [0-9.]+ s, highest 10\.0 MiB at " || fail "series line: $("$AT" report "$T/ramp.prof")"
echo "series: ok"

# 3. bad values: one line each, the program runs
out=$(ALLOCTAG_INTERVAL=fast ALLOCTAG_PEAK=maybe "$AT" run --top 0 -o "$T/bad.prof" -- "$TGT" </dev/null 2>&1 >/dev/null) || fail "bad values ended the program"
echo "$out" | grep -qx 'alloctag: ignoring ALLOCTAG_INTERVAL="fast": expected a time from 1ms to 3600s (e.g. 100ms, 0.5s, 2); no series is recorded' || fail "bad interval: $out"
echo "$out" | grep -qx 'alloctag: ignoring ALLOCTAG_PEAK="maybe": expected 1 or 0 (or y/n, yes/no, on/off, true/false); no peak is recorded' || fail "bad peak: $out"
if "$AT" run --interval 0 -- true 2>"$T/err"; then fail "run --interval 0 accepted"; fi
grep -q "^alloctag: run: --interval '0': expected a time from 1ms to 3600s" "$T/err" || fail "run --interval 0: $(cat "$T/err")"
echo "bad values: ok"

# 4. a malformed peak or series record: one line, status 1
awk '{ print } $1 == "peak" { print "peak-site 2 12x 1" }' "$T/peak.prof" >"$T/badpeak.prof"
line=$(grep -n '^peak-site 2 12x 1$' "$T/badpeak.prof" | cut -d: -f1)
if "$AT" report "$T/badpeak.prof" >/dev/null 2>"$T/err"; then fail "a malformed peak-site record was accepted"; fi
[ "$(cat "$T/err")" = "alloctag: $T/badpeak.prof: line $line: malformed peak-site record" ] || fail "bad peak-site: $(cat "$T/err")"
sed 's/^sample \([0-9.]*\) /sample \1 x/' "$T/ramp.prof" >"$T/badsample.prof"
if "$AT" report "$T/badsample.prof" >/dev/null 2>"$T/err"; then fail "a malformed sample record was accepted"; fi
grep -Eqx "alloctag: $T/badsample.prof: line [0-9]+: malformed sample record" "$T/err" || fail "bad sample: $(cat "$T/err")"
echo "malformed records: ok"

# 5. the peak so far, read live (top --once of a process run with --peak)
rm -f "$T/in" "$T/out"
mkfifo "$T/in"
"$AT" run --peak --top 0 -o "$T/live.prof" -- "$TGT" peak <"$T/in" >"$T/out" 2>/dev/null &
RP=$!
exec 7>"$T/in"
i=0
until grep -q ready "$T/out" 2>/dev/null; do i=$((i + 1)); [ $i -lt 400 ] || fail "peak target did not start"; sleep 0.05; done
PID=$(pgrep -P "$RP")
"$AT" top --once "$PID" >"$T/ltop" 2>"$T/err" || fail "top --once of the peak target: $(cat "$T/err")"
grep -Eq "^peak: (99\.[0-9]|100\.0) MiB at [0-9-]+ [0-9:.]+ UTC \([0-9.]+ s before the profile\)\$" "$T/ltop" || fail "live peak line: $(cat "$T/ltop")"
sed -n '/site at the peak$/,$p' "$T/ltop" | grep -Eq "^ +(99\.[0-9]|100\.0) MiB +10[0-9]{4}  main at .*live_target\.c:$LP1\$" || fail "live peak sites: $(cat "$T/ltop")"
exec 7>&-
wait "$RP" || fail "run --peak of the live target"
echo "live peak: ok"
