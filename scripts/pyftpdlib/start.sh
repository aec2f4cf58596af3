#!/usr/bin/env bash
# Starts a pyftpdlib FTPS server (server.py, in the venv install.sh made) on 127.0.0.1 for
# one test, everything in the work directory DIR.
#
# usage: start.sh DIR [--tls13|--tls12] [--no-epsv] [--max-lifetime SECONDS]
#
#   DIR             work directory (created if missing; a fresh one per server)
#   --tls13         TLS 1.2 and 1.3 allowed, 1.3 negotiated by a client that offers it (default)
#   --tls12         TLS 1.2 only
#   --no-epsv       the server answers EPSV with 500, so clients fall back to PASV
#   --max-lifetime  the server exits by itself after this many seconds (default 600)
#
# Explicit FTPS only: pyftpdlib has no implicit mode.
#
# On success prints one line of shell-style key=values to stdout (also kept in
# DIR/server.env) and exits 0:
#   port=N pid=P dir=DIR user=ftpstest password=... ca_der=DIR/ca.der ca_pem=DIR/ca.pem
#   home=HOME log=DIR/pyftpdlib.log wrong_ca_der=... wrong_ca_pem=... pasv_min=N pasv_max=N
#   mode=explicit tls=1.3|1.2 epsv=yes|no max_lifetime=S
# On failure prints the logs to stderr, stops what it started and exits non-zero.
# Stop the server with stop.sh DIR. Needs no root.
set -Eeuo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
VENV=/opt/ftps-test/pyftpdlib-venv
PYTHON=${VENV}/bin/python
SERVER_PY=${SCRIPT_DIR}/server.py
TEST_USER=ftpstest
PASV_COUNT=32
READY_TIMEOUT_S=15
START_ATTEMPTS=5

dir=""
log=""
pid=""
fail() {
    echo "pyftpdlib/start.sh: $*" >&2
    local f
    for f in "${dir}/pyftpdlib.console" "${log}"; do
        if [[ -n ${f} && -s ${f} ]]; then
            echo "----- ${f} -----" >&2
            tail -n 100 -- "${f}" >&2
        fi
    done
    if [[ -n ${pid} && -f ${dir}/pyftpdlib.pid ]]; then
        "${SCRIPT_DIR}/stop.sh" "${dir}" >&2 || true
    fi
    exit 1
}

trap 'fail "unexpected error at line ${LINENO}: ${BASH_COMMAND}"' ERR

die() {
    echo "pyftpdlib/start.sh: $*" >&2
    exit 1
}

usage() {
    echo "usage: $0 DIR [--tls13|--tls12] [--no-epsv] [--max-lifetime SECONDS]" >&2
    exit 2
}

tls=1.3
epsv=yes
max_lifetime=600
while [[ $# -gt 0 ]]; do
    case $1 in
    --tls13) tls=1.3 ;;
    --tls12) tls=1.2 ;;
    --no-epsv) epsv=no ;;
    --implicit) die "pyftpdlib has no implicit FTPS mode" ;;
    --max-lifetime)
        [[ $# -ge 2 ]] || usage
        max_lifetime=$2
        shift
        ;;
    --max-lifetime=*) max_lifetime=${1#--max-lifetime=} ;;
    -*) usage ;;
    *)
        [[ -z ${dir} ]] || usage
        dir=$1
        ;;
    esac
    shift
done
[[ -n ${dir} ]] || usage
[[ ${max_lifetime} =~ ^[1-9][0-9]*$ ]] || die "bad --max-lifetime '${max_lifetime}' (whole seconds)"

[[ -x ${PYTHON} ]] || die "${PYTHON} not found: run scripts/install-servers.sh first"
[[ -r ${SERVER_PY} ]] || die "${SERVER_PY} not found"
command -v openssl >/dev/null || die "openssl not found: run scripts/install-servers.sh first"

mkdir -p -- "${dir}"
dir=$(cd -- "${dir}" && pwd -P)
[[ ${dir} != *$'\n'* ]] || die "DIR must not contain a newline"

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
if [[ -f ${dir}/pyftpdlib.pid && -f ${dir}/pyftpdlib.starttime ]]; then
    old_pid=$(<"${dir}/pyftpdlib.pid")
    old_start=$(<"${dir}/pyftpdlib.starttime")
    if [[ ${old_pid} =~ ^[0-9]+$ ]] && [[ $(proc_field "${old_pid}" 22 || true) == "${old_start}" ]]; then
        die "a pyftpdlib from ${dir} still runs (pid ${old_pid}): stop it with stop.sh first"
    fi
fi

home=${dir}/home
log=${dir}/pyftpdlib.log

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
        rm -f -- "${dir}/server.csr" "${dir}/server.ext"
    )
    chmod 0644 "${dir}"/ca.pem "${dir}"/ca.der "${dir}"/wrong-ca.pem "${dir}"/wrong-ca.der \
        "${dir}"/server.pem "${dir}"/server.der
    openssl verify -CAfile "${dir}/ca.pem" "${dir}/server.pem" >/dev/null ||
        die "the generated server certificate does not verify against its CA"
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

# --- start ------------------------------------------------------------------------------
make_pki
password="ftps-test-$(openssl rand -hex 12)"
(
    umask 077
    printf '%s\n' "${password}" >"${dir}/password"
    printf 'user=%s\npassword=%s\n' "${TEST_USER}" "${password}" >"${dir}/credentials"
)
mkdir -p -- "${home}"

attempt=0
while :; do
    attempt=$((attempt + 1))
    pick_ports
    : >"${log}"
    rm -f -- "${dir}/pyftpdlib.pid" "${dir}/pyftpdlib.starttime"
    : >"${dir}/pyftpdlib.console"
    args=(
        --port "${listen_port}" --pasv-min "${pasv_min}" --pasv-max "${pasv_max}"
        --cert "${dir}/server.pem" --key "${dir}/server.key" --home "${home}"
        --user "${TEST_USER}" --password-file "${dir}/password" --log "${log}"
        --tls "${tls}" --max-lifetime "${max_lifetime}"
    )
    [[ ${epsv} == no ]] && args+=(--no-epsv)
    # setsid: the server leads its own session and process group; no inherited descriptor
    # stays open, so a caller reading this script's output sees EOF when it exits.
    setsid "${PYTHON}" -u "${SERVER_PY}" "${args[@]}" \
        0</dev/null 1>>"${dir}/pyftpdlib.console" 2>&1 &
    pid=$!
    start_time=""
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        start_time=$(proc_field "${pid}" 22 || true)
        [[ -n ${start_time} ]] && break
        sleep 0.05
    done
    ready=0
    if [[ -n ${start_time} ]]; then
        echo "${pid}" >"${dir}/pyftpdlib.pid"
        echo "${start_time}" >"${dir}/pyftpdlib.starttime"
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
        fail "pyftpdlib did not listen on 127.0.0.1:${listen_port} within ${READY_TIMEOUT_S} s"
    fi
    wait "${pid}" 2>/dev/null || true
    rm -f -- "${dir}/pyftpdlib.pid" "${dir}/pyftpdlib.starttime"
    if ((attempt < START_ATTEMPTS)) && grep -q 'Address already in use' "${dir}/pyftpdlib.console"; then
        echo "pyftpdlib/start.sh: port ${listen_port} was taken, trying another" >&2
        continue
    fi
    fail "pyftpdlib exited before it listened"
done

line=$(printf 'port=%s pid=%s dir=%q user=%s password=%q ca_der=%q ca_pem=%q home=%q log=%q wrong_ca_der=%q wrong_ca_pem=%q pasv_min=%s pasv_max=%s mode=explicit tls=%s epsv=%s max_lifetime=%s' \
    "${listen_port}" "${pid}" "${dir}" "${TEST_USER}" "${password}" "${dir}/ca.der" "${dir}/ca.pem" \
    "${home}" "${log}" "${dir}/wrong-ca.der" "${dir}/wrong-ca.pem" "${pasv_min}" "${pasv_max}" \
    "${tls}" "${epsv}" "${max_lifetime}")
(umask 077 && printf '%s\n' "${line}" >"${dir}/server.env")
printf '%s\n' "${line}"
