# The stack lab's cases, sourced by tests/lab/run-lab.sh (see its header and
# docs/testing-lab.md). One function per case: lab_NAME runs case NAME.
# Each starts the capture (case_begin), runs the peers (srv, cli), records
# one `conn` of truth per connection in order, and ends (case_end).
# shellcheck shell=bash

# ------------------------------------------------------------ one stack at both ends
# flag STACK NAME: the Go peer spells its flags -name, the others --name
flag() { if [ "$1" = go ]; then echo "-$2"; else echo "--$2"; fi; }

# pair_case NAME STACK V SERVER-AUTH CLIENT-CERT(yes|no) TRUTH-AUTH(none|request|require) DESCRIPTION
# The client logs its keys where the stack can (Go; Erlang in TLS 1.3). A
# required certificate that the client does not have fails the handshake.
pair_case() {
    local name=$1 stack=$2 v=$3 a=$4 cc=$5 ta=$6 desc=$7
    case_begin "$name" "$desc" "$stack" "$stack" || return 0
    local c=() fail=() kl=()
    [ "$cc" = yes ] && read -r -a c <<< "$("${stack}_cert")"
    [ "$ta" = require ] && [ "$cc" = no ] && fail=("$(flag "$stack" expect-fail)")
    "${stack}_srv" "$a" "$(flag "$stack" version)" "$v" "${fail[@]}"
    if [ "$stack" = go ] || { [ "$stack" = erlang ] && [ "$v" = 1.3 ]; }; then
        KEYS=$OUT/$name.keys
        kl=("$(flag "$stack" keylog)" "$KEYS")
    fi
    "${stack}_cli" "$(flag "$stack" version)" "$v" "${c[@]}" "${kl[@]}" "${fail[@]}"
    srv_wait
    if [ -n "${fail[*]}" ]; then
        conn v="$v" auth="$ta" cfg="$a" cert=no ok=no
    else
        expect_log srv "client_certs=$([ "$cc" = yes ] && [ "$ta" != none ] && echo "[1-9]" || echo 0)"
        conn v="$v" auth="$ta" cfg="$a" cert="$cc"
    fi
    case_end
}

# ------------------------------------------------------------ Go <-> Go
go_case() {
    pair_case "$1" go "$2" "$3" "$4" "$5" "Go client -> Go server, TLS $2, tls.Config.ClientAuth=$3, client certificate configured: $4"
}
lab_go13_none()               { go_case go13-none 1.3 none no none; }
lab_go13_require()            { go_case go13-require 1.3 require yes require; }
lab_go13_request_nocert()     { go_case go13-request-nocert 1.3 request no request; }
lab_go13_request_cert()       { go_case go13-request-cert 1.3 request yes request; }
lab_go13_verifyifgiven_nocert() { go_case go13-verifyifgiven-nocert 1.3 verify-if-given no request; }
lab_go13_require_nocert()     { go_case go13-require-nocert 1.3 require no require; }
lab_go12_none()               { go_case go12-none 1.2 none no none; }
lab_go12_require()            { go_case go12-require 1.2 require yes require; }
lab_go12_request_nocert()     { go_case go12-request-nocert 1.2 request no request; }

# HelloRetryRequest: the server only accepts P-256, the client's first
# preference (and only key share) is X25519.
go_hrr() {
    local name=$1 a=$2 cc=$3 ta=$4
    case_begin "$name" "Go client (groups X25519,P-256: key share X25519) -> Go server (P-256 only): HelloRetryRequest; TLS 1.3, ClientAuth=$a" go go || return 0
    local c=()
    [ "$cc" = yes ] && read -r -a c <<< "$(go_cert)"
    go_srv "$a" -version 1.3 -groups p256
    KEYS=$OUT/$name.keys
    go_cli -version 1.3 -groups x25519,p256 "${c[@]}" -keylog "$KEYS"
    srv_wait
    conn v=1.3 auth="$ta" cfg="$a" cert="$cc" hrr=yes
    case_end
}
lab_go13_hrr_require() { go_hrr go13-hrr-require require yes require; }
lab_go13_hrr_none()    { go_hrr go13-hrr-none none no none; }

# Resumption: two connections, the client keeps a session cache.
go_resume() {
    local name=$1 v=$2 a=$3 cc=$4 ta=$5
    case_begin "$name" "Go client with a session cache, two connections (the second resumes), TLS $v, ClientAuth=$a" go go || return 0
    local c=()
    [ "$cc" = yes ] && read -r -a c <<< "$(go_cert)"
    go_srv "$a" -version "$v" -count 2
    KEYS=$OUT/$name.keys
    go_cli -version "$v" -count 2 -resume "${c[@]}" -keylog "$KEYS"
    srv_wait
    expect_log cli 'conn 0: .*resumed=false'
    expect_log cli 'conn 1: .*resumed=true'
    conn v="$v" auth="$ta" cfg="$a" cert="$cc"
    local m=$([ "$cc" = yes ] && [ "$ta" != none ] && echo yes || echo no)
    conn v="$v" auth="$ta" cfg="$a" cert=no resumed=yes from="conn 0" mutual="$m"
    case_end
}
lab_go13_resume_require() { go_resume go13-resume-require 1.3 require yes require; }
lab_go13_resume_none()    { go_resume go13-resume-none 1.3 none no none; }
lab_go12_resume_require() { go_resume go12-resume-require 1.2 require yes require; }

# ------------------------------------------------------------ Java <-> Java
java_case() {
    pair_case "$1" java "$2" "$3" "$4" "$5" "Java JSSE client -> Java JSSE server, TLS $2, $3 client auth (setWantClientAuth/setNeedClientAuth), client certificate configured: $4"
}
lab_jsse13_none()         { java_case jsse13-none 1.3 none no none; }
lab_jsse13_need()         { java_case jsse13-need 1.3 need yes require; }
lab_jsse13_want_nocert()  { java_case jsse13-want-nocert 1.3 want no request; }
lab_jsse13_want_cert()    { java_case jsse13-want-cert 1.3 want yes request; }
lab_jsse13_need_nocert()  { java_case jsse13-need-nocert 1.3 need no require; }
lab_jsse12_need()         { java_case jsse12-need 1.2 need yes require; }
lab_jsse12_want_nocert()  { java_case jsse12-want-nocert 1.2 want no request; }

lab_jsse13_hrr_need() {
    case_begin jsse13-hrr-need "Java client (jdk.tls.namedGroups=x25519,secp256r1,secp384r1: key shares for the first two) -> Java server (secp384r1 only): HelloRetryRequest; TLS 1.3, setNeedClientAuth" java java || return 0
    JVM=-Djdk.tls.namedGroups=secp384r1 java_srv need --version 1.3
    JVM=-Djdk.tls.namedGroups=x25519,secp256r1,secp384r1 java_cli --version 1.3 $(java_cert)
    srv_wait
    conn v=1.3 auth=require cfg=need cert=yes hrr=yes
    case_end
}

lab_jsse13_resume_need() {
    case_begin jsse13-resume-need "Java client, one SSLContext, two connections (the second resumes with a PSK), TLS 1.3, setNeedClientAuth" java java || return 0
    java_srv need --version 1.3 --count 2
    java_cli --version 1.3 --count 2 $(java_cert)
    srv_wait
    # (JSSE does not say whether it resumed; layout.py checks the ServerHello's pre_shared_key)
    conn v=1.3 auth=require cfg=need cert=yes
    conn v=1.3 auth=require cfg=need cert=no resumed=yes from="conn 0" mutual=yes
    case_end
}

# ------------------------------------------------------------ Erlang <-> Erlang
erl_case() {
    pair_case "$1" erlang "$2" "$3" "$4" "$5" "Erlang/OTP ssl client -> Erlang/OTP ssl server, TLS $2, client-auth $3 (verify_peer/fail_if_no_peer_cert), client certificate configured: $4"
}
lab_erl13_none()            { erl_case erl13-none 1.3 none no none; }
lab_erl13_require()         { erl_case erl13-require 1.3 require yes require; }
lab_erl13_optional_nocert() { erl_case erl13-optional-nocert 1.3 optional no request; }
lab_erl13_optional_cert()   { erl_case erl13-optional-cert 1.3 optional yes request; }
lab_erl13_require_nocert()  { erl_case erl13-require-nocert 1.3 require no require; }
lab_erl12_require()         { erl_case erl12-require 1.2 require yes require; }
lab_erl12_optional_nocert() { erl_case erl12-optional-nocert 1.2 optional no request; }

lab_erl13_hrr_require() {
    case_begin erl13-hrr-require "Erlang client (supported_groups x25519,secp256r1) -> Erlang server (secp256r1 only): HelloRetryRequest; TLS 1.3, verify_peer + fail_if_no_peer_cert" erlang erlang || return 0
    erlang_srv require --version 1.3 --groups secp256r1
    KEYS=$OUT/erl13-hrr-require.keys
    erlang_cli --version 1.3 --groups x25519,secp256r1 $(erlang_cert) --keylog "$KEYS"
    srv_wait
    conn v=1.3 auth=require cfg=require cert=yes hrr=yes
    case_end
}

lab_erl13_resume_require() {
    case_begin erl13-resume-require "Erlang client with session_tickets auto, two connections (the second resumes with a PSK), TLS 1.3, server session_tickets stateless, verify_peer + fail_if_no_peer_cert" erlang erlang || return 0
    erlang_srv require --version 1.3 --count 2
    KEYS=$OUT/erl13-resume-require.keys
    erlang_cli --version 1.3 --count 2 --resume $(erlang_cert) --keylog "$KEYS"
    srv_wait
    expect_log cli 'conn 0: .*session_resumption,false'
    expect_log cli 'conn 1: .*session_resumption,true'
    conn v=1.3 auth=require cfg=require cert=yes
    conn v=1.3 auth=require cfg=require cert=no resumed=yes from="conn 0" mutual=yes
    case_end
}

# ------------------------------------------------------------ mixed pairs
# Java client, Go server: the Go server's key log opens the Java client's flight.
java_go() {
    local name=$1 a=$2 cc=$3 ta=$4
    case_begin "$name" "Java JSSE client -> Go server (KeyLogWriter), TLS 1.3, ClientAuth=$a, client certificate configured: $cc" java go || return 0
    KEYS=$OUT/$name.keys
    go_srv "$a" -version 1.3 -keylog "$KEYS"
    local c=()
    [ "$cc" = yes ] && read -r -a c <<< "$(java_cert)"
    java_cli --version 1.3 "${c[@]}"
    srv_wait
    expect_log srv "client_certs=$([ "$cc" = yes ] && [ "$ta" != none ] && echo "[1-9]" || echo 0)"
    conn v=1.3 auth="$ta" cfg="Go $a" cert="$cc"
    case_end
}
lab_java_go13_none()          { java_go java-go13-none none no none; }
lab_java_go13_require()       { java_go java-go13-require require yes require; }
lab_java_go13_request_nocert() { java_go java-go13-request-nocert request no request; }

# Go client (key log), Java server: opens the Java server's flight.
go_java() {
    local name=$1 a=$2 cc=$3 ta=$4
    case_begin "$name" "Go client (KeyLogWriter) -> Java JSSE server, TLS 1.3, $a client auth, client certificate configured: $cc" go java || return 0
    java_srv "$a" --version 1.3
    KEYS=$OUT/$name.keys
    local c=()
    [ "$cc" = yes ] && read -r -a c <<< "$(go_cert)"
    go_cli -version 1.3 "${c[@]}" -keylog "$KEYS"
    srv_wait
    expect_log srv "client_certs=$([ "$cc" = yes ] && [ "$ta" != none ] && echo "[1-9]" || echo 0)"
    conn v=1.3 auth="$ta" cfg="Java $a" cert="$cc"
    case_end
}
lab_go_java13_none()        { go_java go-java13-none none no none; }
lab_go_java13_need()        { go_java go-java13-need need yes require; }
lab_go_java13_want_nocert() { go_java go-java13-want-nocert want no request; }

# Java client, OpenSSL server (s_server -keylogfile).
java_ossl() {
    local name=$1 sa=$2 cc=$3 ta=$4
    case_begin "$name" "Java JSSE client -> OpenSSL s_server $sa, TLS 1.3, client certificate configured: $cc" java openssl || return 0
    KEYS=$OUT/$name.keys
    ossl_srv -tls1_3 $sa -verify_return_error -naccept 1 -keylogfile "$KEYS"
    local c=()
    [ "$cc" = yes ] && read -r -a c <<< "$(java_cert)"
    java_cli --version 1.3 "${c[@]}"
    srv_wait
    conn v=1.3 auth="$ta" cfg="s_server $sa" cert="$cc"
    case_end
}
lab_java_ossl13_require()       { java_ossl java-ossl13-require "-Verify 1" yes require; }
lab_java_ossl13_request_nocert() { java_ossl java-ossl13-request-nocert "-verify 1" no request; }

# Erlang client (key log), Go server.
erl_go() {
    local name=$1 a=$2 cc=$3 ta=$4
    case_begin "$name" "Erlang/OTP ssl client (keep_secrets) -> Go server, TLS 1.3, ClientAuth=$a, client certificate configured: $cc" erlang go || return 0
    go_srv "$a" -version 1.3
    KEYS=$OUT/$name.keys
    local c=()
    [ "$cc" = yes ] && read -r -a c <<< "$(erlang_cert)"
    erlang_cli --version 1.3 "${c[@]}" --keylog "$KEYS"
    srv_wait
    expect_log srv "client_certs=$([ "$cc" = yes ] && [ "$ta" != none ] && echo "[1-9]" || echo 0)"
    conn v=1.3 auth="$ta" cfg="Go $a" cert="$cc"
    case_end
}
lab_erl_go13_require()        { erl_go erl-go13-require require yes require; }
lab_erl_go13_request_nocert() { erl_go erl-go13-request-nocert request no request; }

# OpenSSL client (key log) -> Java / Erlang server: opens their server flights.
ossl_to() {
    local name=$1 stack=$2 a=$3 cc=$4 ta=$5
    case_begin "$name" "OpenSSL s_client (-keylogfile) -> $stack server ($a), TLS 1.3, client certificate configured: $cc" openssl "$stack" || return 0
    case $stack in
        java) java_srv "$a" --version 1.3 ;;
        erlang) erlang_srv "$a" --version 1.3 ;;
        go) go_srv "$a" -version 1.3 ;;
    esac
    KEYS=$OUT/$name.keys
    local c=()
    [ "$cc" = yes ] && read -r -a c <<< "$(ossl_cert)"
    ossl_cli -tls1_3 "${c[@]}" -keylogfile "$KEYS"
    srv_wait
    expect_log srv "client_certs=$([ "$cc" = yes ] && [ "$ta" != none ] && echo "[1-9]" || echo 0)"
    conn v=1.3 auth="$ta" cfg="$stack $a" cert="$cc"
    case_end
}
lab_ossl_java13_need()            { ossl_to ossl-java13-need java need yes require; }
lab_ossl_java13_want_nocert()     { ossl_to ossl-java13-want-nocert java want no request; }
lab_ossl_erl13_optional_nocert()  { ossl_to ossl-erl13-optional-nocert erlang optional no request; }
lab_ossl_erl13_require()          { ossl_to ossl-erl13-require erlang require yes require; }

# GnuTLS client (SSLKEYLOGFILE) -> Go server.
lab_gnutls_go13_request_nocert() {
    case_begin gnutls-go13-request-nocert "GnuTLS gnutls-cli (no certificate) -> Go server (ClientAuth=request), TLS 1.3" gnutls go || return 0
    go_srv request -version 1.3
    KEYS=$OUT/gnutls-go13-request-nocert.keys
    SSLKEYLOGFILE=$KEYS cli gnutls-cli --x509cafile "$PKI/ca.crt" --sni-hostname "$SNI" --verify-hostname "$SNI" \
        --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.3' -p "$PORT" "$SRV4"
    srv_wait
    expect_log srv 'client_certs=0'
    conn v=1.3 auth=request cfg="Go request" cert=no
    case_end
}

# Go client -> rustls server (rustls_peer), and rustls client -> Java server.
lab_go_rustls13_require() {
    case_begin go-rustls13-require "Go client (KeyLogWriter) -> rustls server (rustls_peer --require-client-auth), TLS 1.3" go rustls || return 0
    srv env -u SSLKEYLOGFILE "$RUSTLS_PEER" server --cert "$PKI/server.crt" --key "$PKI/server.key" --listen "$SRV4" \
        --port "$PORT" --client-ca "$PKI/ca.crt" --require-client-auth --tls13
    KEYS=$OUT/go-rustls13-require.keys
    go_cli -version 1.3 $(go_cert) -keylog "$KEYS"
    srv_wait
    expect_log srv 'client_cert=1'
    conn v=1.3 auth=require cfg="rustls --require-client-auth" cert=yes
    case_end
}
lab_rustls_java13_want_nocert() {
    case_begin rustls-java13-want-nocert "rustls client (rustls_peer, SSLKEYLOGFILE, no certificate) -> Java JSSE server (setWantClientAuth), TLS 1.3" rustls java || return 0
    java_srv want --version 1.3
    KEYS=$OUT/rustls-java13-want-nocert.keys
    SSLKEYLOGFILE=$KEYS cli "$RUSTLS_PEER" client --connect "$SRV4:$PORT" --sni "$SNI" --ca "$PKI/ca.crt" --tls13
    srv_wait
    expect_log srv 'client_certs=0'
    conn v=1.3 auth=request cfg="Java want" cert=no
    case_end
}

# ------------------------------------------------------------ post-handshake auth
# Python ssl server with post_handshake_auth: no CertificateRequest in the
# handshake; with --pha request it asks after the handshake.
pha_case() {
    local name=$1 pha=$2 cc=$3
    case_begin "$name" "TLS 1.3 post-handshake client auth: Python ssl client (offers post_handshake_auth, certificate: $cc) -> Python ssl server, verify_client_post_handshake: $pha" python python || return 0
    KEYS=$OUT/$name.keys
    py_srv --pha "$pha" --verify optional --expect-cert "$([ "$pha" = request ] && [ "$cc" = yes ] && echo 1 || echo 0)" --keylog "$KEYS"
    local c=()
    [ "$cc" = yes ] && c=(--cert "$PKI/client.crt" --key "$PKI/client.key")
    py_cli "${c[@]}"
    srv_wait
    conn v=1.3 auth=none cfg="PHA $pha" cert="$cc" pha="$pha"
    case_end
}
lab_pha_request_cert()   { pha_case pha-request-cert request yes; }
lab_pha_request_nocert() { pha_case pha-request-nocert request no; }
lab_pha_never()          { pha_case pha-never never yes; }
lab_pha_ossl_request_cert() {
    case_begin pha-ossl-request-cert "TLS 1.3 post-handshake client auth: OpenSSL s_client -enable_pha with a certificate -> Python ssl server that asks after the handshake" openssl python || return 0
    KEYS=$OUT/pha-ossl-request-cert.keys
    py_srv --pha request --verify optional --expect-cert 1 --keylog "$KEYS"
    # s_client answers the CertificateRequest while reading "pong"; "bye" follows later.
    local rc=0
    { trap '' PIPE; printf 'ping\n'; sleep 1; printf 'bye\n'; sleep 1; } 2>/dev/null | ip netns exec "$NS_C" timeout "$T_CLI" openssl s_client \
        -connect "$SRV4:$PORT" -servername "$SNI" -CAfile "$PKI/ca.crt" -verify_return_error -brief -ign_eof \
        -tls1_3 -enable_pha $(ossl_cert) >>"$WORK/$CASE.cli.log" 2>&1 || rc=$?
    [ "$rc" = 0 ] || { cat "$WORK/$CASE.cli.log" "$WORK/$CASE.srv.log" >&2; die "$CASE: s_client failed ($rc)"; }
    srv_wait
    conn v=1.3 auth=none cfg="PHA request" cert=yes pha=request
    case_end
}

# ------------------------------------------------------------ record padding
# OpenSSL s_client -record_padding 512: every TLS 1.3 record the client
# encrypts is padded to a multiple of 512 bytes.
pad_case() {
    local name=$1 sa=$2 cc=$3 ta=$4
    case_begin "$name" "OpenSSL s_client -record_padding 512 -> s_server -tls1_3 $sa, client certificate configured: $cc" openssl openssl || return 0
    KEYS=$OUT/$name.keys
    ossl_srv -tls1_3 $sa -naccept 1
    local c=()
    [ "$cc" = yes ] && read -r -a c <<< "$(ossl_cert)"
    ossl_cli -tls1_3 -record_padding 512 "${c[@]}" -keylogfile "$KEYS"
    srv_wait
    conn v=1.3 auth="$ta" cfg="s_server $sa" cert="$cc"
    case_end
}
lab_pad512_request_nocert() { pad_case pad512-request-nocert "-verify 1" no request; }
lab_pad512_request_cert()   { pad_case pad512-request-cert "-verify 1" yes request; }
lab_pad512_none()           { pad_case pad512-none "" no none; }

# ------------------------------------------------------------ 0-RTT
# A full handshake with a required client certificate, then a resumption
# whose ClientHello is followed by early data (RFC 8446 §4.2.10).
lab_ossl13_early_data() {
    case_begin ossl13-early-data "OpenSSL s_client -> s_server -early_data -Verify 1, TLS 1.3: a full handshake with a client certificate, then a PSK resumption carrying 0-RTT data" openssl openssl || return 0
    KEYS=$OUT/ossl13-early-data.keys
    # (not -rev: only s_server's default mode reads early data; -quiet: stdin at EOF does not end it)
    srv openssl s_server -quiet -accept "$SRV4:$PORT" -cert "$PKI/server.crt" -key "$PKI/server.key" -CAfile "$PKI/ca.crt" \
        -tls1_3 -Verify 1 -verify_return_error -early_data -naccept 2
    local c
    read -r -a c <<< "$(ossl_cert)"
    local o=(openssl s_client -connect "$SRV4:$PORT" -servername "$SNI" -CAfile "$PKI/ca.crt" -verify_return_error
             -tls1_3 "${c[@]}" -keylogfile "$KEYS")
    # stdin stays open a second so that the session tickets arrive before the client quits
    CLI_LINGER=1 cli "${o[@]}" -sess_out "$WORK/$CASE.sess"
    printf 'early ping\n' > "$WORK/$CASE.early"
    CLI_LINGER=1 cli "${o[@]}" -sess_in "$WORK/$CASE.sess" -early_data "$WORK/$CASE.early"
    srv_wait
    expect_log cli '^Reused, TLSv1.3'
    expect_log cli 'Early data was accepted'
    conn v=1.3 auth=require cfg="s_server -Verify 1" cert=yes
    conn v=1.3 auth=require cfg="s_server -Verify 1" cert=no resumed=yes early=yes from="conn 0" mutual=yes
    case_end
}

# ------------------------------------------------------------ small segments, no SYN
# MTU 300: the ClientHello (276 bytes from Go) and the certificates span TCP
# segments. The -nosyn twin drops the SYNs from the capture afterwards, as
# when a capture starts late.
go_mtu() {
    local name=$1 nosyn=$2
    case_begin "$name" "Go client -> Go server, TLS 1.3, client certificate required, MTU 300 (records span segments)$([ "$nosyn" = 1 ] && echo '; SYN and SYN-ACK removed from the capture')" go go || return 0
    NOSYN=$nosyn
    set_mtu 300
    go_srv require -version 1.3
    KEYS=$OUT/$name.keys
    go_cli -version 1.3 $(go_cert) -keylog "$KEYS"
    srv_wait
    conn v=1.3 auth=require cfg=require cert=yes
    case_end
}
lab_go13_require_mtu300()       { go_mtu go13-require-mtu300 0; }
lab_go13_require_mtu300_nosyn() { go_mtu go13-require-mtu300-nosyn 1; }
lab_go13_verifyifgiven_cert()   { go_case go13-verifyifgiven-cert 1.3 verify-if-given yes request; }

# ------------------------------------------------------------ TLS 1.2 external PSK
# Full handshakes with a pre-shared key (RFC 4279, RFC 5489): no
# Certificate by design, but ServerHelloDone and ClientKeyExchange are there;
# they are not resumptions.
LAB_PSK=5f2d8e7c1a9b4f60d3e2c1b0a9f8e7d6
psk_case() {
    local name=$1 cipher=$2
    case_begin "$name" "OpenSSL s_client -> s_server -nocert, TLS 1.2, external PSK, $cipher" openssl openssl || return 0
    srv openssl s_server -accept "$SRV4:$PORT" -nocert -psk "$LAB_PSK" -tls1_2 -cipher "$cipher" -rev -naccept 1
    KEYS=$OUT/$name.keys
    CLI_IN='ping\nCLOSE\n' cli openssl s_client -connect "$SRV4:$PORT" -tls1_2 -psk "$LAB_PSK" -cipher "$cipher" \
        -brief -ign_eof -keylogfile "$KEYS"
    srv_wait
    expect_log cli "Ciphersuite: $cipher"
    conn v=1.2 auth=none cfg="PSK $cipher" psk=yes
    case_end
}
lab_ossl12_psk()       { psk_case ossl12-psk PSK-AES128-GCM-SHA256; }
lab_ossl12_dhe_psk()   { psk_case ossl12-dhe-psk DHE-PSK-AES128-GCM-SHA256; }
lab_ossl12_ecdhe_psk() { psk_case ossl12-ecdhe-psk ECDHE-PSK-CHACHA20-POLY1305; }
