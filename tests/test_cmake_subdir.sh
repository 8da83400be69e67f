#!/bin/bash
# test_cmake_subdir.sh — loom as a part of another CMake project: an outer project in a temp dir does
# add_subdirectory(<this repository>) and target_link_libraries(app loom), builds only that target, and
# runs it. Checks that loom leaves the outer project's settings alone (no forced build type, no output
# folders, no tests or apps of loom's by default). Args: BIN_DIR SOURCE_DIR.
set -u
SRC=$2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
mkdir -p "$TMP/outer"
cat > "$TMP/outer/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.20)
project(outer LANGUAGES C)
add_subdirectory("$SRC" loom)
add_executable(app app.c)
target_link_libraries(app loom)
if(TARGET test_trainer OR TARGET loom-train OR TARGET bench_gemm)
  message(FATAL_ERROR "loom built its tests, apps or benchmarks inside another project")
endif()
if(CMAKE_BUILD_TYPE)
  message(FATAL_ERROR "loom set the outer project's CMAKE_BUILD_TYPE to '\${CMAKE_BUILD_TYPE}'")
endif()
CM
cat > "$TMP/outer/app.c" <<'C'
#include <stdio.h>
#include "loom/loom.h"
int main(void) {
  loom_rng r;
  loom_rng_seed(&r, 42);
  printf("loom %s from an outer project: %.6f\n", loom_version(), (double)loom_rng_uniform(&r));
  return 0;
}
C
cmake -S "$TMP/outer" -B "$TMP/build" > "$TMP/configure.txt" 2>&1 || { cat "$TMP/configure.txt"; fail "configure"; }
cmake --build "$TMP/build" -j2 --target app > "$TMP/build.txt" 2>&1 || { tail -30 "$TMP/build.txt"; fail "build"; }
[ -x "$TMP/build/app" ] || fail "the app is not in the outer project's own build folder"
out=$("$TMP/build/app") || fail "the app failed: $out"
echo "$out" | grep -q '^loom .* from an outer project: 0\.' || fail "output: $out"
echo "test_cmake_subdir: $out"
