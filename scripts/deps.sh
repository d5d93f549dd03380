#!/bin/sh
# Install the build tools a fresh Debian machine lacks (needs root or sudo).
set -eu
missing=""
for t in cmake:cmake gcc:gcc make:make pkg-config:pkg-config nm:binutils; do
  command -v "${t%%:*}" >/dev/null 2>&1 || missing="$missing ${t#*:}"
done
[ -z "$missing" ] && exit 0
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
$sudo apt-get update -q
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing
