#!/usr/bin/env bash
# A shell script that forks and execs as build and packaging scripts do:
# for each Debian copyright file, a line count and a transformed head
# through command substitutions and pipes (about five forks and four execs
# a file).  Prints the total of the line counts and heads' lengths.
# Compare builds paired, e.g.:
#
#   farm-bench -n 5 --timeout 900 --vs "env LD_PRELOAD=$BEFORE bash bench/malloc/forkscript.sh" \
#       -- env LD_PRELOAD=$P bash bench/malloc/forkscript.sh
n=0
for f in /usr/share/doc/*/copyright; do
	l=$(wc -l <"$f")
	h=$(head -c 64 "$f" | tr '[:lower:]' '[:upper:]' | cut -c1-8)
	n=$((n + l + ${#h}))
done
echo "$n"
