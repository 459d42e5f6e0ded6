#!/usr/bin/env bash
# Browser tests of the review page (Tests/Browser/test_review.py: pytest + Playwright + Debian's chromium).
#   Tests/Browser/run.sh              against the real server: needs .build/debug/elena-run (swift build)
#   Tests/Browser/run.sh --assets-from-disk   the page from Sources/ElenaReview/Assets, not the binary's copy
#   Tests/Browser/run.sh -k undo      other arguments go to pytest
# It copies the demo images into a temporary folder, runs a drop of them into a temporary library (it stops at the
# review gate: exit 3), starts `elena-run review <manifest> --no-browser --port 0` in the background, reads the URL
# it prints, runs the tests, and always stops the server and deletes the folder (KEEP=1 keeps it to look at).
# Screenshots go to .build/review-screenshots/. Needs scripts/install-deps --test (chromium, the test venv).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
root=$(pwd)
python=$root/.build/test-venv/bin/python
binary=$root/.build/debug/elena-run

from_disk=0
pytest_args=()
for arg in "$@"; do
  case "$arg" in
    --assets-from-disk) from_disk=1 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) pytest_args+=("$arg") ;;
  esac
done

if ! "$python" -c 'import playwright.sync_api, pytest' 2>/dev/null; then
  echo "run.sh: $python lacks playwright/pytest: run scripts/install-deps --test" >&2
  exit 1
fi
if [ ! -x /usr/lib/chromium/chromium ] && [ ! -x /usr/bin/chromium ]; then
  echo "run.sh: chromium is missing: run scripts/install-deps --test" >&2
  exit 1
fi
if [ ! -x "$binary" ]; then
  echo "run.sh: $binary is missing: run swift build first" >&2
  exit 1
fi

# The tests must never touch a developer's own library or database.
unset ELENA_LIBRARY DATABASE_URL

tmp=$(mktemp -d /tmp/elena-review-test.XXXXXX)
server_pid=""
stop_server() {
  [ -n "$server_pid" ] || return 0
  if kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$server_pid" 2>/dev/null && kill -9 "$server_pid" 2>/dev/null
  fi
  wait "$server_pid" 2>/dev/null
  server_pid=""
}
cleanup() {
  stop_server
  if [ "${KEEP:-0}" = 1 ]; then echo "run.sh: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

library=$tmp/library
manifest=$tmp/demo.yaml

# A snapshot of the binary and the image library it loads from beside it (libElenaOpenCV.so), so a build relinking
# them in .build/debug meanwhile cannot disturb the run: taken once the binary has not changed for 2 s, compared with
# the originals and run once; retried for up to a minute.
imagelib=$(dirname "$binary")/libElenaOpenCV.so
snapshot_ok=0
for _ in $(seq 30); do
  before=$(stat -c '%Y %s' "$binary" 2>/dev/null)
  if [ -n "$before" ] && [ $(( $(date +%s) - ${before%% *} )) -ge 2 ] && cp "$binary" "$tmp/elena-run" 2>/dev/null \
    && cp "$imagelib" "$tmp/libElenaOpenCV.so" 2>/dev/null && cmp -s "$imagelib" "$tmp/libElenaOpenCV.so" \
    && [ "$(stat -c '%Y %s' "$binary" 2>/dev/null)" = "$before" ] && cmp -s "$binary" "$tmp/elena-run" \
    && "$tmp/elena-run" --version >/dev/null 2>&1 </dev/null; then
    snapshot_ok=1
    break
  fi
  sleep 2
done
if [ "$snapshot_ok" != 1 ]; then
  echo "run.sh: $binary or $imagelib is missing, kept changing or does not run (a build in progress?)" >&2
  exit 1
fi
binary=$tmp/elena-run
# A drop of the bundled demo images (a copy) into the temporary library, cut by a fixed fraction: no models needed.
cp -R examples/demo/images "$tmp/images"
# One picture twice: ComfyUI_00006_.png re-encoded (its pixels recompressed at another zlib level, its ComfyUI text
# dropped: other bytes, so another item), named to sort last so the other tests' items keep their places. The review
# page groups the two (test_near_identical_pictures_are_shown_together_and_g_keeps_one).
"$python" - "$tmp/images/ComfyUI_00006_.png" "$tmp/images/retake_ComfyUI_00006_.png" <<'PY' || exit 1
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
chunks, at = [], 8
while at < len(data):
    length, kind = struct.unpack(">I4s", data[at:at + 8])
    chunks.append((kind, data[at + 8:at + 8 + length]))
    at += 12 + length
chunk = lambda kind, body: struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
pixels = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", dict(chunks)[b"IHDR"]) + chunk(b"IDAT", zlib.compress(pixels, 1))
open(sys.argv[2], "wb").write(out + chunk(b"IEND", b""))
PY
cat >"$manifest" <<MANIFEST
version: 1
drop: demo
library: $library
source: {dir: $tmp/images, include: ["*.png", "*.jpg"]}
crop: {strategy: top_fraction, top_fraction: 0.30, aspect: "4:5", min_height: 700}
publish: {to: folder, vault: elena-ppv, price: 12.00, tags: [dress, portrait], caption: "New set, just for you"}
items:
  - {match: "ComfyUI_00004*", price: 20.00, tags: [dress, portrait, premium]}
MANIFEST
rc=0
"$binary" "$manifest" >"$tmp/run.log" 2>&1 </dev/null || rc=$?
if [ "$rc" != 3 ]; then
  cat "$tmp/run.log" >&2
  echo "run.sh: elena-run $manifest exited $rc; expected 3 (stopped at the review gate)" >&2
  exit 1
fi
"$binary" review "$manifest" --no-browser --port 0 >"$tmp/server.log" 2>&1 </dev/null &
server_pid=$!

# The server prints a line holding http://127.0.0.1:<port>/?token=<token>.
url=""
for _ in $(seq 300); do
  url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/?token=[^[:space:]"'"'"'<>]*' "$tmp/server.log" 2>/dev/null | head -n 1)
  [ -n "$url" ] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
  sleep 0.1
done
if [ -z "$url" ]; then
  cat "$tmp/server.log" >&2
  echo "run.sh: the review server printed no http://127.0.0.1:<port>/?token=... line within 30 s" >&2
  exit 1
fi
echo "review server: ${url%%\?*} (pid $server_pid)"

rc=0
REVIEW_URL=$url REVIEW_LIBRARY=$library REVIEW_MANIFEST=$manifest REVIEW_BINARY=$binary \
  REVIEW_SERVER_PID=$server_pid REVIEW_SCREENSHOTS=$root/.build/review-screenshots \
  REVIEW_ASSETS_FROM_DISK=$from_disk \
  PYTHONDONTWRITEBYTECODE=1 \
  "$python" -m pytest -p no:cacheprovider -s -v Tests/Browser/test_review.py "${pytest_args[@]+"${pytest_args[@]}"}" </dev/null \
  || rc=$?
if [ "$rc" != 0 ]; then
  echo "--- server log ($tmp/server.log):" >&2
  tail -n 40 "$tmp/server.log" >&2
fi
exit "$rc"
