#!/bin/sh
# check-banned.sh - C library functions weft's code must not call (curl's
# list): unbounded copies and formats, non-reentrant tokenising, number
# parsing without error reporting. `make check` runs it.
set -eu
cd "$(dirname "$0")/.."
banned='strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|atoll|gets|strncpy|strncat|tmpnam|mktemp'
if grep -rnE "\\b($banned)[[:space:]]*\\(" src include examples bench; then
    echo "check-banned: use the bounded or error-reporting alternative" >&2
    echo "(snprintf, weft_buf, strtol, strtok_r...) instead of the calls above" >&2
    exit 1
fi
