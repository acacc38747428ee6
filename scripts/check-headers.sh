#!/bin/sh
# Compiles res_cluster (its Rust bindings and its C shim) against the
# headers of other Asterisk versions, and fails where the declarations it
# uses differ from those of the Asterisk it is tested against.
#
#   scripts/check-headers.sh [ref ...]
#
# ref: a tag or branch of Asterisk's repository; by default the first and the
# newest release of each branch from 20 to 23, and master.
#
# ASTERISK_GIT: a clone of Asterisk's repository to read the headers from;
# by default one is cloned (without file contents until they are read) into
# ~/.cache/res_cluster/asterisk.git and fetched again on each run.
#
# A source tree's include/ lacks what configure and make generate
# (autoconfig.h, build.h, buildopts.h); those come from the sandbox's
# Asterisk 22 (make asterisk), as an Asterisk built with the same options
# would have them. The bindings are compared item by item with the
# sandbox's own: a difference in anything res_cluster uses is listed.
set -eu

cd "$(dirname "$0")/.."
root=$(pwd)
SANDBOX=${RES_CLUSTER_SANDBOX:-${XDG_CACHE_HOME:-$HOME/.cache}/res_cluster/sid-root}
generated="autoconfig.h build.h buildopts.h"
for f in $generated; do
    if [ ! -f "$SANDBOX/usr/include/asterisk/$f" ]; then
        echo "check-headers: no $SANDBOX/usr/include/asterisk/$f; run make asterisk first" >&2
        exit 1
    fi
done

if [ $# -eq 0 ]; then
    set -- 20.0.0 20.20.1 21.0.0 21.12.3 22.0.0 22.10.1 23.0.0 23.4.1 master
fi

git_dir=${ASTERISK_GIT:-}
if [ -z "$git_dir" ]; then
    git_dir=${XDG_CACHE_HOME:-$HOME/.cache}/res_cluster/asterisk.git
    if [ ! -d "$git_dir" ]; then
        git clone --bare --filter=blob:none https://github.com/asterisk/asterisk.git "$git_dir"
    else
        git -C "$git_dir" fetch --quiet --tags origin '+refs/heads/*:refs/heads/*'
    fi
fi

work=$root/target/headers
mkdir -p "$work"
export CARGO_TARGET_DIR="$work/cargo"

# The bindings generated from a set of headers, one item per line (a
# declaration bindgen wrote spans several lines; joined, they compare).
bindings_of() {
    out=$(ls -td "$CARGO_TARGET_DIR"/release/build/res_cluster-*/out | head -n 1)
    # bindgen numbers anonymous enums in the order it meets them: the number
    # is not part of the declaration.
    tr '\n' ' ' <"$out/bindings.rs" | sed 's/; *\(pub\|extern\|#\[\)/;\n\1/g; s/} *\(pub\|extern\|#\[\)/}\n\1/g' |
        sed 's/_bindgen_ty_[0-9]*/_bindgen_ty/g' | sort
}

# What the shim declares by hand, to look up at run time in modules that
# may be absent (res_pjsip, res_pjsip_outbound_publish): the header and the
# function. The declarations are compared as text with the sandbox's.
dlsym_used="res_pjsip.h:ast_sip_get_sorcery res_pjsip.h:ast_sip_create_request
res_pjsip.h:ast_sip_send_out_of_dialog_request res_pjsip.h:ast_sip_body res_pjsip_outbound_publish.h:ast_sip_publish_client_get
res_pjsip_outbound_publish.h:ast_sip_publish_client_send res_prometheus.h:prometheus_callback_register
res_prometheus.h:prometheus_callback_unregister res_pjsip_outbound_publish.h:ast_sip_publish_client_user_send
res_pjsip_outbound_publish.h:ast_sip_publish_client_remove res_pjsip_outbound_publish.h:ast_sip_register_event_publisher_handler
res_pjsip_outbound_publish.h:ast_sip_unregister_event_publisher_handler res_pjsip_outbound_publish.h:ast_sip_event_publisher_handler
res_pjsip_pubsub.h:ast_sip_register_publish_handler res_pjsip_pubsub.h:ast_sip_unregister_publish_handler
res_pjsip_pubsub.h:ast_sip_publication_get_endpoint res_pjsip_pubsub.h:ast_sip_publish_handler"

# The declaration of $2 in header $1: from the line naming it (as a
# function or a struct) to the ';' or '};' that ends it, blanks squeezed.
declaration() {
    awk -v name="$2" '
        !found && $0 !~ /^[ \t]*(\*|\/\*)/ && (index($0, name "(") || $0 ~ ("struct " name " {")) { found = 1 }
        found { text = text " " $0; if ($0 ~ /;[ \t]*$/ && (text !~ /\{/ || $0 ~ /^}/)) { print text; exit } }
    ' "$1" | tr -s ' \t' '  '
}

declarations_of() {
    for item in $dlsym_used; do
        printf '%s: %s\n' "$item" "$(declaration "$1/asterisk/${item%%:*}" "${item#*:}")"
    done
}

# And ast_sip_push_task with its three arguments, which the newer headers
# turn into a macro: res_pjsip must define the function.
push_task='int ast_sip_push_task(struct ast_taskprocessor *serializer, int (*sip_task)(void *), void *task_data)'
push_task_of() {
    if git -C "$git_dir" show "$1:res/res_pjsip.c" | grep -qF "$push_task"; then
        echo "res_pjsip.c: $push_task"
    else
        echo "res_pjsip.c: no $push_task"
    fi
}

declarations_of "$SANDBOX/usr/include" >"$work/reference.dlsym"
if grep -q ': *$' "$work/reference.dlsym"; then
    echo "check-headers: a declaration the shim looks up is not in the sandbox's headers:" >&2
    grep ': *$' "$work/reference.dlsym" >&2
    exit 1
fi

echo "== reference: the sandbox's headers"
ASTERISK_INCLUDE_DIR= cargo build --release --lib --quiet
bindings_of >"$work/reference.items"
cat "$work/reference.dlsym" >>"$work/reference.items"
echo "res_pjsip.c: $push_task" >>"$work/reference.items"

failed=""
for ref in "$@"; do
    dir=$work/$ref
    rm -rf "$dir"
    mkdir -p "$dir"
    if ! git -C "$git_dir" archive "$ref" include | tar -x -C "$dir"; then
        echo "check-headers: no $ref in $git_dir" >&2
        failed="$failed $ref"
        continue
    fi
    for f in $generated; do
        cp "$SANDBOX/usr/include/asterisk/$f" "$dir/include/asterisk/$f"
    done
    echo "== $ref"
    if ASTERISK_INCLUDE_DIR="$dir/include" cargo build --release --lib --quiet; then
        bindings_of >"$dir/items"
        declarations_of "$dir/include" >>"$dir/items"
        push_task_of "$ref" >>"$dir/items"
        if diff "$work/reference.items" "$dir/items" >"$dir/items.diff"; then
            echo "$ref: compiles; every declaration res_cluster uses is the same"
        else
            echo "$ref: compiles, but declarations differ (< sandbox, > $ref):"
            cat "$dir/items.diff"
            failed="$failed $ref"
        fi
    else
        echo "$ref: DOES NOT COMPILE"
        failed="$failed $ref"
    fi
done

if [ -n "$failed" ]; then
    echo "check-headers: failed for$failed" >&2
    exit 1
fi
