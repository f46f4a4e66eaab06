#!/usr/bin/env bash
# Media benchmark: uploads/s and MB/s for ~100 KB and ~5 MB JPEG photos
# (decoded, re-encoded and thumbnailed by libvips at 96/320/800 px), the
# time to make a thumbnail (from the node's own metrics), the latency of a
# thumbnail download, and the node's RSS while a 25 MiB file is uploaded.
# Starts its own node with an embedded PostgreSQL in a temp dir and removes
# everything afterwards. Needs `vips` (libvips-tools) and curl.
#
#   bash bench/media_bench.sh [small_uploads=200] [large_uploads=20] [concurrency=4]
set -euo pipefail
cd "$(dirname "$0")/.."
SMALL=${1:-200}
LARGE=${2:-20}
CONC=${3:-4}
command -v vips >/dev/null || { echo "vips missing: make deps (libvips-tools)" >&2; exit 1; }
. bench/lib.sh
bench_init
PORT=$(bench_port)
bench_node_yaml "$TMP/node.yaml" bench.test "$PORT" <<YAML
log:
  access: false
media:
  quota_bytes_per_user: 0
  image_queue: 1000
YAML
bench_start_node "$TMP/node.yaml" "$PORT" "$TMP/node.log"
URL="http://127.0.0.1:$PORT"
TOKEN=$(bench_register "$PORT" bench)

# A photo-like JPEG of side $1 px (independent noise per band compresses
# like a photo: about 0.65 bytes per pixel at Q 85).
make_jpeg() {
  for b in r g b; do
    vips gaussnoise "$TMP/$b.v" "$1" "$1" --mean 128 --sigma 50
    vips cast "$TMP/$b.v" "$TMP/$b.u.v" uchar
  done
  vips bandjoin "$TMP/r.u.v $TMP/g.u.v $TMP/b.u.v" "$TMP/rgb.v"
  vips jpegsave "$TMP/rgb.v" "$2" --Q 85
  rm -f "$TMP"/*.v
}
make_jpeg 390 "$TMP/small.jpg"
make_jpeg 2750 "$TMP/large.jpg"

upload() {  # file -> prints the HTTP status
  curl -s -o /dev/null -w '%{http_code}\n' -X POST -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: image/jpeg' --data-binary @"$1" "$URL/api/v1/media?filename=bench.jpg"
}
export -f upload
export TOKEN URL

run_uploads() {  # name file count
  local bytes start end codes ok
  bytes=$(stat -c %s "$2")
  start=$(date +%s.%N)
  codes=$(seq 1 "$3" | xargs -P "$CONC" -I{} bash -c "upload '$2'")
  end=$(date +%s.%N)
  ok=$(echo "$codes" | grep -c '^201$' || true)
  awk -v n="$3" -v ok="$ok" -v b="$bytes" -v s="$start" -v e="$end" -v name="$1" 'BEGIN {
    t = e - s; printf "%-34s %6d uploads (%d ok) in %6.2f s: %7.1f uploads/s %7.2f MB/s in\n", name " (" int(b/1024) " KiB)", n, ok, t, ok/t, ok*b/t/1e6 }'
}

bench_header
echo "# node http.threads=2, media.image_workers=2, client concurrency $CONC, client and node on the same cores"
run_uploads "upload ~100 KB JPEG" "$TMP/small.jpg" "$SMALL"
run_uploads "upload ~5 MB JPEG" "$TMP/large.jpg" "$LARGE"

metrics=$(curl -sf "$URL/metrics")
awk '/^groupchat_media_thumbnail_seconds_total/ {s=$2} /^groupchat_media_thumbnails_total/ {n=$2}
     END { if (n > 0) printf "thumbnail made at upload          %6.1f ms mean over %d thumbnails\n", 1000*s/n, n }' <<<"$metrics"

ID=$(curl -sf -X POST -H "Authorization: Bearer $TOKEN" --data-binary @"$TMP/large.jpg" "$URL/api/v1/media" |
  sed -E 's/.*"media_id":"([^"]+)".*/\1/')
for _ in $(seq 1 200); do
  curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $TOKEN" "$URL/api/v1/media/$ID/thumbnail?size=320"
done | sort -n | awk '{ a[NR] = $1 } END { printf "GET thumbnail?size=320             p50 %6.2f ms   p99 %6.2f ms   (%d requests)\n", 1000*a[int(NR*0.5)], 1000*a[int(NR*0.99)], NR }'

head -c $((25 << 20)) /dev/urandom > "$TMP/big.bin"
rss() { awk '/VmRSS/ {print $2}' "/proc/$NODE_PID/status"; }
hwm() { awk '/VmHWM/ {print $2}' "/proc/$NODE_PID/status"; }
before=$(rss); hwm_before=$(hwm)
( while kill -0 "$NODE_PID" 2>/dev/null; do rss; sleep 0.02; done ) > "$TMP/rss.log" &
SAMPLER=$!
code=$(upload "$TMP/big.bin")
kill "$SAMPLER" 2>/dev/null || true
wait "$SAMPLER" 2>/dev/null || true
max=$(sort -n "$TMP/rss.log" | tail -1)
echo "25 MiB upload ($code): RSS before ${before} KiB, max during ${max} KiB (+$((max - before)) KiB), peak RSS grew $(( $(hwm) - hwm_before )) KiB"
echo "# node RSS after: $(awk '/VmRSS/ {print $2, $3}' /proc/$NODE_PID/status)"
