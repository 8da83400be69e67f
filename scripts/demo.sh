#!/usr/bin/env bash
# make demo: until the full pipeline lands, the core demo: train an MLP on two spirals and plot it.
set -euo pipefail
bin="${1:-build/bin}"
"$bin/loom-spiral"
