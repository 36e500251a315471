#!/usr/bin/env bash
# Kept as an alias: benchmarks/gpu_check.sh is the one GPU entry point.
exec "$(dirname "$0")/../benchmarks/gpu_check.sh" "$@"
