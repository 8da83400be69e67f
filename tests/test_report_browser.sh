#!/bin/bash
# test_report_browser.sh — report.html and loom-compare's page as a browser shows them: headless
# Chromium (Debian's chromium) loads each page from disk, must log no script or console error, its DOM
# must hold the charts (one per metric family, ROC and precision-recall for a binary task), the
# validations table and the config, and it must render a screenshot (kept as $SHOTS/*.png when SHOTS
# is set, for a look by eye). Args: BIN_DIR SOURCE_DIR.
source "$2/tests/testlib.sh" "$@"
command -v chromium > /dev/null || fail "chromium is not installed — run scripts/install-deps.sh"
SMALL+=(--set train.max_steps=60 --set train.eval_every=20)
"$BIN/loom-train" configs/fashion-shop-click.ini "${SMALL[@]}" --sweep train.lr=0.002,0.01 --set train.out="$TMP/sw" \
  > "$TMP/out.txt" 2>&1 || { cat "$TMP/out.txt"; fail "training"; }

# browse PAGE NAME: DOM into $TMP/NAME.dom, screenshot into $TMP/NAME.png, browser log into $TMP/NAME.log
browse() {
  local page=$1 name=$2
  timeout 120 chromium --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$TMP/profile" \
    --enable-logging=stderr --v=0 --dump-dom "file://$page" > "$TMP/$name.dom" 2> "$TMP/$name.log" ||
    fail "chromium could not load $page: $(tail -3 "$TMP/$name.log")"
  timeout 120 chromium --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$TMP/profile" \
    --hide-scrollbars --window-size=1300,2200 --screenshot="$TMP/$name.png" "file://$page" >> "$TMP/$name.log" 2>&1 ||
    fail "chromium could not screenshot $page: $(tail -3 "$TMP/$name.log")"
  grep -Ei 'CONSOLE|Uncaught|SyntaxError|ReferenceError' "$TMP/$name.log" && fail "$name: the browser logged an error"
  [ "$(head -c 8 "$TMP/$name.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "$name: no PNG screenshot"
  [ "$(stat -c %s "$TMP/$name.png")" -gt 30000 ] || fail "$name: the screenshot is nearly empty"
  if [ -n "${SHOTS:-}" ]; then mkdir -p "$SHOTS" && cp "$TMP/$name.png" "$SHOTS/"; fi
}

report="$TMP/sw/lr=0.01/report.html"
browse "$report" report
dom="$TMP/report.dom"
grep -q "<title>loom-train run lr=0.01</title>" "$dom" || fail "report: run name not in the title"
for family in loss auc logloss accuracy precision recall f1 lr samples_per_s ROC precision-recall; do
  grep -q "class=\"ct\">$family</text>" "$dom" || fail "report: no '$family' chart in the DOM"
done
[ "$(grep -o '<svg' "$dom" | wc -l)" -eq 12 ] || fail "report: expected 12 charts (gauc is one)"
grep -q "<h2>Validations (metrics.csv)</h2>" "$dom" || fail "report: no validations table"
grep -q "class=\"best\"" "$dom" || fail "report: no best-step mark"
grep -q "<summary>Config" "$dom" || fail "report: no config"
grep -q "validation at step 60, AUC 0\.[0-9]*" "$dom" || fail "report: ROC note"

# a retrieval run's report shows searches: the query, the top items as thumbnails, the query's own item
"$BIN/loom-train" configs/fashion-shop-retrieval.ini --set data.max_len=8 --set text.embedding_dim=8 --set text.hidden=8 \
  --set image.filters=4,8 --set image.dense=16 --set train.max_steps=10 --quiet --set train.out="$TMP/ret" \
  > "$TMP/out.txt" 2>&1 || { cat "$TMP/out.txt"; fail "retrieval training"; }
browse "$TMP/ret/report.html" retrieval
[ "$(grep -o '<p><b>search</b>, query “[^”]*”' "$TMP/retrieval.dom" | wc -l)" -eq 3 ] || fail "retrieval report: no 3 searches"
grep -q "the query's item: .*(rank [0-9]*\|not in the top 10)" "$TMP/retrieval.dom" || fail "retrieval report: no item note"
[ "$(grep -o '<img alt="" src="data:image/png;base64,' "$TMP/retrieval.dom" | wc -l)" -ge 3 ] || fail "retrieval report: no thumbnails"

browse "$TMP/sw/compare.html" compare
grep -q "<h2>Config differences</h2>" "$TMP/compare.dom" || fail "compare: no config differences"
grep -q "class=\"lg\">lr=0.002" "$TMP/compare.dom" || fail "compare: curves do not name the runs"
echo "ok"
