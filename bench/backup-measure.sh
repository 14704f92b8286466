#!/bin/sh
# Backup of a store with ~100k posts (docs/PERFORMANCE.md "Backup"). Run under the build lock.
set -u
B=${B:-build/bin}
D=/tmp/pchat-bk100k
rm -rf $D; mkdir -p $D
$B/pchatd --data-dir=$D/data --auth=none --sip-port=0 --http-port=0 > $D/pchatd.out 2> $D/pchatd.err &
PID=$!
for i in $(seq 1 100); do grep -q http-port $D/pchatd.out && break; sleep 0.1; done
SIP=$(sed -n 's/sip-port=//p' $D/pchatd.out); HTTP=$(sed -n 's/http-port=//p' $D/pchatd.out)
echo "ports sip=$SIP http=$HTTP"
$B/pchat-bench --server=127.0.0.1:$SIP --admin=127.0.0.1:$HTTP --admin-token-file=$D/data/admin.token \
  --profile=durable --duration=6 --keep-rooms --no-ceilings --json > $D/fill.json 2> $D/fill.err
grep -o '"posts": *[0-9]*\|"posts_per_s": *[0-9.]*\|"lost": *[0-9]*' $D/fill.json | head
du -sb $D/data/store $D/data/files 2>/dev/null
echo "--- idle backup"
/usr/bin/time -f "wall=%e s cpu_user=%U cpu_sys=%S" $B/pchatctl --data-dir=$D/data --server=127.0.0.1:$HTTP backup --dir $D/bk-idle
echo "--- backup under durable load"
$B/pchat-bench --server=127.0.0.1:$SIP --admin=127.0.0.1:$HTTP --admin-token-file=$D/data/admin.token \
  --profile=durable --duration=8 --keep-rooms --no-ceilings --json > $D/load.json 2> $D/load.err &
BP=$!
sleep 4
/usr/bin/time -f "wall=%e s cpu_user=%U cpu_sys=%S" $B/pchatctl --data-dir=$D/data --server=127.0.0.1:$HTTP backup --dir $D/bk-load
wait $BP; grep -o '"posts": *[0-9]*\|"posts_per_s": *[0-9.]*\|"lost": *[0-9]*\|"p99_ms": *[0-9.]*' $D/load.json | head
echo "--- restore"
/usr/bin/time -f "wall=%e s" $B/pchatd --restore-from=$D/bk-idle --data-dir=$D/restored
du -sb $D/bk-idle $D/restored
kill $PID; wait $PID
cp $D/fill.json $D/load.json /tmp/ 2>/dev/null
