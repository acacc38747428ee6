#!/bin/sh
# Runs every test binary of the pure core under valgrind's memcheck: any
# memory error or definite leak fails it.
set -eu
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null 2>&1 || scripts/deps.sh valgrind
bins=$(cargo test -p res_cluster_core --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\))$/\1/p')
[ -n "$bins" ] || { echo "unit-memcheck: no test binaries found" >&2; exit 1; }
for bin in $bins; do
    echo "unit-memcheck: $bin" >&2
    valgrind -q --error-exitcode=1 --leak-check=full --show-possibly-lost=no --errors-for-leak-kinds=definite \
        "$bin" -q --test-threads=1
done
