#!/bin/sh
# Fuzzes the argument parser, the configuration reader and the caller ID
# written into Dial's options with cargo fuzz (libFuzzer), each for the given
# seconds (default 300). Each target starts from the hand-written seeds in
# fuzz/seeds/<target> and keeps what it learns in build/fuzz-corpus/<target>
# (shrunk with cargo fuzz cmin after each run; not kept in git). Any crash
# fails the run; its input is left in fuzz/artifacts.
set -eu

cd "$(dirname "$0")/.."
seconds=${1:-300}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

# cargo fuzz asks rustc for flags that only nightly accepts; a stable
# toolchain allows them when told it is building itself.
if ! rustc --version | grep -q nightly; then
    export RUSTC_BOOTSTRAP=1
fi

for target in args config callerid; do
    echo "fuzz: $target for $seconds s" >&2
    corpus="build/fuzz-corpus/$target"
    mkdir -p "$corpus"
    cp -n "fuzz/seeds/$target/"* "$corpus/"
    # cargo fuzz resolves the corpus from fuzz/.
    cargo fuzz run --sanitizer address "$target" "$PWD/$corpus" -- \
        -max_total_time="$seconds" -max_len=4096 -print_final_stats=1
    cargo fuzz cmin --sanitizer address "$target" "$PWD/$corpus" >/dev/null 2>&1
done
echo "fuzz: no crash; corpus in build/fuzz-corpus" >&2
