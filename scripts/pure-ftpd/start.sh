#!/usr/bin/env bash
# Starts a real Pure-FTPd (Debian's 1.0.50, unpacked by install.sh) on 127.0.0.1 for one
# test, everything in the work directory DIR.
#
# usage: start.sh DIR [--tls13|--tls12] [--opt FLAG]...
#
#   DIR          work directory (created if missing; a fresh one per server)
#   --tls13      TLS 1.2 and 1.3 allowed, 1.3 negotiated by a client that offers it (default)
#   --tls12      TLS 1.2 only
#   --opt FLAG   one more pure-ftpd command-line argument (e.g. --opt=-N); may be repeated
#
# Explicit FTPS only: Debian's build has no implicit mode (upstream makes it a build-time
# choice, --with-implicittls, for the whole server).
#
# On success prints one line of shell-style key=values to stdout (also kept in
# DIR/server.env) and exits 0:
#   port=N pid=P dir=DIR user=ftpstest password=... ca_der=DIR/ca.der ca_pem=DIR/ca.pem
#   home=HOME log=DIR/xferlog console=DIR/pure-ftpd.console wrong_ca_der=... wrong_ca_pem=...
#   pasv_min=N pasv_max=N mode=explicit tls=1.3|1.2
# On failure prints the logs to stderr, stops what it started and exits non-zero.
# Stop the server with stop.sh DIR. Must run as root (Pure-FTPd chroots and changes uid).
set -Eeuo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
PREFIX=/opt/ftps-test/pure-ftpd
PURE_FTPD=${PREFIX}/usr/sbin/pure-ftpd
PURE_PW=${PREFIX}/usr/bin/pure-pw
TEST_USER=ftpstest
# The virtual user's files belong to this existing system account (no account is created).
RUN_AS=nobody
PASV_COUNT=32
READY_TIMEOUT_S=10
START_ATTEMPTS=5

dir=""
log=""
pid=""
fail() {
    echo "pure-ftpd/start.sh: $*" >&2
    local f
    for f in "${dir}/pure-ftpd.console" "${log}"; do
        if [[ -n ${f} && -s ${f} ]]; then
            echo "----- ${f} -----" >&2
            tail -n 100 -- "${f}" >&2
        fi
    done
    if [[ -n ${pid} && -f ${dir}/pure-ftpd.pid ]]; then
        "${SCRIPT_DIR}/stop.sh" "${dir}" >&2 || true
    fi
    exit 1
}

trap 'fail "unexpected error at line ${LINENO}: ${BASH_COMMAND}"' ERR

die() {
    echo "pure-ftpd/start.sh: $*" >&2
    exit 1
}

usage() {
    echo "usage: $0 DIR [--tls13|--tls12] [--opt FLAG]..." >&2
    exit 2
}

tls=1.3
opts=()
while [[ $# -gt 0 ]]; do
    case $1 in
    --tls13) tls=1.3 ;;
    --tls12) tls=1.2 ;;
    --implicit) die "Debian's Pure-FTPd has no implicit FTPS mode" ;;
    --opt)
        [[ $# -ge 2 ]] || usage
        opts+=("$2")
        shift
        ;;
    --opt=*) opts+=("${1#--opt=}") ;;
    -*) usage ;;
    *)
        [[ -z ${dir} ]] || usage
        dir=$1
        ;;
    esac
    shift
done
[[ -n ${dir} ]] || usage
for opt in "${opts[@]}"; do
    [[ ${opt} =~ ^-[A-Za-z0-9-][^$'\n']*$ ]] || die "bad --opt '${opt}' (want a flag such as -N)"
done

[[ ${EUID} -eq 0 ]] || die "must run as root (Pure-FTPd chroots and changes uid)"
[[ -x ${PURE_FTPD} && -x ${PURE_PW} ]] ||
    die "${PURE_FTPD} not found: run scripts/install-servers.sh first"
command -v openssl >/dev/null || die "openssl not found: run scripts/install-servers.sh first"
run_uid=$(id -u "${RUN_AS}") || die "no system user ${RUN_AS}"
run_gid=$(id -g "${RUN_AS}")

mkdir -p -- "${dir}"
dir=$(cd -- "${dir}" && pwd -P)
[[ ${dir} != *[[:space:]:]* ]] || die "DIR must not contain white space or ':' (PureDB and -S syntax)"

# Fields 3 and on of /proc/PID/stat follow the ")" that closes the command name.
proc_field() { # PID FIELD_NUMBER (1-based, as in proc(5))
    local stat rest
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    rest=${stat##*) }
    local -a fields
    read -r -a fields <<<"${rest}"
    echo "${fields[$(($2 - 3))]}"
}

# Refuse to start a second server from the same DIR while the first still runs.
if [[ -f ${dir}/pure-ftpd.pid && -f ${dir}/pure-ftpd.starttime ]]; then
    old_pid=$(<"${dir}/pure-ftpd.pid")
    old_start=$(<"${dir}/pure-ftpd.starttime")
    if [[ ${old_pid} =~ ^[0-9]+$ ]] && [[ $(proc_field "${old_pid}" 22 || true) == "${old_start}" ]]; then
        die "a pure-ftpd from ${dir} still runs (pid ${old_pid}): stop it with stop.sh first"
    fi
fi

home=${dir}/home
log=${dir}/xferlog

# --- test PKI -----------------------------------------------------------------------
make_ca() { # NAME SUBJECT
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 30 \
        -keyout "${dir}/$1.key" -out "${dir}/$1.pem" -subj "$2" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash" 2>/dev/null
    openssl x509 -in "${dir}/$1.pem" -outform DER -out "${dir}/$1.der"
}

make_pki() {
    (
        umask 077
        make_ca ca "/CN=ftps interop test CA"
        make_ca wrong-ca "/CN=ftps unrelated test CA"
        openssl req -new -newkey rsa:2048 -nodes -sha256 \
            -keyout "${dir}/server.key" -out "${dir}/server.csr" -subj "/CN=localhost" 2>/dev/null
        cat >"${dir}/server.ext" <<'EXT'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EXT
        openssl x509 -req -in "${dir}/server.csr" -CA "${dir}/ca.pem" -CAkey "${dir}/ca.key" \
            -set_serial "0x$(openssl rand -hex 8)" -days 30 -sha256 \
            -extfile "${dir}/server.ext" -out "${dir}/server.pem" 2>/dev/null
        openssl x509 -in "${dir}/server.pem" -outform DER -out "${dir}/server.der"
        # Pure-FTPd reads the chain and the key from one file (-2 FILE): certificate first.
        cat "${dir}/server.pem" "${dir}/server.key" >"${dir}/server-combined.pem"
        rm -f -- "${dir}/server.csr" "${dir}/server.ext"
    )
    chmod 0644 "${dir}"/ca.pem "${dir}"/ca.der "${dir}"/wrong-ca.pem "${dir}"/wrong-ca.der \
        "${dir}"/server.pem "${dir}"/server.der
    openssl verify -CAfile "${dir}/ca.pem" "${dir}/server.pem" >/dev/null ||
        die "the generated server certificate does not verify against its CA"
}

# --- virtual user ----------------------------------------------------------------------
# A PureDB with one virtual user, built by the unpacked pure-pw. The password line is
# written directly with a SHA-512 crypt(3) hash: `pure-pw useradd` hashes with argon2id at
# a cost that makes every login take about 2.5 s on these machines.
make_user() {
    password="ftps-test-$(openssl rand -hex 12)"
    local hash
    hash=$(openssl passwd -6 -stdin <<<"${password}")
    (
        umask 077
        printf '%s:%s:%s:%s::%s/./::::::::::::\n' "${TEST_USER}" "${hash}" "${run_uid}" \
            "${run_gid}" "${home}" >"${dir}/pureftpd.passwd"
        printf 'user=%s\npassword=%s\n' "${TEST_USER}" "${password}" >"${dir}/credentials"
    )
    "${PURE_PW}" mkdb "${dir}/pureftpd.pdb" -f "${dir}/pureftpd.passwd" >&2
}

# --- ports ----------------------------------------------------------------------------
used_ports() { # every local TCP port in any state, IPv4 and IPv6, in decimal
    awk 'FNR > 1 { split($2, a, ":"); h = toupper(a[2]); n = 0
        for (i = 1; i <= length(h); i++) n = n * 16 + index("0123456789ABCDEF", substr(h, i, 1)) - 1
        print n }' /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -un
}

pick_ports() { # sets listen_port, pasv_min, pasv_max
    local lo hi base_lo base_hi used span tries=0 p ok
    read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
    # Stay out of the ephemeral range so that outgoing connections cannot take our ports.
    if ((lo >= 12000)); then
        base_lo=10000 base_hi=$((lo - 1))
    elif ((hi <= 60000)); then
        base_lo=$((hi + 1)) base_hi=65535
    else
        base_lo=10000 base_hi=65535
    fi
    span=$((base_hi - base_lo + 1 - PASV_COUNT - 1))
    used=" $(used_ports | tr '\n' ' ') "
    while ((tries < 200)); do
        tries=$((tries + 1))
        listen_port=$((base_lo + (RANDOM * 32768 + RANDOM) % span))
        pasv_min=$((listen_port + 1))
        pasv_max=$((listen_port + PASV_COUNT))
        ok=1
        for ((p = listen_port; p <= pasv_max; p++)); do
            if [[ ${used} == *" ${p} "* ]]; then
                ok=0
                break
            fi
        done
        ((ok)) && return 0
    done
    die "found no free block of $((PASV_COUNT + 1)) ports"
}

port_listens() { # PORT: is 127.0.0.1:PORT in LISTEN state?
    local want
    want=$(printf '0100007F:%04X' "$1")
    awk -v want="${want}" 'FNR > 1 && $2 == want && $4 == "0A" { found = 1 } END { exit !found }' \
        /proc/net/tcp
}

# Pure-FTPd has no TLS version option (-J sets the TLS 1.2 cipher list only, which does not
# turn TLS 1.3 off) and does not set protocol bounds itself: OpenSSL 3 applies this
# system_default section to its SSL_CTX.
write_openssl_conf() {
    local max=TLSv1.3
    [[ ${tls} == 1.2 ]] && max=TLSv1.2
    cat >"${dir}/openssl.cnf" <<EOF
# written by ftps scripts/pure-ftpd/start.sh; given to pure-ftpd as OPENSSL_CONF
openssl_conf = openssl_init

[openssl_init]
ssl_conf = ssl_module

[ssl_module]
system_default = tls_versions

[tls_versions]
MinProtocol = TLSv1.2
MaxProtocol = ${max}
EOF
}

# --- start ------------------------------------------------------------------------------
make_pki
make_user
write_openssl_conf
mkdir -p -- "${home}"
chown "${run_uid}:${run_gid}" "${home}"
chmod 0755 "${home}"
chmod o+x,g+x "${dir}"

attempt=0
while :; do
    attempt=$((attempt + 1))
    pick_ports
    : >"${log}"
    rm -f -- "${dir}/pure-ftpd.pid" "${dir}/pure-ftpd.starttime"
    : >"${dir}/pure-ftpd.console"
    args=(
        -S "127.0.0.1,${listen_port}"   # bind
        -p "${pasv_min}:${pasv_max}"     # passive ports
        -l "puredb:${dir}/pureftpd.pdb"  # virtual users only
        -Y 3                             # TLS required on control and data connections
        -2 "${dir}/server-combined.pem"  # certificate chain + key
        -E                               # no anonymous logins
        -A                               # chroot every user into their home
        -H                               # no reverse DNS
        -O "clf:${log}"                  # transfer log (the protocol log goes to syslog)
        "${opts[@]}"
    )
    # setsid: the server leads its own session and process group; no inherited descriptor
    # stays open, so a caller reading this script's output sees EOF when it exits.
    OPENSSL_CONF=${dir}/openssl.cnf setsid "${PURE_FTPD}" "${args[@]}" \
        0</dev/null 1>>"${dir}/pure-ftpd.console" 2>&1 &
    pid=$!
    start_time=""
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        start_time=$(proc_field "${pid}" 22 || true)
        [[ -n ${start_time} ]] && break
        sleep 0.05
    done
    ready=0
    if [[ -n ${start_time} ]]; then
        echo "${pid}" >"${dir}/pure-ftpd.pid"
        echo "${start_time}" >"${dir}/pure-ftpd.starttime"
        deadline=$((SECONDS + READY_TIMEOUT_S))
        while ((SECONDS <= deadline)); do
            if ! kill -0 "${pid}" 2>/dev/null || [[ $(proc_field "${pid}" 3 || true) == Z ]]; then
                break
            fi
            if port_listens "${listen_port}"; then
                ready=1
                break
            fi
            sleep 0.05
        done
    fi
    if ((ready)); then
        break
    fi
    if kill -0 "${pid}" 2>/dev/null && [[ $(proc_field "${pid}" 3 || true) != Z ]]; then
        fail "pure-ftpd did not listen on 127.0.0.1:${listen_port} within ${READY_TIMEOUT_S} s"
    fi
    wait "${pid}" 2>/dev/null || true
    rm -f -- "${dir}/pure-ftpd.pid" "${dir}/pure-ftpd.starttime"
    # (pure-ftpd exits with status 0 when it cannot bind)
    if ((attempt < START_ATTEMPTS)) && grep -q 'Address already in use' "${dir}/pure-ftpd.console"; then
        echo "pure-ftpd/start.sh: port ${listen_port} was taken, trying another" >&2
        continue
    fi
    fail "pure-ftpd exited before it listened"
done

comm=$(cat "/proc/${pid}/comm" 2>/dev/null || true)
[[ ${comm} == pure-ftpd ]] || fail "process ${pid} is '${comm}', not pure-ftpd"

line=$(printf 'port=%s pid=%s dir=%q user=%s password=%q ca_der=%q ca_pem=%q home=%q log=%q console=%q wrong_ca_der=%q wrong_ca_pem=%q pasv_min=%s pasv_max=%s mode=explicit tls=%s' \
    "${listen_port}" "${pid}" "${dir}" "${TEST_USER}" "${password}" "${dir}/ca.der" "${dir}/ca.pem" \
    "${home}" "${log}" "${dir}/pure-ftpd.console" "${dir}/wrong-ca.der" "${dir}/wrong-ca.pem" \
    "${pasv_min}" "${pasv_max}" "${tls}")
(umask 077 && printf '%s\n' "${line}" >"${dir}/server.env")
printf '%s\n' "${line}"
