#!/bin/bash
# test_docs.sh — the commands of docs/data.md run as written: every ```sh block, in order, in one shell
# from the repository root (build/bin is the build's bin directory), each block must succeed. What the
# page promises of the results is checked after it (the shop's test AUC, u04's top items). Args:
# BIN_DIR SOURCE_DIR.
set -u
BIN=$1
SRC=$2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
# A copy of the repository's docs and configs in a scratch root whose build/bin is this build's: the
# commands write runs/ there, never into the source tree.
mkdir -p "$TMP/root/build" && ln -s "$BIN" "$TMP/root/build/bin" && cp -r "$SRC/docs" "$SRC/configs" "$TMP/root/"
cd "$TMP/root" || exit 1
awk '/^```sh$/ {on = 1; n++; print "echo \"--- block " n "\""; next} /^```$/ {on = 0; next} on' docs/data.md > "$TMP/blocks.sh"
[ "$(grep -c '^echo "--- block' "$TMP/blocks.sh")" -ge 5 ] || fail "docs/data.md: fewer sh blocks than expected"
bash -e "$TMP/blocks.sh" > "$TMP/out.txt" 2>&1 || { tail -20 "$TMP/out.txt"; fail "a docs/data.md command failed"; }
# what the page says of the results
auc=$(tr -d '\n\t ' < runs/doc-shop/click/result.json | sed -n 's/.*"test":{[^}]*"auc":\([0-9.e-]*\).*/\1/p')
awk -v a="$auc" 'BEGIN {exit !(a > 0.85)}' || fail "the doc shop's test AUC is $auc, the page says about 0.91"
top=$(sed -n '/--- block 5/,$p' "$TMP/out.txt" | grep -o 'i[0-9][0-9]' | head -5)
for i in $top; do
  n=${i#i}; n=$((10#$n))
  [ $((n % 4)) -eq 0 ] || fail "u04's top 5 holds $i, not of its category: $(echo $top)"
done
[ -n "$top" ] || fail "no ranking printed: $(tail -5 "$TMP/out.txt")"
echo "ok"
