#!/bin/sh
# Smoke run of the pool failover torture (bench/pool_torture.cpp): two kill -9 / restart
# rounds of a local etcd + three pchatd pool under load; fails when an acknowledged post is
# lost, duplicated or out of order, or a room is not served again. Never measures (the
# figures are in docs/PERFORMANCE.md). About 20 s.
set -eu
TORTURE="$1"
PCHATD="$2"
[ -x /usr/bin/etcd ] || { echo "etcd not installed: skipped"; exit 77; }
exec "$TORTURE" --pchatd="$PCHATD" --rounds=2 --up-seconds=1.5 --down-seconds=1 --rate=30 --timeout=100
