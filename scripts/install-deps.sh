#!/bin/sh
# install-deps.sh - install the Debian packages weft's build, tests and
# benchmarks need. Idempotent and quiet when everything is present; `make
# run`, `make test`, `make check` and `make bench` call it first.
set -eu

# Build: compiler, CMake, pkg-config; JSON: jansson; HTTP client of the
# crawler example: libcurl. Tests: cmocka. check: clang's sanitizer
# runtimes. bench: python3 for the Python contenders, python3-gevent
# (gevent and greenlet) for bench_co's. weftd and weft: libcrypto
# (SHA-256) from libssl-dev; weft's shell: libedit (line editing); weftd's
# password hashes (argon2id): libsodium-dev; their TLS tests: the openssl
# command (it makes a throwaway certificate). Queues and pools over Redis:
# hiredis, and redis-server, which the tests start on loopback. weftd's
# HTTP tests: curl, and a real browser - headless Chromium driven by
# Selenium (chromium, chromium-driver, python3-selenium).
PKGS="build-essential cmake pkg-config libcmocka-dev libjansson-dev
libcurl4-openssl-dev libssl-dev libedit-dev libsodium-dev procps python3
python3-gevent openssl libhiredis-dev redis-server curl chromium
chromium-driver python3-selenium wrk"
if [ "${1:-}" = "--check" ]; then
    PKGS="$PKGS clang libclang-rt-14-dev"
fi
# make bench: the file-server benchmark's peers (vsftpd; nginx for its
# autoindex listing) and Python's RQ for the Redis pool's benchmark (wrk,
# the HTTP benchmark's client, is installed for make test's smoke run). Only there: installing them may start
# system services on ports 21 and 80 on a systemd host.
if [ "${1:-}" = "--bench" ]; then
    PKGS="$PKGS vsftpd nginx-light python3-rq"
fi

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
        grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
# python3 may come from elsewhere (pyenv); it only has to be on PATH.
# (Word by word: python3-gevent is another package, and stays. bench_co
# finds Debian's /usr/bin/python3, which has it, if PATH's python3 has not.)
if command -v python3 >/dev/null 2>&1; then
    rest=""
    for p in $missing; do
        [ "$p" = python3 ] || rest="$rest $p"
    done
    missing=$rest
fi
[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: please install:$missing (no apt-get here)" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-deps: need root to install:$missing" >&2
        exit 1
    fi
fi
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists yet; refresh them once if the first
# attempt cannot find a package.
$SUDO apt-get install -y -qq $missing >/dev/null 2>&1 || {
    $SUDO apt-get update -qq >/dev/null
    $SUDO apt-get install -y -qq $missing >/dev/null
}
