#!/usr/bin/env bash
# test_layering.sh — the module boundaries (docs/architecture.md), checked on every include.
# CMake writes build/layering.txt from the module declarations (src/<module>/CMakeLists.txt): which
# public headers each module owns and which modules it may use (its DEPS, transitively). Here:
#  1. the declared arrows never contain a forbidden one (so a violation cannot be "fixed" by a DEPS);
#  2. every public header in include/loom/ is owned by exactly one module;
#  3. every `#include "loom/X.h"` in a module's sources and public headers names a header of that
#     module or of one it may use; every other quoted include is one of the module's own files;
#  4. nothing below apps/ includes anything from apps/.
# Usage: test_layering.sh BIN_DIR SOURCE_DIR
set -u
bin=$1 src=$2
map="$bin/../layering.txt"
[ -f "$map" ] || { echo "FAIL: $map is missing (CMake writes it)"; exit 1; }
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

declare -A allowed owner
while read -r kind a b rest; do
  case "$kind" in
  module) allowed[$a]=" $a $b $rest " ;;
  header) [ -n "${owner[$b]:-}" ] && fail "$b is claimed by modules ${owner[$b]} and $a"; owner[$b]=$a ;;
  esac
done < <(grep -v '^#' "$map")

# 1. forbidden arrows (the issue's rules, and the one-way data flow)
forbid() { # module, modules it must never reach
  local m=$1; shift
  for f in "$@"; do
    case "${allowed[$m]:-}" in *" $f "*) fail "module $m is declared to use $f, which it must not (src/$m/CMakeLists.txt)" ;; esac
  done
}
forbid base autograd layers data io model train infer serve
forbid autograd layers data io model train infer serve
forbid layers data io model train infer serve
forbid data autograd layers io model train infer serve
forbid io data layers model train infer serve
forbid model train infer serve
forbid train infer serve
forbid infer train serve
forbid serve train capi

# 2. every public header has one owner
for h in "$src"/include/loom/*.h; do
  n="loom/$(basename "$h")"
  [ -n "${owner[$n]:-}" ] || fail "$n belongs to no module: list it in HEADERS of the module that implements it"
done

# 3. includes
check_file() { # file, module
  local f=$1 m=$2 line inc own
  while IFS= read -r line; do
    inc=${line#*\"}; inc=${inc%%\"*}
    case "$inc" in
    loom/*)
      own=${owner[$inc]:-}
      if [ -z "$own" ]; then fail "${f#$src/} includes $inc, which is no module's public header"
      elif [[ "${allowed[$m]}" != *" $own "* ]]; then fail "${f#$src/} (module $m) includes $inc of module $own: $m may use only${allowed[$m]}"; fi ;;
    *)
      [ -f "$src/src/$m/$inc" ] || [ -f "$(dirname "$f")/$inc" ] || fail "${f#$src/} (module $m) includes \"$inc\", which is not a file of src/$m: use the owning module's public header" ;;
    esac
  done < <(grep -h '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f")
}
for m in "${!allowed[@]}"; do
  [ -d "$src/src/$m" ] || { fail "module $m has no folder src/$m"; continue; }
  for f in "$src/src/$m"/*.c "$src/src/$m"/*.h "$src/src/$m"/*/*.c "$src/src/$m"/*/*.h; do
    [ -f "$f" ] && check_file "$f" "$m"
  done
done
for h in "$src"/include/loom/*.h; do
  n="loom/$(basename "$h")"
  m=${owner[$n]:-}
  [ -n "$m" ] && [ "$m" != apps ] && check_file "$h" "$m"
done
for d in "$src"/src/*/; do
  m=$(basename "$d")
  [ -n "${allowed[$m]:-}" ] || fail "src/$m is no module: declare it with loom_module() in src/$m/CMakeLists.txt"
done

# 4. nothing below apps includes apps
if grep -rn --include='*.[ch]' -E '#[[:space:]]*include[[:space:]]*"[^"]*apps/' "$src/src" "$src/include"; then
  fail "library code includes an app's file"
fi

if [ "$fails" -gt 0 ]; then echo "layering: $fails violation(s)"; exit 1; fi
echo "layering: every include of $(ls "$src"/src/*/*.[ch] "$src"/include/loom/*.h | wc -l) files follows the module arrows"
