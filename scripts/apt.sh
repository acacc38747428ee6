# Sourced by the set-up scripts: apt-get that waits, with a bound, while
# another package manager holds apt's or dpkg's lock (a fresh machine often
# runs its own apt at boot), and says what it waits for.
#
#   RES_CLUSTER_APT_WAIT   seconds to wait for the lock in all (default 600)

APT_WAIT=${RES_CLUSTER_APT_WAIT:-600}

# apt_get ARGS...: apt-get ARGS, as root, non-interactive. While the lock is
# held it retries every 5 s and says who holds it; it gives up, saying so,
# after APT_WAIT seconds.
apt_get() {
    apt_deadline=$(( $(date +%s) + APT_WAIT ))
    apt_err=$(mktemp)
    while :; do
        if DEBIAN_FRONTEND=noninteractive apt-get "$@" 2>"$apt_err"; then
            cat "$apt_err" >&2
            rm -f "$apt_err"
            return 0
        fi
        if ! grep -q -e "Could not get lock" -e "Unable to lock" -e "Unable to acquire the dpkg frontend lock" "$apt_err"; then
            cat "$apt_err" >&2
            rm -f "$apt_err"
            return 1
        fi
        apt_holder=$(grep -o "held by process [0-9]* ([^)]*)" "$apt_err" | head -n 1)
        apt_lock=$(grep -o "Could not get lock [^ .]*" "$apt_err" | head -n 1 | sed 's/Could not get lock //')
        apt_left=$(( apt_deadline - $(date +%s) ))
        if [ "$apt_left" -le 0 ]; then
            printf 'apt: gave up after %ss waiting for %s (%s); run again once it is free\n' \
                "$APT_WAIT" "${apt_lock:-apt's lock}" "${apt_holder:-held by another package manager}" >&2
            rm -f "$apt_err"
            return 1
        fi
        printf 'apt: waiting for %s, %s (another package manager is at work); %ss left\n' \
            "${apt_lock:-apt's lock}" "${apt_holder:-held}" "$apt_left" >&2
        sleep 5
    done
}
