#!/usr/bin/env bash
# Starts a real ProFTPD (with mod_tls) on 127.0.0.1 for one test, everything in the work
# directory DIR. The server is the one scripts/proftpd/install.sh unpacked.
#
# usage: start.sh DIR [--implicit] [--tls13|--tls12] [--opt 'Directive value']...
#
#   DIR          work directory (created if missing; a fresh one per server)
#   --implicit   implicit FTPS (TLS from the first byte, TLSOptions UseImplicitSSL) instead
#                of explicit AUTH TLS
#   --tls13      TLS 1.2 and 1.3 allowed, 1.3 negotiated by a client that offers it (default)
#   --tls12      TLS 1.2 only
#   --opt 'D V'  replace every top-level line of directive D in proftpd.conf with "D V", or
#                add it (e.g. 'TLSRequired on', 'TLSOptions NoSessionReuseRequired');
#                may be repeated
#
# TLSRequired is auth+data unless overridden: login and data connections need TLS, and CCC
# is accepted after login (with 'TLSRequired on' ProFTPD answers CCC with 534).
#
# On success prints one line of shell-style key=values to stdout (also kept in
# DIR/server.env) and exits 0:
#   port=N pid=P dir=DIR user=ftpstest password=... ca_der=DIR/ca.der ca_pem=DIR/ca.pem
#   home=HOME log=DIR/proftpd.log tls_log=DIR/tls.log protocol_log=DIR/protocol.log
#   wrong_ca_der=... wrong_ca_pem=... pasv_min=N pasv_max=N mode=explicit|implicit
#   tls=1.3|1.2 tls_required=auth+data|...
# On failure prints the logs to stderr, stops what it started and exits non-zero.
# Stop the server with stop.sh DIR. Must run as root (it may create a system user, and
# ProFTPD switches to the user's uid for each session).
set -Eeuo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
TEMPLATE=${SCRIPT_DIR}/proftpd.conf.in
PREFIX=/opt/ftps-test/proftpd
PROFTPD=${PREFIX}/usr/sbin/proftpd
MODULE_PATH=${PREFIX}/usr/lib/proftpd
# The same system user as scripts/vsftpd/start.sh (created the same way, under the same
# lock); ProFTPD's own user file gives it a per-instance password and home.
TEST_USER=ftpstest
STATE_DIR=/var/lib/ftps-test
PASV_COUNT=32
READY_TIMEOUT_S=10
START_ATTEMPTS=5

dir=""
pid=""
fail() {
    echo "proftpd/start.sh: $*" >&2
    local f
    for f in "${dir}/proftpd.console" "${dir}/proftpd.log" "${dir}/tls.log"; do
        if [[ -s ${f} ]]; then
            echo "----- ${f} -----" >&2
            tail -n 100 -- "${f}" >&2
        fi
    done
    if [[ -n ${pid} && -f ${dir}/proftpd.pid ]]; then
        "${SCRIPT_DIR}/stop.sh" "${dir}" >&2 || true
    fi
    exit 1
}

trap 'fail "unexpected error at line ${LINENO}: ${BASH_COMMAND}"' ERR

die() {
    echo "proftpd/start.sh: $*" >&2
    exit 1
}

usage() {
    echo "usage: $0 DIR [--implicit] [--tls13|--tls12] [--opt 'Directive value']..." >&2
    exit 2
}

implicit=0
tls=1.3
opts=()
while [[ $# -gt 0 ]]; do
    case $1 in
    --implicit) implicit=1 ;;
    --tls13) tls=1.3 ;;
    --tls12) tls=1.2 ;;
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
    # One line, a directive name, then its arguments; no <Section> blocks.
    [[ ${opt} =~ ^[A-Za-z][A-Za-z0-9]*([[:blank:]][^$'\n']*)?$ ]] ||
        die "bad --opt '${opt}' (want 'Directive value')"
done

[[ ${EUID} -eq 0 ]] || die "must run as root (it may create the system user ${TEST_USER})"
[[ -x ${PROFTPD} && -f ${MODULE_PATH}/mod_tls.so ]] ||
    die "${PROFTPD} or mod_tls.so not found: run scripts/install-servers.sh first"
command -v openssl >/dev/null || die "openssl not found: run scripts/install-servers.sh first"
[[ -r ${TEMPLATE} ]] || die "template ${TEMPLATE} not found"

mkdir -p -- "${dir}"
dir=$(cd -- "${dir}" && pwd -P)
[[ ${dir} != *$'\n'* && ${dir} != *[[:space:]\"]* ]] ||
    die "DIR must not contain white space or quotes (ProFTPD's configuration syntax)"

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
if [[ -f ${dir}/proftpd.pid && -f ${dir}/proftpd.starttime ]]; then
    old_pid=$(<"${dir}/proftpd.pid")
    old_start=$(<"${dir}/proftpd.starttime")
    if [[ ${old_pid} =~ ^[0-9]+$ ]] && [[ $(proc_field "${old_pid}" 22 || true) == "${old_start}" ]]; then
        die "a proftpd from ${dir} still runs (pid ${old_pid}): stop it with stop.sh first"
    fi
fi

home=${dir}/home
log=${dir}/proftpd.log

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
    # Certificates are public; keys stay root-only (ProFTPD reads them as root at start).
    chmod 0644 "${dir}"/ca.pem "${dir}"/ca.der "${dir}"/wrong-ca.pem "${dir}"/wrong-ca.der \
        "${dir}"/server.pem "${dir}"/server.der
    openssl verify -CAfile "${dir}/ca.pem" "${dir}/server.pem" >/dev/null ||
        die "the generated server certificate does not verify against its CA"
}

# --- system user (shared with the vsftpd script, under its lock) ----------------------
setup_user() {
    mkdir -p -- "${STATE_DIR}"
    chmod 0755 "${STATE_DIR}"
    exec 9>"${STATE_DIR}/.lock"
    flock -w 60 9 || die "timed out waiting for ${STATE_DIR}/.lock"
    if ! getent passwd "${TEST_USER}" >/dev/null; then
        useradd --system -M -U -d "${STATE_DIR}" -s /usr/sbin/nologin \
            -c "ftps interop tests" "${TEST_USER}"
    fi
    flock -u 9
    exec 9>&-
    uid=$(id -u "${TEST_USER}")
    gid=$(id -g "${TEST_USER}")
    group=$(id -gn "${TEST_USER}")
}

# The login: a password of this instance only, in ProFTPD's own passwd-format file.
write_auth_files() {
    password="ftps-test-$(openssl rand -hex 12)"
    local hash
    hash=$(openssl passwd -6 -stdin <<<"${password}")
    (
        umask 077
        printf '%s:%s:%s:%s:ftps interop tests:%s:/usr/sbin/nologin\n' \
            "${TEST_USER}" "${hash}" "${uid}" "${gid}" "${home}" >"${dir}/ftpd.passwd"
        printf '%s:x:%s:\n' "${group}" "${gid}" >"${dir}/ftpd.group"
        printf 'user=%s\npassword=%s\n' "${TEST_USER}" "${password}" >"${dir}/credentials"
    )
}

# --- ports ----------------------------------------------------------------------------
used_ports() { # every local TCP port in any state, IPv4 and IPv6, in decimal
    # (no strtonum: Debian's default awk is mawk)
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

# --- config ---------------------------------------------------------------------------
tls_required=auth+data
for opt in "${opts[@]}"; do
    read -r name rest <<<"${opt}"
    if [[ ${name,,} == tlsrequired ]]; then
        tls_required=${rest}
    fi
done

write_config() {
    local conf line name protocol=TLSv1.2 tls_options=""
    [[ ${tls} == 1.3 ]] && protocol="TLSv1.2 TLSv1.3"
    ((implicit)) && tls_options=UseImplicitSSL
    conf=$(<"${TEMPLATE}")
    conf=${conf//@MODULE_PATH@/"${MODULE_PATH}"}
    conf=${conf//@PORT@/"${listen_port}"}
    conf=${conf//@PASV_MIN@/"${pasv_min}"}
    conf=${conf//@PASV_MAX@/"${pasv_max}"}
    conf=${conf//@DIR@/"${dir}"}
    conf=${conf//@USER@/"${TEST_USER}"}
    conf=${conf//@GROUP@/"${group}"}
    conf=${conf//@TLS_REQUIRED@/auth+data}
    conf=${conf//@TLS_PROTOCOL@/"${protocol}"}
    conf=${conf//@TLS_OPTIONS@/"${tls_options}"}
    for line in "${opts[@]}"; do
        read -r name _ <<<"${line}"
        conf=$(printf '%s\n' "${conf}" | grep -v -i -E "^[[:blank:]]*${name}([[:blank:]]|$)" || true)
        conf+=$'\n'"${line}"
    done
    printf '%s\n' "${conf}" >"${dir}/proftpd.conf"
    chmod 0600 "${dir}/proftpd.conf"
}

# --- start ------------------------------------------------------------------------------
make_pki
# Nothing but the final key=value line may reach stdout (useradd may print).
setup_user >&2
write_auth_files

mkdir -p -- "${home}"
chown "${TEST_USER}:${group}" "${home}"
chmod 0755 "${home}"
# The session process changes into the home as the user, so DIR (often a 0700 temporary
# directory) must let the user through.
chmod o+x,g+x "${dir}"
if ! setpriv --reuid="${uid}" --regid="${gid}" --clear-groups -- \
    test -r "${home}" -a -w "${home}" -a -x "${home}"; then
    die "${TEST_USER} cannot use ${home}: every directory above it must be searchable (o+x)"
fi

attempt=0
while :; do
    attempt=$((attempt + 1))
    pick_ports
    write_config
    for f in proftpd.log tls.log protocol.log xferlog; do
        : >"${dir}/${f}"
    done
    rm -f -- "${dir}/proftpd.pid" "${dir}/proftpd.starttime"
    "${PROFTPD}" -t -c "${dir}/proftpd.conf" >"${dir}/proftpd.check" 2>&1 ||
        fail "proftpd rejects the configuration: $(cat "${dir}/proftpd.check")"
    # setsid makes proftpd the leader of a new session and process group whose id is its
    # PID (bash does not put background jobs in their own group without job control, so
    # setsid does not fork and $! is proftpd itself). -n keeps it in the foreground; no
    # inherited descriptor stays open, so a caller reading this script's output sees EOF
    # when it exits.
    : >"${dir}/proftpd.console"
    setsid "${PROFTPD}" -n -c "${dir}/proftpd.conf" \
        </dev/null >"${dir}/proftpd.console" 2>&1 9>&- &
    pid=$!
    start_time=""
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        start_time=$(proc_field "${pid}" 22 || true)
        [[ -n ${start_time} ]] && break
        sleep 0.05
    done
    ready=0
    if [[ -n ${start_time} ]]; then
        echo "${pid}" >"${dir}/proftpd.pid"
        echo "${start_time}" >"${dir}/proftpd.starttime"
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
        fail "proftpd did not listen on 127.0.0.1:${listen_port} within ${READY_TIMEOUT_S} s"
    fi
    wait "${pid}" 2>/dev/null || true
    rm -f -- "${dir}/proftpd.pid" "${dir}/proftpd.starttime"
    if ((attempt < START_ATTEMPTS)) &&
        grep -q -i 'address already in use' "${dir}/proftpd.console" "${log}" 2>/dev/null; then
        echo "proftpd/start.sh: port ${listen_port} was taken, trying another" >&2
        continue
    fi
    fail "proftpd exited before it listened"
done

comm=$(cat "/proc/${pid}/comm" 2>/dev/null || true)
[[ ${comm} == proftpd ]] || fail "process ${pid} is '${comm}', not proftpd"

mode=explicit
((implicit)) && mode=implicit
line=$(printf 'port=%s pid=%s dir=%q user=%s password=%q ca_der=%q ca_pem=%q home=%q log=%q tls_log=%q protocol_log=%q wrong_ca_der=%q wrong_ca_pem=%q pasv_min=%s pasv_max=%s mode=%s tls=%s tls_required=%q' \
    "${listen_port}" "${pid}" "${dir}" "${TEST_USER}" "${password}" "${dir}/ca.der" "${dir}/ca.pem" \
    "${home}" "${log}" "${dir}/tls.log" "${dir}/protocol.log" "${dir}/wrong-ca.der" \
    "${dir}/wrong-ca.pem" "${pasv_min}" "${pasv_max}" "${mode}" "${tls}" "${tls_required}")
(umask 077 && printf '%s\n' "${line}" >"${dir}/server.env")
printf '%s\n' "${line}"
