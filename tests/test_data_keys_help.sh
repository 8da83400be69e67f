#!/usr/bin/env bash
# test_data_keys_help.sh — every [data] key of the table (src/data/schema.c) is in `loom-train --help-config`
# with a doc line. The key list is taken from loom-train's own unknown-key message, which the table generates.
set -u
BIN=$1
SRC=$2
cd "$SRC" || exit 1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
printf '[data]\nzzzzzzzzzz = 1\n' > "$TMP/bad.ini"
"$BIN/loom-train" "$TMP/bad.ini" > "$TMP/err.txt" 2>&1 && fail "unknown [data] key accepted"
keys=$(sed -n 's/.*valid keys: //p' "$TMP/err.txt" | tr -d ' ' | tr ',' ' ')
[ -n "$keys" ] || fail "no key list in: $(cat "$TMP/err.txt")"
"$BIN/loom-train" --help-config > "$TMP/help.txt" || fail "--help-config failed"
sed -n '/^\[data\] keys/,/^$/p' "$TMP/help.txt" > "$TMP/data.txt"
n=0
for k in $keys; do
  line=$(grep -n "^  $k " "$TMP/data.txt" | head -1 | cut -d: -f1)
  [ -n "$line" ] || fail "[data] $k is not in --help-config"
  doc=$(sed -n "$((line + 1))p" "$TMP/data.txt")
  [[ "$doc" =~ ^\ \ \ \ \ \ [^\ ] ]] || fail "[data] $k has no doc line in --help-config"
  n=$((n + 1))
done
[ "$n" -ge 50 ] || fail "only $n [data] keys listed"
listed=$(grep -c '^  [a-z_][a-z_]* ' "$TMP/data.txt")
[ "$listed" -eq "$n" ] || fail "--help-config lists $listed [data] keys, the table has $n"
echo "ok: $n [data] keys, each with a doc line"
