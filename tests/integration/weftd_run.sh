# weftd_run.sh - what the weftd scripts share (sourced, not run): start
# weftd in the background and stop it, and make a throwaway certificate.
# The caller defines W (the weftd binary) and fail(); start sets pid, port
# and U (the HTTP base URL).

start() { # OUT ARGS...: weftd in the background; sets pid, port and U
    local out=$1
    shift
    : >"$out" # before the background job opens it
    "$W" --no-landlock "$@" 2>"$out" &
    pid=$!
    for _ in $(seq 200); do
        grep -q '^weftd: serving' "$out" && break
        kill -0 "$pid" 2>/dev/null ||
            fail "weftd $* did not start: $(cat "$out")"
        sleep 0.05
    done
    port=$(sed -n 's/^weftd: serving .* on [^ ]*:\([0-9][0-9]*\)[ ,].*/\1/p' \
        "$out" | head -n 1)
    [ -n "$port" ] || fail "no serving line: $(cat "$out")"
    U="http://127.0.0.1:$port"
}

stop() { # SIGTERM, and weftd must exit 0
    local rc=0
    kill -TERM "$pid"
    wait "$pid" || rc=$?
    pid=
    [ "$rc" -eq 0 ] || fail "weftd exited $rc after SIGTERM"
}

make_cert() { # NAME SAN: NAME.pem and NAME.key, self-signed, for 2 days
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -nodes -keyout "$1.key" -out "$1.pem" -days 2 -subj "/CN=$1" \
        -addext "subjectAltName=$2" 2>/dev/null ||
        fail "openssl could not make a certificate"
}
