#!/bin/sh
# Unmounts what the tests mounted inside the sandbox (/proc, /dev), so that a
# test run leaves the host's mount table as it found it. Nodes must be gone.
set -eu
SANDBOX=${RES_CLUSTER_SANDBOX:-${XDG_CACHE_HOME:-$HOME/.cache}/res_cluster/sid-root}
for m in dev proc; do
    if mountpoint -q "$SANDBOX/$m" 2>/dev/null; then
        umount "$SANDBOX/$m" 2>/dev/null || umount -l "$SANDBOX/$m"
    fi
done
