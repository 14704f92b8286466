#!/usr/bin/env bash
# pchatd's memory during one large upload and download over HTTP (issue 10: uploads stream
# to the file store, so the server's RSS stays flat whatever the file's size).
#
#   bench/http-upload-rss.sh [MEGABYTES=200]
#
# Spawns pchatd (--auth=none, fresh data folder under /tmp), raises MaxFileSizeKB, uploads
# MEGABYTES of random bytes with curl, downloads them back, and samples the server's VmRSS
# every 20 ms: before, peak during the upload, after it, peak during the download, and its
# VmHWM (peak over the whole run). Loopback only; stops the server by PID at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${1:-200}
server=build/bin/pchatd
ctl=build/bin/pchatctl
[[ -x $server && -x $ctl ]] || { echo "build first: scripts/build.sh pchatd pchatctl" >&2; exit 2; }
out=$(mktemp -d /tmp/pchat-upload-rss-XXXXXX)
pid=""
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$out"; }
trap cleanup EXIT

start() {
  "$server" --data-dir="$out/data" --sip-port=0 --http-port=0 --auth=none >"$out/server.out" 2>"$out/server.err" &
  pid=$!
  for _ in $(seq 1 500); do grep -q '^http-port=' "$out/server.out" 2>/dev/null && break; sleep 0.02; done
  port=$(sed -n 's/^http-port=//p' "$out/server.out")
}
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"; }
# Peak VmRSS (KiB) while process $1 runs.
peak_while() {
  local peak=0 v
  while kill -0 "$1" 2>/dev/null; do
    v=$(rss); ((v > peak)) && peak=$v
    sleep 0.02
  done
  echo "$peak"
}

start
"$ctl" --data-dir="$out/data" --server="127.0.0.1:$port" config set --max-file-size-kb $((mb * 1024 + 1024)) >/dev/null
kill "$pid"; wait "$pid" || true
start
"$ctl" --data-dir="$out/data" --server="127.0.0.1:$port" category new --name Bench >/dev/null
"$ctl" --data-dir="$out/data" --server="127.0.0.1:$port" room new --name Big --category Bench --privacy open >/dev/null
room=$("$ctl" --data-dir="$out/data" --server="127.0.0.1:$port" --json room get --identity Big |
       grep -m1 -o '"id": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/')
head -c $((mb << 20)) /dev/urandom >"$out/file.bin"

before=$(rss)
t0=$(date +%s.%N)
curl -sS -o "$out/up.json" -w '%{http_code}' -H 'X-PChat-User: sip:alice@example.com' \
     --data-binary @"$out/file.bin" "http://127.0.0.1:$port/files/v1/rooms/$room?name=big.bin" >"$out/up.code" &
up_peak=$(peak_while $!)
t1=$(date +%s.%N)
after_up=$(rss)
id=$(grep -o '"id": *[0-9]*' "$out/up.json" | grep -o '[0-9]*$')
curl -sS -o "$out/down.bin" -H 'X-PChat-User: sip:bob@example.com' \
     "http://127.0.0.1:$port/files/v1/rooms/$room/$id" &
down_peak=$(peak_while $!)
t2=$(date +%s.%N)
after_down=$(rss)
hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
cmp -s "$out/file.bin" "$out/down.bin" && same=yes || same=NO

echo "# bench/http-upload-rss.sh $mb"
echo "upload: HTTP $(cat "$out/up.code"), $mb MiB in $(echo "$t1 - $t0" | bc) s"
echo "download: $(echo "$t2 - $t1" | bc) s, identical: $same"
echo "server VmRSS KiB: before=$before upload_peak=$up_peak after_upload=$after_up download_peak=$down_peak after_download=$after_down VmHWM=$hwm"
