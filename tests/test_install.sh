#!/bin/bash
# test_install.sh — loom installed and used as a library from outside its tree: `cmake --install` into a
# temp prefix (libloom.so with its SONAME, libloom.a, include/loom, loom.pc, loomConfig.cmake, the apps),
# then examples/rank_products.c built against that prefix three ways — pkg-config (shared, and static
# with libloom.a and Libs.private), CMake find_package(loom) (loom::loom and loom::loom_static), and
# add_subdirectory(<source tree>) — each run on a ranking checkpoint trained here by the installed
# loom-train, and each printing the same ranking as the installed loom-infer.
# Args: BIN_DIR SOURCE_DIR.
source "$2/tests/testlib.sh" "$@"
BUILD=$(cd "$BIN/.." && pwd)
export GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-1000}
P=$TMP/prefix
cmake --install "$BUILD" --prefix "$P" > "$TMP/install.txt" 2>&1 || { cat "$TMP/install.txt"; fail "cmake --install"; }
for f in lib/libloom.so lib/libloom.a lib/pkgconfig/loom.pc lib/cmake/loom/loomConfig.cmake \
         lib/cmake/loom/loomConfigVersion.cmake lib/cmake/loom/loomTargets.cmake include/loom/loom.h \
         include/loom/infer.h bin/loom-train bin/loom-infer lib/loom/python/loom/__init__.py; do
  [ -e "$P/$f" ] || fail "not installed: $f"
done
soname=$(readelf -d "$P/lib/libloom.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = libloom.so.0 ] || fail "SONAME '$soname', want libloom.so.0"
[ -e "$P/lib/$soname" ] || fail "no $soname in lib/"
# public headers only: no module-private header (src/<module>/*.h) is installed
for h in "$SRC"/src/*/*.h; do
  [ -e "$P/include/loom/$(basename "$h")" ] && fail "private header $(basename "$h") installed"
done
[ "$(ls "$P/include/loom" | wc -l)" -eq "$(ls "$SRC"/include/loom/*.h | wc -l)" ] || fail "include/loom is not the public headers"

# a small ranking checkpoint, trained by the installed loom-train in the source tree (paths in the config)
"$P/bin/loom-train" configs/fashion-shop-ranking.ini --set text.embedding_dim=8 --set text.hidden=8 \
  --set image.filters=4,8 --set image.dense=16 --set fusion.dim=16 --set train.max_steps=20 --set train.epochs=1 \
  --set train.out="$TMP/rank" --quiet > "$TMP/t.txt" 2>&1 || { cat "$TMP/t.txt"; fail "installed loom-train"; }
CK=$TMP/rank/best.safetensors
# a sanitizer build (make test-asan): libloom.so needs libasan, which the example programs load after libc
# (ASAN_OPTIONS: the last setting of a flag wins, so ours go last), and a static link of its instrumented
# libloom.a needs the sanitizer runtimes at link time
SAN=""
if readelf -d "$P/lib/libloom.so" | grep -q 'NEEDED.*libasan'; then
  export ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0"
  SAN="-fsanitize=address,undefined"
fi
"$P/bin/loom-infer" rank "$CK" --user u00042 --query "black ankle boot" --top 5 --format csv > "$TMP/want.csv" 2>&1 ||
  { cat "$TMP/want.csv"; fail "installed loom-infer"; }
want=$(tail -n +2 "$TMP/want.csv" | cut -d, -f2 | head -5 | tr '\n' ' ')
check() { # name, program
  out=$("$2" "$CK" u00042 "black ankle boot" 2>&1) || fail "$1: the program failed: $out"
  got=$(echo "$out" | grep -v '^(' | awk '{print $2}' | tr '\n' ' ')
  [ "$got" = "$want" ] || fail "$1: ranked '$got', loom-infer ranked '$want'"
  echo "test_install: $1: $got"
}

# 1. pkg-config, shared and static
export PKG_CONFIG_PATH=$P/lib/pkgconfig
pkg-config --exists loom || fail "pkg-config does not find loom"
[ "$(pkg-config --modversion loom)" = "$(sed -n 's/^project(loom VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")" ] ||
  fail "loom.pc version $(pkg-config --modversion loom)"
cc -o "$TMP/rank_pc" "$SRC/examples/rank_products.c" $(pkg-config --cflags --libs loom) -Wl,-rpath,"$P/lib" \
  2> "$TMP/cc.txt" || { cat "$TMP/cc.txt"; fail "building against loom.pc"; }
readelf -d "$TMP/rank_pc" | grep -q 'NEEDED.*\[libloom.so.0\]' || fail "rank_pc does not link libloom.so.0"
check pkg-config "$TMP/rank_pc"
cc -o "$TMP/rank_pc_static" "$SRC/examples/rank_products.c" $(pkg-config --cflags loom) "$P/lib/libloom.a" \
  $(pkg-config --libs $(pkg-config --print-requires-private loom)) $(pkg-config --variable=libs_private loom) -fopenmp $SAN 2> "$TMP/cc.txt" || { cat "$TMP/cc.txt"; fail "static link with Libs.private"; }
readelf -d "$TMP/rank_pc_static" | grep -q 'libloom' && fail "rank_pc_static links libloom.so"
check "pkg-config --static" "$TMP/rank_pc_static"

# 2. CMake find_package(loom): shared and static imported targets
mkdir -p "$TMP/fp"
cp "$SRC/examples/rank_products.c" "$TMP/fp/"
cat > "$TMP/fp/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.20)
project(user_app LANGUAGES C)
find_package(loom 0.1 REQUIRED)
add_executable(rank rank_products.c)
target_link_libraries(rank PRIVATE loom::loom)
add_executable(rank_static rank_products.c)
target_link_libraries(rank_static PRIVATE loom::loom_static)
CM
cmake -S "$TMP/fp" -B "$TMP/fp/build" -DCMAKE_PREFIX_PATH="$P" -DCMAKE_BUILD_RPATH="$P/lib" -DCMAKE_EXE_LINKER_FLAGS="$SAN" \
  > "$TMP/fp.txt" 2>&1 &&
  cmake --build "$TMP/fp/build" -j2 >> "$TMP/fp.txt" 2>&1 || { tail -30 "$TMP/fp.txt"; fail "find_package(loom) build"; }
check "find_package loom::loom" "$TMP/fp/build/rank"
check "find_package loom::loom_static" "$TMP/fp/build/rank_static"

# 3. add_subdirectory(the source tree) + loom::loom, from a parent project
mkdir -p "$TMP/sub"
cp "$SRC/examples/rank_products.c" "$TMP/sub/"
cat > "$TMP/sub/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.20)
project(parent LANGUAGES C)
add_subdirectory("$SRC" loom)
add_executable(rank rank_products.c)
target_link_libraries(rank PRIVATE loom::loom)
CM
LAUNCH=(); command -v ccache > /dev/null && LAUNCH=(-DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake -S "$TMP/sub" -B "$TMP/sub/build" -DCMAKE_BUILD_TYPE=Release "${LAUNCH[@]}" > "$TMP/sub.txt" 2>&1 &&
  cmake --build "$TMP/sub/build" -j2 --target rank >> "$TMP/sub.txt" 2>&1 || { tail -30 "$TMP/sub.txt"; fail "add_subdirectory build"; }
check "add_subdirectory loom::loom" "$TMP/sub/build/rank"
echo "test_install: ok"
