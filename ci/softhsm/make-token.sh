#!/bin/sh
# make-token.sh DIR LABEL PIN SO_PIN
#
# A private SoftHSM2 token store in DIR: DIR/softhsm2.conf (tokendir DIR/tokens, file backend) and a
# token labelled LABEL in it. Idempotent: an existing token with that label is left alone. Only ever
# runs softhsm2-util with SOFTHSM2_CONF pointing at DIR's conf, so the system token directory is never
# touched. Prints the conf path on stdout (everything else goes to stderr).
set -eu

if [ "$#" -ne 4 ]; then
    echo "usage: $0 DIR LABEL PIN SO_PIN" >&2
    exit 2
fi
label=$2
pin=$3
so_pin=$4
if [ -z "$label" ]; then
    echo "$0: LABEL must not be empty" >&2
    exit 2
fi

mkdir -p "$1/tokens"
dir=$(cd "$1" && pwd -P)
conf="$dir/softhsm2.conf"
tokendir="$dir/tokens"

if [ -e "$conf" ]; then
    # Never reuse a conf that points somewhere else (it could be the system store).
    if ! grep -qxF "directories.tokendir = $tokendir" "$conf"; then
        echo "$0: $conf exists but its tokendir is not $tokendir; refusing to use it" >&2
        exit 1
    fi
else
    tmp="$conf.tmp.$$"
    cat >"$tmp" <<CONF
directories.tokendir = $tokendir
objectstore.backend = file
log.level = ERROR
CONF
    mv -f "$tmp" "$conf"  # atomic: a concurrent reader never sees half a conf
fi

SOFTHSM2_CONF=$conf
export SOFTHSM2_CONF

# softhsm2-util pads labels with spaces to 32 characters; compare without the padding.
if softhsm2-util --show-slots 2>/dev/null | LABEL="$label" awk '
    /^[ \t]*Label:/ { sub(/^[ \t]*Label:[ \t]*/, ""); sub(/[ \t]+$/, ""); if ($0 == ENVIRON["LABEL"]) found = 1 }
    END { exit found ? 0 : 1 }'; then
    echo "$conf"
    exit 0
fi

softhsm2-util --init-token --free --label "$label" --pin "$pin" --so-pin "$so_pin" >&2
echo "$conf"
