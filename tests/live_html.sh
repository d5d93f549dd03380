#!/bin/sh
# report --format html in headless Chromium: the page of a run with a peak
# and a series loads without a console message, fetches nothing, draws the
# stacked areas, the peak marker and the flame graph (counted in the DOM and
# seen in the screenshot), and lists exact numbers.
# usage: live_html.sh ALLOCTAG LIVE_TARGET TESTS_DIR
set -eu
AT=$1
TGT=$2
TD=$3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v chromium >/dev/null || { echo "chromium is not installed (scripts/deps.sh installs it)"; exit 77; }
cd "$T"
"$AT" run --peak --interval 50ms --top 0 -o "$T/w.prof" -- "$TGT" wave 60 </dev/null >/dev/null 2>"$T/err" || fail "run: $(cat "$T/err")"
"$AT" report --format html -o "$T/w.html" "$T/w.prof" || fail "report --format html"

# nothing to fetch: no src/href/url()/import, no address but the SVG namespace
! grep -Eqi '(src|href)[[:space:]]*=|url\(|@import' "$T/w.html" || fail "the page refers to something to fetch"
[ -z "$(grep -Eo 'https?://[^"'"'"' )]*' "$T/w.html" | grep -vx 'http://www.w3.org/2000/svg')" ] || fail "the page names an address"
# exact numbers: the peak and the end state, in bytes
peak=$(awk '$1 == "peak" { print $3 }' "$T/w.prof")
grep -q "peak [0-9.]* MiB ($peak bytes)" "$T/w.html" || fail "the header does not give the peak's bytes ($peak)"
grep -q '<td class="n" title="3145728 bytes">3.0 MiB</td><td class="n">6</td><td class="n" title="3145728 bytes">3.0 MiB</td><td class="n">6</td><td>helper at ' "$T/w.html" || fail "top table: helper's 3 MiB"
# line V: 10 blocks of 1 MiB allocated, 8 of them freed
grep -q '<td class="n" title="2097152 bytes">2.0 MiB</td><td class="n">2</td><td class="n" title="10485760 bytes">10.0 MiB</td><td class="n">10</td><td>main at ' "$T/w.html" || fail "top table: line V's 2 MiB live of 10 allocated"

chrome() {
    D=$(mktemp -d "$T/profile.XXXXXX")
    timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$D" --window-size=1200,900 --enable-logging=stderr --v=0 "$@"
}
chrome --dump-dom "file://$T/w.html" >"$T/dom" 2>"$T/log" || fail "chromium --dump-dom: $(tail -3 "$T/log")"
! grep -q 'CONSOLE' "$T/log" || fail "console messages: $(grep CONSOLE "$T/log")"
title=$(sed -n 's/.*<title>\(.*\)<\/title>.*/\1/p' "$T/dom")
echo "title: $title"
areas=$(echo "$title" | sed -n 's/.*(areas \([0-9]*\), .*/\1/p')
frames=$(echo "$title" | sed -n 's/.*, frames \([0-9]*\), .*/\1/p')
cy=$(echo "$title" | sed -n 's/.*, chart \([0-9]*-[0-9]*\), .*/\1/p')
fy=$(echo "$title" | sed -n 's/.*, flame \([0-9]*-[0-9]*\))$/\1/p')
[ -n "$areas" ] && [ "$areas" -ge 3 ] || fail "stacked areas drawn: '$areas' ($title)"
[ -n "$frames" ] && [ "$frames" -ge 3 ] || fail "flame frames drawn: '$frames' ($title)"
grep -q 'id="peakline"' "$T/dom" || fail "no peak marker in the chart"
[ -n "$cy" ] && [ -n "$fy" ] || fail "no chart or flame position ($title)"

chrome --screenshot="$T/shot.png" "file://$T/w.html" >/dev/null 2>"$T/log" || fail "chromium --screenshot: $(tail -3 "$T/log")"
set -- $(python3 "$TD/png_colors.py" "$T/shot.png" "688db4:14:${cy%-*}:${cy#*-}" "dd0000:50:${cy%-*}:${cy#*-}" "warm:${fy%-*}:${fy#*-}")
echo "screenshot: $1 pixels of the first site's area, $2 of the peak marker, $3 warm pixels in the flame graph"
[ "$1" -ge 20000 ] || fail "the chart's area is not in the screenshot ($1 pixels)"
[ "$2" -ge 100 ] || fail "the peak marker is not in the screenshot ($2 pixels)"
[ "$3" -ge 10000 ] || fail "the flame graph is not in the screenshot ($3 pixels)"
echo "html: ok"
