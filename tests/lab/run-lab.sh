#!/usr/bin/env bash
# The stack lab: TLS stacks that were not used to build tls-audit (Go
# crypto/tls, Java JSSE, Erlang/OTP ssl, Python ssl post-handshake auth),
# alone and mixed with OpenSSL, GnuTLS and rustls, talking across two Linux
# network namespaces, captured with tcpdump, with the ground truth of every
# connection written beside its capture.
#
#   flock /tmp/tlsa-netns.lock tests/lab/run-lab.sh OUTDIR [CASE ...]
#
# For each case it writes OUTDIR/CASE.pcap, OUTDIR/CASE.keys (when a peer
# can write an NSS key log), OUTDIR/CASE.truth.json (per connection, in
# order: the stacks, the version, the client-auth mode as configured, whether
# the client sent a certificate, whether the handshake succeeded, resumed,
# HelloRetryRequest, post-handshake auth, and from these the mutual-TLS
# truth), and OUTDIR/CASE.layout.txt (tshark's view of every TLS record;
# decrypted handshake message types where a key log exists). The truth is
# the configuration, cross-checked where the peers report it (Go, Erlang
# and OpenSSL say whether a session was resumed; the servers say how many
# client certificates they received) and against tshark for what the wire
# shows in clear (version, HRR, resumption); a mismatch fails the run.
# docs/testing-lab.md describes the cases and what the lab showed.
#
# Needs root, iproute2, ethtool, tcpdump, tshark, openssl, python3, and the
# stacks (golang-go, default-jdk-headless, erlang-base erlang-ssl, gnutls-bin;
# rustls_peer from `cargo build --example rustls_peer`). A case whose stack
# is missing is skipped with a notice (listed in OUTDIR/skipped.txt); with
# LAB_REQUIRE_ALL=1 (CI) a missing stack is an error.
#
# Environment:
#   LAB_BUILD=dir     where the Go and Java peers are built (default target/lab)
#   RUSTLS_PEER=path  the rustls_peer example (default target/debug/examples/rustls_peer)
#   LAB_REQUIRE_ALL=1 fail instead of skipping when a stack is missing
#
# Namespaces stk-cli / stk-srv (veth stk-c0 / stk-s0, 10.210.0.1 <->
# 10.210.0.2) are made once per run and deleted on exit; no traffic leaves
# them. Each case has its own tcpdump, started before its server.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB=$REPO/tests/lab
OUT=${1:?usage: run-lab.sh OUTDIR [CASE ...]}
shift
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
BUILD=${LAB_BUILD:-$REPO/target/lab}
NS_C=stk-cli
NS_S=stk-srv
VETH_C=stk-c0
VETH_S=stk-s0
CLI4=10.210.0.1
SRV4=10.210.0.2
PORT=8443
SNI=api.pay.svc.cluster.local
SRV_SPIFFE=spiffe://cluster.local/ns/pay/sa/api
CLI_SPIFFE=spiffe://cluster.local/ns/web/sa/frontend
T_SRV=40   # seconds a server may live
T_CLI=30   # seconds a client may take

die() { echo "run-lab: ERROR: $*" >&2; exit 1; }
log() { echo "run-lab: $*" >&2; }

[ "$(id -u)" = 0 ] || die "must run as root (network namespaces, tcpdump)"
for t in ip ss tcpdump tshark openssl timeout ethtool; do
    command -v "$t" >/dev/null || die "missing tool: $t (scripts/install-deps.sh installs it)"
done
# Debian's python3 (its ssl is the system OpenSSL), else the first on PATH.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || die "missing tool: python3"

WORK=$(mktemp -d /tmp/stk-lab.XXXXXX)
BG_PIDS=()
CAP_PID=
SRV_PID=

# shellcheck source=fixtures/gen/netns-lib.sh
. "$REPO/fixtures/gen/netns-lib.sh"
trap netns_cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- stacks
HAVE_GO=0 HAVE_JAVA=0 HAVE_ERL=0 HAVE_GNUTLS=0 HAVE_RUSTLS=0
declare -A VERSIONS
stacks() {
    VERSIONS[openssl]="OpenSSL $(openssl version | awk '{print $2}')"
    VERSIONS[python]="Python $("$PY" -c 'import ssl,sys;print(sys.version.split()[0], "ssl", ssl.OPENSSL_VERSION)')"
    if command -v go >/dev/null; then
        mkdir -p "$BUILD"
        # GOCACHE under the target dir: CI caches it with the Rust build.
        if [ ! -x "$BUILD/labpeer-go" ] || [ "$LAB/go/labpeer.go" -nt "$BUILD/labpeer-go" ]; then
            log "building the Go peer"
            (cd "$LAB/go" && GOCACHE=$BUILD/gocache GOPATH=$BUILD/gopath GO111MODULE=off GOFLAGS= \
                go build -o "$BUILD/labpeer-go" labpeer.go) || die "go build failed"
        fi
        HAVE_GO=1
        VERSIONS[go]="Go $(go env GOVERSION) crypto/tls"
    fi
    if command -v javac >/dev/null && command -v java >/dev/null; then
        if [ ! -f "$BUILD/java/LabPeer.class" ] || [ "$LAB/java/LabPeer.java" -nt "$BUILD/java/LabPeer.class" ]; then
            log "compiling the Java peer"
            javac -d "$BUILD/java" "$LAB/java/LabPeer.java" || die "javac failed"
        fi
        HAVE_JAVA=1
        VERSIONS[java]="Java JSSE $(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.runtime.version = //p')"
    fi
    if command -v escript >/dev/null && erl -noshell -eval 'ok = application:load(ssl), halt().' >/dev/null 2>&1; then
        HAVE_ERL=1
        VERSIONS[erlang]="Erlang/OTP $(erl -noshell -eval 'application:load(ssl), {ok,V}=application:get_key(ssl,vsn), io:format("~s ssl-~s",[erlang:system_info(otp_release),V]), halt().')"
    fi
    if command -v gnutls-cli >/dev/null; then
        HAVE_GNUTLS=1
        VERSIONS[gnutls]="GnuTLS $(gnutls-cli --version | sed -n '1s/.* //p')"
    fi
    RUSTLS_PEER=${RUSTLS_PEER:-$REPO/target/debug/examples/rustls_peer}
    if [ -x "$RUSTLS_PEER" ]; then
        HAVE_RUSTLS=1
        VERSIONS[rustls]="rustls $(sed -n '/^name = "rustls"$/{n;s/version = "\(.*\)"/\1/p}' "$REPO/Cargo.lock" | head -1) (examples/rustls_peer)"
    fi
}

# ---------------------------------------------------------------- PKI
# A root CA, a server leaf (DNS name + SPIFFE ID) and a client leaf (SPIFFE
# ID), P-256, issued fresh for each run; keys in PKCS#8 (Java reads them).
PKI=
make_pki() {
    PKI=$WORK/pki
    mkdir -p "$PKI"
    local o=(-days 2 -sha256)
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$PKI/ca.key" -out "$PKI/ca.crt" \
        -subj "/O=tls-audit lab/CN=lab root CA" -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" "${o[@]}" 2>/dev/null || die "CA"
    leaf() {
        local name=$1 san=$2 eku=$3
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$PKI/$name.key" -out "$WORK/$name.csr" \
            -subj "/O=tls-audit lab" 2>/dev/null || die "$name key"
        printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=critical,%s\n' \
            "$eku" "$san" > "$WORK/$name.ext"
        openssl x509 -req -in "$WORK/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
            -extfile "$WORK/$name.ext" -out "$PKI/$name.crt" "${o[@]}" 2>/dev/null || die "$name certificate"
    }
    leaf server "DNS:$SNI,URI:$SRV_SPIFFE" serverAuth,clientAuth
    leaf client "URI:$CLI_SPIFFE" serverAuth,clientAuth
}

# ---------------------------------------------------------------- network
setup_net() {
    ip netns del "$NS_C" 2>/dev/null || true
    ip netns del "$NS_S" 2>/dev/null || true
    ip netns add "$NS_C"
    ip netns add "$NS_S"
    ip link add "$VETH_C" netns "$NS_C" type veth peer name "$VETH_S" netns "$NS_S"
    for ns in "$NS_C" "$NS_S"; do ip netns exec "$ns" ip link set lo up; done
    ip netns exec "$NS_C" ip addr add "$CLI4/24" dev "$VETH_C"
    ip netns exec "$NS_S" ip addr add "$SRV4/24" dev "$VETH_S"
    # Real segment sizes on the wire (no offloads merging or splitting them).
    ip netns exec "$NS_C" ethtool -K "$VETH_C" tx off tso off gso off gro off >/dev/null 2>&1 || die "ethtool -K $VETH_C"
    ip netns exec "$NS_S" ethtool -K "$VETH_S" tx off tso off gso off gro off >/dev/null 2>&1 || die "ethtool -K $VETH_S"
    ip netns exec "$NS_C" ip link set "$VETH_C" up
    ip netns exec "$NS_S" ip link set "$VETH_S" up
}
# set_mtu N: both ends of the veth (segments then carry at most N - 40 bytes)
set_mtu() {
    ip netns exec "$NS_C" ip link set "$VETH_C" mtu "$1"
    ip netns exec "$NS_S" ip link set "$VETH_S" mtu "$1"
}
port_listening() { [ -n "$(ip netns exec "$NS_S" ss -Htln "sport = :$PORT")" ]; }

# ---------------------------------------------------------------- one case
# case_begin NAME "DESCRIPTION" CLIENT_STACK SERVER_STACK
CASE= CONNS=() KEYS= SKIP=0
case_begin() {
    CASE=$1 DESC=$2 C_STACK=$3 S_STACK=$4 CONNS=() KEYS= SKIP=0 ANY_FAILED=0 NOSYN=0
    rm -f "$OUT/$CASE".*
    local need
    for need in "$C_STACK" "$S_STACK"; do
        local have=1
        case $need in
            go) have=$HAVE_GO ;; java) have=$HAVE_JAVA ;; erlang) have=$HAVE_ERL ;;
            gnutls) have=$HAVE_GNUTLS ;; rustls) have=$HAVE_RUSTLS ;;
        esac
        if [ "$have" != 1 ]; then
            [ "${LAB_REQUIRE_ALL:-0}" = 1 ] && die "$CASE: stack $need is not installed"
            log "NOTICE: $CASE skipped: stack $need is not installed"
            echo "$CASE: $need not installed" >> "$OUT/skipped.txt"
            SKIP=1
            return 1
        fi
    done
    CAP_LOG=$WORK/$CASE.tcpdump.log
    ip netns exec "$NS_S" tcpdump -i "$VETH_S" -n -U --immediate-mode -B 16384 -s 0 -Z root \
        -w "$OUT/$CASE.pcap" tcp 2>"$CAP_LOG" &
    CAP_PID=$!
    wait_for grep -q "listening on" "$CAP_LOG" || die "$CASE: tcpdump did not start: $(cat "$CAP_LOG")"
}

# srv CMD... : start the server in the server namespace, wait until it listens
srv() {
    ip netns exec "$NS_S" timeout "$T_SRV" "$@" >"$WORK/$CASE.srv.log" 2>&1 </dev/null &
    SRV_PID=$!
    BG_PIDS+=("$SRV_PID")
    if ! wait_for port_listening; then
        cat "$WORK/$CASE.srv.log" >&2
        die "$CASE: the server ($1) is not listening on $PORT"
    fi
}

# cli CMD... : run a client in the client namespace (stdin from $CLI_IN, default "ping")
cli() {
    local rc=0
    # (CLI_LINGER: seconds to keep stdin open after the input, for clients that quit at its end)
    # (a client that never reads its stdin may be gone before printf writes: no SIGPIPE)
    { trap '' PIPE; printf '%b' "${CLI_IN:-ping\n}" 2>/dev/null || true; sleep "${CLI_LINGER:-0}"; } |
        ip netns exec "$NS_C" timeout "$T_CLI" "$@" >>"$WORK/$CASE.cli.log" 2>&1 || rc=$?
    if [ "$rc" != 0 ]; then
        cat "$WORK/$CASE.cli.log" >&2
        echo "--- server log" >&2
        cat "$WORK/$CASE.srv.log" >&2
        die "$CASE: the client ($1) failed with exit status $rc"
    fi
}

# srv_wait : the server exits by itself after its connections; a failure is fatal
srv_wait() {
    local rc=0
    wait "$SRV_PID" || rc=$?
    if [ "$rc" != 0 ]; then
        cat "$WORK/$CASE.srv.log" >&2
        die "$CASE: the server exited with status $rc"
    fi
}
# srv_stop : for servers that run until killed (gnutls-serv)
srv_stop() {
    kill "$SRV_PID" 2>/dev/null || true
    wait "$SRV_PID" 2>/dev/null || true
}

# expect_log srv|cli PATTERN : a peer's own account must confirm the truth
expect_log() {
    grep -Eq -- "$2" "$WORK/$CASE.$1.log" || {
        cat "$WORK/$CASE.$1.log" >&2
        die "$CASE: the $1 log does not show /$2/: the configured truth did not happen"
    }
}

# conn KEY=VALUE... : the truth of the next connection of this case.
#   v=1.2|1.3 auth=none|request|require (the server's in-handshake mode, normalised)
#   cfg="stack-specific setting" cert=yes|no (client sends a certificate when asked)
#   ok=yes|no resumed=yes|no hrr=yes|no pha=none|request|never (post-handshake auth)
#   early=yes|no (0-RTT data sent and accepted)
#   psk=yes|no (TLS 1.2 PSK suite: a full handshake with an external
#   pre-shared key and no certificates; mutual is false: no client certificate)
#   mutual=yes|no (default: derived) from="conn N" (resumed: the full handshake it resumes)
# client_cert_requested is what this handshake shows; for a resumed
# connection client_cert_requested_in_session is what the session's full
# handshake showed (a report may give either).
conn() {
    local v=1.3 auth=none cfg= cert=no ok=yes resumed=no hrr=no pha=none mutual= from= early=no psk=no kv k val
    for kv in "$@"; do
        k=${kv%%=*} val=${kv#*=}
        case $k in
            v) v=$val ;; auth) auth=$val ;; cfg) cfg=$val ;; cert) cert=$val ;; ok) ok=$val ;;
            resumed) resumed=$val ;; hrr) hrr=$val ;; pha) pha=$val ;; mutual) mutual=$val ;; from) from=$val ;;
            early) early=$val ;; psk) psk=$val ;;
            *) die "conn: unknown key $k" ;;
        esac
    done
    [ "$ok" = yes ] || ANY_FAILED=1
    if [ -z "$mutual" ]; then
        if [ "$pha" = request ]; then mutual=$cert
        elif [ "$ok" = no ] || [ "$auth" = none ]; then mutual=no
        else mutual=$cert; fi
    fi
    b() { [ "$1" = yes ] && echo true || echo false; }
    local req=$([ "$auth" != none ] && [ "$resumed" = no ] && echo true || echo false)
    # A resumed session's CertificateRequest, if any, was in the handshake it resumes.
    local sreq=$([ "$auth" != none ] && echo true || echo false)
    CONNS+=("{\"index\": ${#CONNS[@]}, \"version\": \"TLS$v\", \"client_auth\": \"$auth\", \"client_auth_configured\": \"$cfg\", \"client_cert_requested\": $req, \"client_cert_requested_in_session\": $sreq, \"client_sent_cert\": $(b "$([ "$req" = true ] || [ "$pha" = request ] && echo "$cert" || echo no)"), \"handshake_ok\": $(b "$ok"), \"resumed\": $(b "$resumed"), \"resumes\": $([ -n "$from" ] && echo "\"$from\"" || echo null), \"hello_retry_request\": $(b "$hrr"), \"early_data\": $(b "$early"), \"external_psk\": $(b "$psk"), \"post_handshake_auth\": \"$pha\", \"mutual\": $(b "$mutual")}")
}

# case_end : stop the capture, check it, write the truth
case_end() {
    sleep 0.3
    kill -TERM "$CAP_PID"
    wait "$CAP_PID" || true
    CAP_PID=
    grep -q "^0 packets dropped by kernel" "$CAP_LOG" || die "$CASE: tcpdump dropped packets: $(cat "$CAP_LOG")"
    [ -s "$OUT/$CASE.pcap" ] || die "$CASE: empty capture"
    set_mtu 1500
    if [ "${NOSYN:-0}" = 1 ]; then
        # As if the capture had started after the handshake's SYNs.
        tshark -r "$OUT/$CASE.pcap" -Y 'tcp.flags.syn == 0' -w "$WORK/$CASE.nosyn.pcap" 2>/dev/null ||
            die "$CASE: tshark could not drop the SYNs"
        mv "$WORK/$CASE.nosyn.pcap" "$OUT/$CASE.pcap"
    fi
    local keys=null
    if [ -n "$KEYS" ] && [ ! -s "$KEYS" ] && [ "$ANY_FAILED" = 1 ]; then
        # a peer whose handshake failed may have had nothing to log
        log "NOTICE: $CASE: no key log (the handshake failed before the peer logged its secrets)"
        rm -f "$KEYS"
        KEYS=
    fi
    if [ -n "$KEYS" ]; then
        [ -s "$KEYS" ] || die "$CASE: the key log $KEYS is empty"
        [ "$KEYS" = "$OUT/$CASE.keys" ] || cp "$KEYS" "$OUT/$CASE.keys"
        keys="\"$CASE.keys\""
    fi
    local IFS=,
    cat > "$OUT/$CASE.truth.json" <<EOF
{"case": "$CASE",
 "description": "$DESC",
 "client_stack": "${VERSIONS[$C_STACK]}",
 "server_stack": "${VERSIONS[$S_STACK]}",
 "pcap": "$CASE.pcap",
 "server_port": $PORT,
 "syn_captured": $([ "${NOSYN:-0}" = 1 ] && echo false || echo true),
 "keys": $keys,
 "connections": [${CONNS[*]}]}
EOF
    unset IFS
    # tshark's check runs while the next case runs (one at a time)
    layout_wait
    "$PY" "$LAB/layout.py" --check "$OUT/$CASE.truth.json" > "$OUT/$CASE.layout.txt" &
    LAYOUT_PID=$! LAYOUT_CASE=$CASE
    BG_PIDS+=("$LAYOUT_PID")
    log "captured: $CASE (${#CONNS[@]} connections$([ -n "$KEYS" ] && echo ", key log"))"
    RAN+=("$CASE")
}

# layout_wait: the previous case's tshark check must have passed
LAYOUT_PID= LAYOUT_CASE=
layout_wait() {
    [ -n "$LAYOUT_PID" ] || return 0
    local rc=0
    wait "$LAYOUT_PID" || rc=$?
    LAYOUT_PID=
    [ "$rc" = 0 ] || die "$LAYOUT_CASE: the capture does not show what was configured (see $OUT/$LAYOUT_CASE.layout.txt)"
    log "ok: $LAYOUT_CASE"
}

# ---------------------------------------------------------------- peers
# go_srv AUTH [extra flags] / go_cli [extra flags]
go_srv() { local a=$1; shift; srv "$BUILD/labpeer-go" -mode server -listen "$SRV4:$PORT" -cert "$PKI/server.crt" -key "$PKI/server.key" -ca "$PKI/ca.crt" -client-auth "$a" "$@"; }
go_cli() { cli "$BUILD/labpeer-go" -mode client -connect "$SRV4:$PORT" -sni "$SNI" -ca "$PKI/ca.crt" "$@"; }
go_cert() { echo -cert "$PKI/client.crt" -key "$PKI/client.key"; }

# java_srv AUTH [extra] / java_cli [extra]; JVM options (-D...) in $JVM.
java_run() {
    local fn=$1 mode=$2; shift 2
    # -XX:TieredStopAtLevel=1: a short-lived JVM starts faster.
    # shellcheck disable=SC2086
    "$fn" java -XX:TieredStopAtLevel=1 ${JVM:-} -cp "$BUILD/java" LabPeer "$mode" "$SRV4" "$PORT" --ca "$PKI/ca.crt" "$@"
}
java_srv() { local a=$1; shift; java_run srv server --cert "$PKI/server.crt" --key "$PKI/server.key" --client-auth "$a" "$@"; }
java_cli() { java_run cli client --sni "$SNI" "$@"; }
java_cert() { echo --cert "$PKI/client.crt" --key "$PKI/client.key"; }

erlang_srv() { local a=$1; shift; srv escript "$LAB/erlang/labpeer.escript" server "$SRV4" "$PORT" --cert "$PKI/server.crt" --key "$PKI/server.key" --ca "$PKI/ca.crt" --client-auth "$a" "$@"; }
erlang_cli() { cli escript "$LAB/erlang/labpeer.escript" client "$SRV4" "$PORT" --sni "$SNI" --ca "$PKI/ca.crt" "$@"; }
erlang_cert() { echo --cert "$PKI/client.crt" --key "$PKI/client.key"; }

# OpenSSL: s_server -rev answers each line reversed; -naccept N exits after N.
ossl_srv() { srv openssl s_server -accept "$SRV4:$PORT" -cert "$PKI/server.crt" -key "$PKI/server.key" -CAfile "$PKI/ca.crt" -rev "$@"; }
ossl_cli() { CLI_IN='ping\nCLOSE\n' cli openssl s_client -connect "$SRV4:$PORT" -servername "$SNI" -CAfile "$PKI/ca.crt" \
    -verify_return_error -verify_hostname "$SNI" -brief -ign_eof "$@"; }
ossl_cert() { echo -cert "$PKI/client.crt" -key "$PKI/client.key"; }

py_srv() { srv "$PY" "$LAB/python/pha_peer.py" server "$SRV4" "$PORT" --cert "$PKI/server.crt" --key "$PKI/server.key" --ca "$PKI/ca.crt" "$@"; }
py_cli() { cli "$PY" "$LAB/python/pha_peer.py" client "$SRV4" "$PORT" --sni "$SNI" --ca "$PKI/ca.crt" "$@"; }

# ---------------------------------------------------------------- cases
# One function per case, lab_NAME (NAME with - for _), in tests/lab/cases.sh.
. "$LAB/cases.sh"

# ---------------------------------------------------------------- main
stacks
make_pki
setup_net
RAN=()
ALL=$(declare -F | awk '{print $3}' | sed -n 's/^lab_//p' | tr _ -)
if [ $# -gt 0 ]; then SELECTED=("$@"); else read -r -a SELECTED <<< "$(echo $ALL)"; fi
[ -n "${SELECTED[*]}" ] || die "no cases"
rm -f "$OUT/skipped.txt"
start=$(date +%s)
for c in "${SELECTED[@]}"; do
    fn=lab_$(echo "$c" | tr - _)
    declare -F "$fn" >/dev/null || die "unknown case $c (cases: $ALL)"
    "$fn"
done
layout_wait
{
    echo "# tls-audit stack lab, $(date -u +%FT%TZ)"
    for k in "${!VERSIONS[@]}"; do echo "$k: ${VERSIONS[$k]}"; done | sort
} > "$OUT/STACKS.txt"
log "${#RAN[@]} cases in $(( $(date +%s) - start )) s into $OUT$([ -f "$OUT/skipped.txt" ] && echo "; skipped: $(wc -l < "$OUT/skipped.txt")")"
