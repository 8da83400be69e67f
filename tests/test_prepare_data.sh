#!/usr/bin/env bash
# test_prepare_data.sh — scripts/prepare-data.sh: runs loom-data, is idempotent (a second run with the same
# command does nothing, a different command reruns), and falls back to the committed fashion-shop sample
# when Fashion-MNIST is unavailable. Never installs anything (LOOM_NO_INSTALL). Args: BIN_DIR SRC_DIR.
set -euo pipefail
bin="$1"; src="$2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LOOM_DATA="$bin/loom-data" LOOM_NO_INSTALL=1
prep="$src/scripts/prepare-data.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }

# fashion-mnist from the tiny fixture, twice: the second run is a no-op.
export LOOM_FASHION_MNIST_DIR="$src/tests/data/fashion-mnist-tiny"
"$prep" fashion-mnist "$tmp/fm" > "$tmp/log1"
grep -q "train: 30 images" "$tmp/log1" || fail "first run did not convert: $(cat "$tmp/log1")"
[[ $(wc -l < "$tmp/fm/train.csv") -eq 31 && $(wc -l < "$tmp/fm/test.csv") -eq 11 ]] || fail "row counts"
"$prep" fashion-mnist "$tmp/fm" > "$tmp/log2"
grep -q "is up to date" "$tmp/log2" || fail "second run was not skipped: $(cat "$tmp/log2")"

# A different command (new seed) reruns; the same again is skipped.
"$prep" fashion-shop "$tmp/shop" --items 50 --users 10 --interactions 400 --seed 3 > "$tmp/log3"
grep -q "seed 3: 50 items" "$tmp/log3" || fail "fashion-shop did not run: $(cat "$tmp/log3")"
"$prep" fashion-shop "$tmp/shop" --items 50 --users 10 --interactions 400 --seed 4 > "$tmp/log4"
grep -q "seed 4: 50 items" "$tmp/log4" || fail "changed options did not rerun"
"$prep" fashion-shop "$tmp/shop" --items 50 --users 10 --interactions 400 --seed 4 > "$tmp/log5"
grep -q "is up to date" "$tmp/log5" || fail "unchanged options reran"

# No Fashion-MNIST at all: the committed sample is used.
LOOM_FASHION_MNIST_DIR="$tmp/none" "$prep" fashion-shop "$tmp/fallback" 2> "$tmp/log6"
grep -q "using the committed sample" "$tmp/log6" || fail "no fallback message"
for f in items.csv users.csv interactions.csv; do
  cmp -s "$tmp/fallback/$f" "$src/datasets/fashion-shop-sample/$f" || fail "fallback $f differs from the sample"
done

# spam from the tiny npm-format fixture.
LOOM_SPAM_SRC="$src/tests/data/spam-assassin" "$prep" spam "$tmp/spam" > "$tmp/log7"
grep -q "10 messages (5 spam)" "$tmp/log7" || fail "spam: $(cat "$tmp/log7")"
head -1 "$tmp/spam/spam.csv" | grep -qx "text,label,split,source" || fail "spam header"

# Usage errors.
if "$prep" mnist 2> "$tmp/log8"; then fail "unknown dataset accepted"; fi
grep -q "usage:" "$tmp/log8" || fail "no usage message"
echo "test_prepare_data.sh: all checks passed"
