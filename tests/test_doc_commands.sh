#!/usr/bin/env bash
# test_doc_commands.sh — the commands of README.md and docs/*.md run as written. Every ```sh block of a
# page runs, in order, in one bash -e shell per page, from the root of a scratch copy of the repository
# (docs, configs, scripts, examples, python; datasets/fashion-shop-sample linked) whose build/ is this
# build. docs/data.md has its own test with checks of its results (test_docs.sh); every page's plain
# ``` blocks are checked not to hold a command the test would miss. Args: BIN_DIR SOURCE_DIR.
#
# What differs from a user's shell, and why (nothing else is rewritten):
# - `make demo` / `make test` are CI's own entry points (this test runs inside `make test`): only their
#   recipes are checked (`make -n`).
# - build/bin/loom-train gets train.max_steps=8 put *before* the page's own arguments (which win), so
#   a page's training takes seconds; `--resume`, `--help*` and `--version` go through untouched.
# - build/bin/loom-serve starts the real server in the background on a free port (--port 0) and returns
#   once it listens; `curl` in a block is a shell function that sends localhost:PORT to that port and
#   fails on an HTTP error or an empty reply. The servers are stopped at the end.
# - The full datasets a page names (datasets/fashion-shop, datasets/fashion-mnist, datasets/spam) are the
#   committed sample and the tiny Fashion-MNIST and SpamAssassin fixtures, prepared by
#   scripts/prepare-data.sh; PREFIX (docs/python.md) is a scratch install of this build.
# - The runs README.md's commands start from (runs/demo-click, runs/demo-search) are trained first the
#   way scripts/demo.sh trains them, on the sample; new_rows.csv, test.csv and photo.{jpg,png} are rows and
#   a photo of the sample.
source "$2/tests/testlib.sh" "$@"
set -o pipefail
R=$TMP/root
BIN=$(cd "$BIN" && pwd)
# Not among them: docs/benchmarks.md, whose commands are the benchmarks themselves (minutes each, one with
# OPENBLAS_CORETYPE unset, which no test may do; scripts/bench.sh runs them), and docs/results.md, whose
# commands are scripts/results.sh's full-dataset runs (their configs' warm-up and schedules need the
# real datasets' size; the tiny fixtures give fewer updates than the warm-up).
PAGES=(README.md docs/training.md docs/inference.md docs/serving.md docs/python.md
       docs/checkpoint-format.md docs/architecture.md)

# 1. A plain ``` block must not hold a command: a line starting with build/bin/, loom-*, make, scripts/,
#    python3 or curl is a command unless it shows a synopsis (an upper-case placeholder such as CONFIG.ini,
#    RUN_DIR, CKPT, or [optional] parts), which no test could run as written.
for page in "${PAGES[@]}" docs/data.md; do
  [[ -f "$SRC/$page" ]] || fail "$page: missing (PAGES lists it)"
  awk -v page="$page" '
    /^```/ { if (!on) { on = 1; info = substr($0, 4); start = NR } else on = 0; next }
    on && info == "" && /^(\$ )?(build\/bin\/|loom-[a-z]+ [^0-9]|make [a-z]|scripts\/[a-z_-]+\.(sh|py)|\/usr\/bin\/python3 |curl )/ &&
      !/[A-Z][A-Z_]+[A-Z](\.ini|\b)|\[/ {
      printf "%s:%d: a command in a plain ``` block (line %d): mark the block ```sh so the docs test runs it, or show a synopsis\n  %s\n", page, start, NR, $0
      bad = 1
    }
    END { exit bad }' "$SRC/$page" || fail "$page: see above"
done

# 2. The scratch repository.
mkdir -p "$R/build/bin" "$R/datasets" "$R/runs"
cp -r "$SRC/docs" "$SRC/configs" "$SRC/scripts" "$SRC/examples" "$SRC/python" "$SRC/Makefile" "$R/"
mkdir -p "$R/tests" && cp -r "$SRC/tests/reference" "$R/tests/"
ln -s "$SRC/datasets/fashion-shop-sample" "$R/datasets/fashion-shop-sample"
ln -s "$SRC/datasets/fashion-shop-sample" "$R/datasets/fashion-shop"
ln -s "$BIN/../lib" "$R/build/lib"
for f in "$BIN"/*; do ln -s "$f" "$R/build/bin/$(basename "$f")"; done
rm "$R/build/bin/loom-train" "$R/build/bin/loom-serve"
cat > "$R/build/bin/loom-train" <<EOF
#!/usr/bin/env bash
case " \$* " in *" --resume "*|*" --help"*|*" --version "*) exec "$BIN/loom-train" "\$@" ;; esac
exec "$BIN/loom-train" --set train.max_steps=8 "\$@"
EOF
cat > "$R/build/bin/loom-serve" <<EOF
#!/usr/bin/env bash
# the page's port (default 8080) -> the free port the server got, in $R/.ports
want=8080 args=()
while [[ \$# -gt 0 ]]; do
  if [[ \$1 == --port ]]; then want=\$2; shift 2; else args+=("\$1"); shift; fi
done
log=$R/.serve-\$want.log
"$BIN/loom-serve" "\${args[@]}" --port 0 > "\$log" 2> "\$log.err" &
echo \$! >> $R/.pids
for _ in \$(seq 1 300); do grep -q 'listening on port' "\$log" && break; sleep 0.1; done
port=\$(sed -n 's/.*listening on port \([0-9]*\)\$/\1/p' "\$log")
[[ -n "\$port" ]] || { echo "loom-serve did not start:"; cat "\$log.err"; exit 1; }
echo "\$want \$port" >> $R/.ports
EOF
chmod +x "$R/build/bin/loom-train" "$R/build/bin/loom-serve"
trap '[[ -f $R/.pids ]] && kill $(cat "$R/.pids") 2>/dev/null; rm -rf "$TMP"' EXIT

cd "$R" || exit 1
S=datasets/fashion-shop-sample
LOOM_NO_INSTALL=1 LOOM_FASHION_MNIST_DIR="$SRC/tests/data/fashion-mnist-tiny" \
  scripts/prepare-data.sh fashion-mnist > "$TMP/prep.txt" 2>&1 || { cat "$TMP/prep.txt"; fail "prepare fashion-mnist"; }
LOOM_NO_INSTALL=1 LOOM_SPAM_SRC="$SRC/tests/data/spam-assassin" \
  scripts/prepare-data.sh spam > "$TMP/prep.txt" 2>&1 || { cat "$TMP/prep.txt"; fail "prepare spam"; }
for m in click:fashion-shop-click search:fashion-shop-retrieval; do
  build/bin/loom-train "configs/${m#*:}.ini" --set train.out="runs/demo-${m%%:*}-1" > "$TMP/t.txt" 2>&1 \
    || { cat "$TMP/t.txt"; fail "training runs/demo-${m%%:*}"; }
  ln -s "demo-${m%%:*}-1" "runs/demo-${m%%:*}"
done
head -6 $S/interactions.csv > new_rows.csv
grep ',test$' $S/interactions.csv | head -40 | cat <(head -1 $S/interactions.csv) - > test.csv
cp $S/images/i00003.png photo.png
cp "$SRC/tests/data/images/gray16x8.jpg" photo.jpg   # a real JPEG (loom-infer resizes it)
cmake --install "$BIN/.." --prefix "$TMP/prefix" > "$TMP/install.txt" 2>&1 || { cat "$TMP/install.txt"; fail "install"; }

# 3. Each page's sh blocks, in one shell, after a prelude: curl to the servers started, make checked only.
cat > "$TMP/prelude.sh" <<EOF
set -e
curl() {
  local a=() x
  for x in "\$@"; do
    while read -r want got; do x=\${x//localhost:\$want/127.0.0.1:\$got}; done < "$R/.ports"
    a+=("\$x")
  done
  local out; out=\$(command curl --fail-with-body -sS --max-time 30 "\${a[@]}") || { echo "\$out"; return 1; }
  [[ -n "\$out" ]] || { echo "curl \$*: empty reply"; return 1; }
  printf '%s\n' "\$out"
}
make() { command make -n "\$@" > /dev/null || { echo "make \$*: no such target"; return 1; }; }
EOF
: > "$R/.ports"
# a sanitizer build (make test-asan): programs built against the instrumented library link the sanitizer
# runtimes, and Python must load them before it loads libloom.so (as test_python.sh does)
SAN=
if readelf -d "$TMP/prefix/lib/libloom.so" | grep -q 'NEEDED.*libasan'; then
  export ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0:detect_leaks=0"; SAN="-fsanitize=address,undefined"
  cat >> "$TMP/prelude.sh" <<EOF
/usr/bin/python3() { LD_PRELOAD="$(cc -print-file-name=libasan.so) $(cc -print-file-name=libubsan.so)" command /usr/bin/python3 "\$@"; }
EOF
fi
ran=0
for page in "${PAGES[@]}"; do

  awk '/^```sh$/ {on = 1; n++; print "echo \"--- block " n "\""; next} /^```/ {on = 0; next} on' "$SRC/$page" \
    | sed "s#PREFIX#$TMP/prefix#g; s#^cc #cc $SAN #" > "$TMP/blocks.sh"
  n=$(grep -c '^echo "--- block' "$TMP/blocks.sh")
  [[ $n -gt 0 ]] || continue
  cat "$TMP/prelude.sh" "$TMP/blocks.sh" > "$TMP/page.sh"
  bash "$TMP/page.sh" > "$TMP/out.txt" 2>&1 \
    || { tail -30 "$TMP/out.txt"; fail "$page: a command failed (the last block started is above)"; }
  echo "$page: $n blocks ran"
  ran=$((ran + n))
done
[[ $ran -ge 10 ]] || fail "only $ran blocks ran"
echo "test_doc_commands.sh: $ran blocks ran"
