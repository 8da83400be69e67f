#!/usr/bin/env bash
# test_serve_app.sh — the loom-serve binary: starts on a free loopback port (--port 0, printed), answers
# /healthz and /v1/rank (bash's /dev/tcp: no HTTP client needed), reloads on SIGHUP (log line, version
# 2), refuses bad flags with exit 2, a missing checkpoint with exit 1 naming it, and stops cleanly (exit
# 0) on SIGTERM. Args: BIN_DIR SRC_DIR.
source "$2/tests/testlib.sh" "$@"
set -o pipefail
bin=$BIN; src=$SRC; tmp=$TMP; pid=
trap '[[ -n "$pid" ]] && kill "$pid" 2>/dev/null; rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; [[ -f "$tmp/err" ]] && cat "$tmp/err" >&2; exit 1; }
S=$src/datasets/fashion-shop-sample
"$bin/loom-train" "$src/configs/fashion-shop-ranking.ini" --set data.interactions=$S/interactions.csv \
  --set data.items=$S/items.csv --set data.users=$S/users.csv --set data.image_root=$S --set text.embedding_dim=8 \
  --set text.hidden=8 --set image.filters=4,8 --set image.dense=16 --set fusion.dim=16 --set train.epochs=1 \
  --set train.max_steps=4 --set train.prefetch=false --set train.out="$tmp/run" > "$tmp/train.log" 2>&1 \
  || { cat "$tmp/train.log"; fail "training"; }
ck=$tmp/run/best.safetensors

"$bin/loom-serve" "$ck" --port 70000 > "$tmp/o" 2>&1; [[ $? -eq 2 ]] || fail "--port 70000 not a usage error"
grep -q "loom-serve: --port 70000" "$tmp/o" || fail "--port 70000: $(cat "$tmp/o")"
"$bin/loom-serve" "$tmp/none.safetensors" --port 0 > "$tmp/o" 2>&1; [[ $? -eq 1 ]] || fail "missing checkpoint: not exit 1"
grep -q "none.safetensors" "$tmp/o" || fail "missing checkpoint not named: $(cat "$tmp/o")"
"$bin/loom-serve" "$ck" --bind not-an-address --port 0 > "$tmp/o" 2>&1; [[ $? -eq 1 ]] || fail "--bind garbage accepted"

"$bin/loom-serve" "$ck" --port 0 --threads 2 > "$tmp/out" 2> "$tmp/err" &
pid=$!
for _ in $(seq 1 200); do grep -q 'listening on port' "$tmp/out" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on port \([0-9]*\)$/\1/p' "$tmp/out")
[[ -n "$port" ]] || fail "no port printed"
grep -q "on http://127.0.0.1:$port" "$tmp/err" || fail "not bound to loopback by default"
req() { # METHOD PATH BODY: the whole reply
  exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
  printf '%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s' "$1" "$2" "${#3}" "$3" >&3
  cat <&3; exec 3<&-
}
req GET /healthz "" | grep -q '{"status":"ok"}' || fail "/healthz"
req POST /v1/rank '{"user":"u00004","top":3}' | grep -q '"personalised":true' || fail "/v1/rank"
req POST /v1/rank '{"user":"u00004","top":3,"x":1}' | grep -q "HTTP/1.1 400" || fail "unknown field not a 400"
kill -HUP "$pid"
for _ in $(seq 1 100); do grep -q 'reloaded: version 2' "$tmp/err" && break; sleep 0.1; done
grep -q 'reloaded: version 2' "$tmp/err" || fail "SIGHUP did not reload"
req GET /readyz "" | grep -q '"model_version":2' || fail "/readyz after SIGHUP"
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
[[ $rc -eq 0 ]] || fail "SIGTERM: exit $rc"
echo "test_serve_app.sh: all checks passed"
