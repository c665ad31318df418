# redis_secure.sh — sourced (after common.sh) by redis_acl.sh and
# redis_tls.sh: background processes that are always stopped on exit, the
# shipped ACL file with test passwords put in, loopback
# ports, and a throw-away certificate authority made with openssl.
# Sources redis.sh: the servers redis_start starts are stopped on exit too.

# shellcheck shell=bash
. "$(dirname "${BASH_SOURCE[0]}")/redis.sh"
SECURE_PIDS=()

# Stop everything started with bg (TERM, then KILL after 5 s), then the
# redis-servers, then remove the temp dir as common.sh would.
secure_cleanup() {
    local pid
    for pid in "${SECURE_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${SECURE_PIDS[@]}"; do wait_pid 5 "$pid" 2>/dev/null || true; done
    redis_stop
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $TMP" >&2; else cleanup_tmp; fi
}
trap secure_cleanup EXIT
# Ctrl-C or a TERM from the test runner: exit, so the EXIT trap cleans up
trap 'exit 130' INT
trap 'exit 143' TERM

# bg NAME CMD...: run CMD in the background, output to $TMP/NAME.log;
# its pid is in LAST_PID and is stopped on exit.
bg() {
    local name=$1
    shift
    "$@" >"$TMP/$name.log" 2>&1 &
    LAST_PID=$!
    SECURE_PIDS+=("$LAST_PID")
}

# stop_pid PID: stop one process started with bg (TERM, then KILL after
# 5 s).
stop_pid() {
    kill "$1" 2>/dev/null || true
    wait_pid 5 "$1" 2>/dev/null || true
}

# free_port: a TCP port nothing listens on at 127.0.0.1 right now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# test_password USER: the password the tests give USER.
test_password() { printf 'test-pw-%s' "$1"; }

# acl_instantiate SRC DST: the ACL file SRC with every
# "#SHA256-OF-PASSWORD-<user>" placeholder replaced by the SHA-256 of
# test_password <user>, as an admin does with real passwords.
acl_instantiate() {
    local src=$1 dst=$2 user hash
    cp "$src" "$dst"
    for user in $(grep -o '#SHA256-OF-PASSWORD-[A-Za-z0-9_.-]*' "$src" | sed 's/#SHA256-OF-PASSWORD-//'); do
        hash=$(test_password "$user" | sha256sum | cut -d' ' -f1)
        sed -i "s/#SHA256-OF-PASSWORD-$user\\( \\|\$\\)/#$hash\\1/" "$dst"
    done
    ! grep -q 'SHA256-OF-PASSWORD' "$dst" || fail "placeholders left in $dst"
}

# make_ca DIR NAME: a self-signed CA, DIR/NAME.crt and DIR/NAME.key.
make_ca() {
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/O=canh test/CN=$2" -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -keyout "$1/$2.key" -out "$1/$2.crt" 2>"$TMP/openssl.log" || fail "openssl: CA $2"
}

# make_cert DIR NAME CA HOST: a key and a certificate for HOST (CN and
# subjectAltName) signed by DIR/CA.{crt,key}, usable by a server or a client.
make_cert() {
    local dir=$1 name=$2 ca=$3 host=$4
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -subj "/O=canh test/CN=$host" -keyout "$dir/$name.key" -out "$dir/$name.csr" \
        2>"$TMP/openssl.log" || fail "openssl: key for $name"
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:%s\n' \
        "$host" >"$dir/$name.ext"
    openssl x509 -req -in "$dir/$name.csr" -CA "$dir/$ca.crt" -CAkey "$dir/$ca.key" \
        -CAcreateserial -days 2 -extfile "$dir/$name.ext" -out "$dir/$name.crt" \
        2>"$TMP/openssl.log" || fail "openssl: certificate for $name"
}
