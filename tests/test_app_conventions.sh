#!/usr/bin/env bash
# test_app_conventions.sh — the command-line conventions every loom app shares (getopt_long): --version
# prints "loom <tool> <version>" (the project version), --help prints the usage on stdout and exits 0,
# an unknown flag or a flag without its value exits 2 with a message naming the flag. loom-infer is
# checked by tests/test_infer_app.sh. Args: BIN_DIR SRC_DIR.
set -uo pipefail
bin="$1"; src="$2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
version=$(sed -n 's/^project(loom VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[[ -n "$version" ]] || fail "no project version in CMakeLists.txt"

# expect_rc RC OUTFILE CMD...: runs CMD (stdout and stderr into OUTFILE), checks its exit status.
expect_rc() {
  local want=$1 out=$2; shift 2
  "$@" > "$out" 2>&1 < /dev/null
  local rc=$?
  [[ $rc -eq $want ]] || fail "'$*' exited $rc, expected $want: $(head -c 400 "$out")"
}

for tool in data train spiral compare serve export; do
  app="$bin/loom-$tool"
  [[ -x "$app" ]] || fail "$app not built"
  expect_rc 0 "$tmp/v" "$app" --version
  [[ "$(cat "$tmp/v")" == "loom $tool $version" ]] || fail "loom-$tool --version printed '$(cat "$tmp/v")'"
  "$app" --help > "$tmp/h" 2> "$tmp/h.err" || fail "loom-$tool --help failed"
  grep -q '^usage: loom-'"$tool" "$tmp/h" || fail "loom-$tool --help: no usage on stdout"
  [[ ! -s "$tmp/h.err" ]] || fail "loom-$tool --help wrote to stderr"
  grep -q -- '--version' "$tmp/h" || fail "loom-$tool --help does not mention --version"
  expect_rc 2 "$tmp/u" "$app" --no-such-flag
  grep -q "loom-$tool: unknown option '--no-such-flag'" "$tmp/u" || fail "loom-$tool: unknown flag not named: $(cat "$tmp/u")"
done

# A flag that needs a value, given none: named, exit 2.
expect_rc 2 "$tmp/m" "$bin/loom-train" configs.ini --set
grep -q "loom-train: --set needs a value" "$tmp/m" || fail "loom-train --set: $(cat "$tmp/m")"
expect_rc 2 "$tmp/m" "$bin/loom-spiral" --epochs
grep -q "loom-spiral: --epochs needs a value" "$tmp/m" || fail "loom-spiral --epochs: $(cat "$tmp/m")"
# A value given to a flag that takes none, and an unknown short option (even inside a cluster).
expect_rc 2 "$tmp/m" "$bin/loom-spiral" --quiet=1
grep -q "loom-spiral: --quiet takes no value" "$tmp/m" || fail "loom-spiral --quiet=1: $(cat "$tmp/m")"
expect_rc 2 "$tmp/m" "$bin/loom-train" x.ini --quiet=yes
grep -q "loom-train: --quiet takes no value" "$tmp/m" || fail "loom-train --quiet=yes: $(cat "$tmp/m")"
expect_rc 2 "$tmp/m" "$bin/loom-spiral" --seed 3 -xq
grep -q "loom-spiral: unknown option '-x'" "$tmp/m" || fail "loom-spiral -xq: $(cat "$tmp/m")"
# Bad values name the flag, exit 2.
expect_rc 2 "$tmp/b" "$bin/loom-spiral" --hidden=zero
grep -q "loom-spiral: bad value 'zero' for --hidden" "$tmp/b" || fail "loom-spiral --hidden=zero: $(cat "$tmp/b")"
expect_rc 2 "$tmp/b" "$bin/loom-spiral" --batch 5000
grep -q "for --batch" "$tmp/b" || fail "loom-spiral --batch 5000: $(cat "$tmp/b")"
# loom-data: no command, or an unknown one, is a usage error (2); a command's own bad option is
# reported as a conversion error (1, as tests/test_datasets.c has always expected), naming the flag.
expect_rc 2 "$tmp/d" "$bin/loom-data"
grep -q '^usage: loom-data' "$tmp/d" || fail "loom-data without a command: $(cat "$tmp/d")"
expect_rc 2 "$tmp/d" "$bin/loom-data" mnist
grep -q "loom-data: unknown command 'mnist'" "$tmp/d" || fail "loom-data mnist: $(cat "$tmp/d")"
expect_rc 1 "$tmp/d" "$bin/loom-data" hm --src "$tmp" --out "$tmp/o" --negatives
grep -q "loom-data: option --negatives needs a value" "$tmp/d" || fail "loom-data hm --negatives: $(cat "$tmp/d")"
expect_rc 1 "$tmp/d" "$bin/loom-data" spam --src "$tmp" --out "$tmp/o" --max-bytes=3
grep -q "loom-data: --max-bytes '3': expected an integer in \[16, 100000000\]" "$tmp/d" || fail "loom-data --max-bytes=3: $(cat "$tmp/d")"
expect_rc 1 "$tmp/d" "$bin/loom-data" spam --src "$tmp" --out "$tmp/o" --keep-headers=1
grep -q "loom-data: option --keep-headers takes no value" "$tmp/d" || fail "loom-data --keep-headers=1: $(cat "$tmp/d")"
# --version and --help win wherever they stand (as --help always did).
expect_rc 0 "$tmp/v" "$bin/loom-data" hm --src "$tmp" --version
[[ "$(cat "$tmp/v")" == "loom data $version" ]] || fail "loom-data hm --version: $(cat "$tmp/v")"
expect_rc 0 "$tmp/v" "$bin/loom-train" configs.ini --version
[[ "$(cat "$tmp/v")" == "loom train $version" ]] || fail "loom-train CONFIG --version: $(cat "$tmp/v")"
# loom-train CONFIG --print-model: the model layer by layer and its totals, no run directory; a bad
# config is named; --resume does not go with it.
(cd "$src" && expect_rc 0 "$tmp/pm" "$bin/loom-train" configs/fashion-shop-click.ini --print-model \
  --set text.hidden=8 --set train.out="$tmp/never")
grep -q '^node  op ' "$tmp/pm" || fail "--print-model: no node table: $(head -c 300 "$tmp/pm")"
grep -q 'text.lstm.weight_hh_l0 .*(32, 8) .* 256$' "$tmp/pm" || fail "--print-model: the LSTM's W_hh for hidden 8 is not (32, 8), 256 parameters"
grep -q 'parameters' "$tmp/pm" || fail "--print-model: no totals"
[[ ! -e "$tmp/never" ]] || fail "--print-model wrote a run directory"
(cd "$src" && expect_rc 1 "$tmp/pm" "$bin/loom-train" configs/fashion-shop-click.ini --print-model --set data.label_col=nope)
grep -q "nope" "$tmp/pm" || fail "--print-model with a bad column: $(cat "$tmp/pm")"
expect_rc 2 "$tmp/pm" "$bin/loom-train" --resume "$tmp" --print-model
grep -q -- "--print-model takes a CONFIG file" "$tmp/pm" || fail "--print-model --resume: $(cat "$tmp/pm")"
# loom-export: a format it does not write, missing operands, a checkpoint that is not one (exit 1, the file
# named, nothing written)
expect_rc 2 "$tmp/e" "$bin/loom-export" tflite a.safetensors b.tflite
grep -q "loom-export: unknown format 'tflite'" "$tmp/e" || fail "loom-export tflite: $(cat "$tmp/e")"
expect_rc 2 "$tmp/e" "$bin/loom-export" onnx a.safetensors
grep -q "loom-export onnx: give a checkpoint and an output file" "$tmp/e" || fail "loom-export onnx CKPT: $(cat "$tmp/e")"
echo "not a checkpoint" > "$tmp/bad.safetensors"
expect_rc 1 "$tmp/e" "$bin/loom-export" onnx "$tmp/bad.safetensors" "$tmp/out.onnx"
grep -q "bad.safetensors" "$tmp/e" || fail "loom-export on a bad checkpoint: $(cat "$tmp/e")"
[[ ! -e "$tmp/out.onnx" ]] || fail "loom-export on a bad checkpoint wrote $tmp/out.onnx"
echo "test_app_conventions.sh: all checks passed"
