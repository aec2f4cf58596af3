#!/usr/bin/env bash
# Starts a real vsftpd on 127.0.0.1 for one test, everything in the work directory DIR.
#
# usage: start.sh DIR [--implicit] [--tls13|--tls12] [--opt KEY=VALUE]...
#
#   DIR          work directory (created if missing; a fresh one per server)
#   --implicit   implicit FTPS (TLS from the first byte) instead of explicit AUTH TLS
#   --tls13      TLS 1.2 and 1.3 allowed, 1.3 negotiated by a client that offers it (default)
#   --tls12      TLS 1.2 only
#   --opt K=V    override or add one vsftpd.conf line (e.g. require_ssl_reuse=NO,
#                strict_ssl_read_eof=YES); may be repeated
#
# On success prints one line of shell-style key=values to stdout (also kept in
# DIR/server.env) and exits 0:
#   port=N pid=P dir=DIR user=ftpstest password=... ca_der=DIR/ca.der ca_pem=DIR/ca.pem
#   home=HOME log=DIR/vsftpd.log wrong_ca_der=... wrong_ca_pem=... pasv_min=N pasv_max=N
#   mode=explicit|implicit tls=1.3|1.2
# On failure prints the logs to stderr, stops what it started and exits non-zero.
# Stop the server with stop.sh DIR. Must run as root (it creates a system user).
set -Eeuo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
TEMPLATE=${SCRIPT_DIR}/vsftpd.conf.in
VSFTPD=/usr/sbin/vsftpd
TEST_USER=ftpstest
STATE_DIR=/var/lib/ftps-test
PAM_SERVICE=ftps-test-vsftpd
PASV_COUNT=32
READY_TIMEOUT_S=10
START_ATTEMPTS=5

dir=""
log=""
pid=""
fail() {
    echo "vsftpd/start.sh: $*" >&2
    local f
    for f in "${dir}/vsftpd.console" "${log}"; do
        if [[ -s ${f} ]]; then
            echo "----- ${f} -----" >&2
            tail -n 100 -- "${f}" >&2
        fi
    done
    if [[ -n ${pid} && -f ${dir}/vsftpd.pid ]]; then
        "${SCRIPT_DIR}/stop.sh" "${dir}" >&2 || true
    fi
    exit 1
}

trap 'fail "unexpected error at line ${LINENO}: ${BASH_COMMAND}"' ERR

die() {
    echo "vsftpd/start.sh: $*" >&2
    exit 1
}

usage() {
    echo "usage: $0 DIR [--implicit] [--tls13|--tls12] [--opt KEY=VALUE]..." >&2
    exit 2
}

dir=""
implicit=NO
tls=1.3
opts=()
while [[ $# -gt 0 ]]; do
    case $1 in
    --implicit) implicit=YES ;;
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
    [[ ${opt} =~ ^[a-z0-9_]+=[^$'\n']*$ ]] || die "bad --opt '${opt}' (want key=value)"
done

[[ ${EUID} -eq 0 ]] || die "must run as root (it creates the system user ${TEST_USER})"
[[ -x ${VSFTPD} ]] || die "${VSFTPD} not found: run scripts/install-servers.sh first"
command -v openssl >/dev/null || die "openssl not found: run scripts/install-servers.sh first"
[[ -r ${TEMPLATE} ]] || die "template ${TEMPLATE} not found"

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
if [[ -f ${dir}/vsftpd.pid && -f ${dir}/vsftpd.starttime ]]; then
    old_pid=$(<"${dir}/vsftpd.pid")
    old_start=$(<"${dir}/vsftpd.starttime")
    if [[ ${old_pid} =~ ^[0-9]+$ ]] && [[ $(proc_field "${old_pid}" 22 || true) == "${old_start}" ]]; then
        die "a vsftpd from ${dir} still runs (pid ${old_pid}): stop it with stop.sh first"
    fi
fi

home=${dir}/home
log=${dir}/vsftpd.log

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
        cat >"${dir}/server.ext" <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
        openssl x509 -req -in "${dir}/server.csr" -CA "${dir}/ca.pem" -CAkey "${dir}/ca.key" \
            -set_serial "0x$(openssl rand -hex 8)" -days 30 -sha256 \
            -extfile "${dir}/server.ext" -out "${dir}/server.pem" 2>/dev/null
        openssl x509 -in "${dir}/server.pem" -outform DER -out "${dir}/server.der"
        rm -f -- "${dir}/server.csr" "${dir}/server.ext"
    )
    # Certificates are public; keys stay root-only (vsftpd reads them as root).
    chmod 0644 "${dir}"/ca.pem "${dir}"/ca.der "${dir}"/wrong-ca.pem "${dir}"/wrong-ca.der \
        "${dir}"/server.pem "${dir}"/server.der
    openssl verify -CAfile "${dir}/ca.pem" "${dir}/server.pem" >/dev/null ||
        die "the generated server certificate does not verify against its CA"
}

# --- system user and PAM service (shared by all instances, under a lock) ------------
setup_user() {
    mkdir -p -- "${STATE_DIR}"
    chmod 0755 "${STATE_DIR}"
    exec 9>"${STATE_DIR}/.lock"
    flock -w 60 9 || die "timed out waiting for ${STATE_DIR}/.lock"

    # A dedicated PAM service: Debian's /etc/pam.d/vsftpd also wants a login shell listed
    # in /etc/shells (pam_shells) and a user absent from /etc/ftpusers (pam_listfile);
    # this one checks the password and account with pam_unix only.
    local pam_file=/etc/pam.d/${PAM_SERVICE} pam_text
    pam_text=$'# written by ftps scripts/vsftpd/start.sh for the interop test user\nauth\trequired\tpam_unix.so\naccount\trequired\tpam_unix.so\nsession\trequired\tpam_permit.so\n'
    if [[ ! -f ${pam_file} || $(<"${pam_file}")$'\n' != "${pam_text}" ]]; then
        printf '%s' "${pam_text}" >"${pam_file}.tmp.$$"
        chmod 0644 "${pam_file}.tmp.$$"
        mv -f -- "${pam_file}.tmp.$$" "${pam_file}"
    fi

    # One password for the machine, kept root-only, so that restarting a user for one
    # instance never changes the password under another instance that runs at the time.
    local pass_file=${STATE_DIR}/password
    if [[ ! -s ${pass_file} ]]; then
        (umask 077 && echo "ftps-test-$(openssl rand -hex 12)" >"${pass_file}.tmp.$$")
        mv -f -- "${pass_file}.tmp.$$" "${pass_file}"
    fi
    password=$(<"${pass_file}")

    # The passwd home is a fixed root-owned directory; each instance's own home is given
    # to vsftpd as local_root, so instances do not steal each other's home.
    local entry
    if entry=$(getent passwd "${TEST_USER}"); then
        IFS=: read -r _ _ _ _ _ entry_home entry_shell <<<"${entry}"
        if [[ ${entry_home} != "${STATE_DIR}" || ${entry_shell} != /usr/sbin/nologin ]]; then
            usermod -d "${STATE_DIR}" -s /usr/sbin/nologin "${TEST_USER}"
        fi
    else
        useradd --system -M -U -d "${STATE_DIR}" -s /usr/sbin/nologin \
            -c "ftps interop tests" "${TEST_USER}"
    fi
    echo "${TEST_USER}:${password}" | chpasswd
    flock -u 9
    exec 9>&-
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
write_config() {
    local conf key line
    conf=$(<"${TEMPLATE}")
    conf=${conf//@LISTEN_PORT@/"${listen_port}"}
    conf=${conf//@PASV_MIN@/"${pasv_min}"}
    conf=${conf//@PASV_MAX@/"${pasv_max}"}
    conf=${conf//@HOME@/"${home}"}
    conf=${conf//@DIR@/"${dir}"}
    conf=${conf//@IMPLICIT@/"${implicit}"}
    conf=${conf//@PAM_SERVICE@/"${PAM_SERVICE}"}
    for line in "${opts[@]}"; do
        key=${line%%=*}
        conf=$(printf '%s\n' "${conf}" | grep -v -E "^${key}=" || true)
        conf+=$'\n'"${line}"
    done
    printf '%s\n' "${conf}" >"${dir}/vsftpd.conf"
    chmod 0600 "${dir}/vsftpd.conf"

    # vsftpd 3.0.3 has no option for TLS 1.2/1.3: OpenSSL 3 applies this system_default
    # section to every SSL_CTX the process makes.
    local max=TLSv1.3
    [[ ${tls} == 1.2 ]] && max=TLSv1.2
    cat >"${dir}/openssl.cnf" <<EOF
# written by ftps scripts/vsftpd/start.sh; given to vsftpd as OPENSSL_CONF
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
# Nothing but the final key=value line may reach stdout (usermod and chpasswd may print).
setup_user >&2

mkdir -p -- "${home}" "${dir}/empty"
chown root:root "${dir}/empty"
chmod 0755 "${dir}/empty"
chown "${TEST_USER}:${TEST_USER}" "${home}"
chmod 0755 "${home}"
# vsftpd changes into the home as the user before it chroots there, so DIR (often a 0700
# temporary directory) must let the user through.
chmod o+x,g+x "${dir}"
if ! setpriv --reuid="${TEST_USER}" --regid="${TEST_USER}" --clear-groups -- \
    test -r "${home}" -a -w "${home}" -a -x "${home}"; then
    die "${TEST_USER} cannot use ${home}: every directory above it must be searchable (o+x)"
fi
(umask 077 && printf 'user=%s\npassword=%s\n' "${TEST_USER}" "${password}" >"${dir}/credentials")

attempt=0
while :; do
    attempt=$((attempt + 1))
    pick_ports
    write_config
    : >"${log}"
    rm -f -- "${dir}/vsftpd.pid" "${dir}/vsftpd.starttime"
    # setsid makes vsftpd the leader of a new session and process group whose id is its
    # PID (bash does not put background jobs in their own group without job control, so
    # setsid does not fork and $! is vsftpd itself). No inherited descriptor stays open,
    # so a caller reading this script's output sees EOF when it exits. vsftpd writes its
    # start-up "500 OOPS" to fd 0 (its control-connection descriptor), not to stderr, so
    # fds 0, 1 and 2 all share one read-write open of DIR/vsftpd.console.
    : >"${dir}/vsftpd.console"
    OPENSSL_CONF=${dir}/openssl.cnf setsid "${VSFTPD}" "${dir}/vsftpd.conf" \
        0<>"${dir}/vsftpd.console" 1>&0 2>&0 9>&- &
    pid=$!
    start_time=""
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        start_time=$(proc_field "${pid}" 22 || true)
        [[ -n ${start_time} ]] && break
        sleep 0.05
    done
    ready=0
    if [[ -n ${start_time} ]]; then
        echo "${pid}" >"${dir}/vsftpd.pid"
        echo "${start_time}" >"${dir}/vsftpd.starttime"
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
        fail "vsftpd did not listen on 127.0.0.1:${listen_port} within ${READY_TIMEOUT_S} s"
    fi
    wait "${pid}" 2>/dev/null || true
    rm -f -- "${dir}/vsftpd.pid" "${dir}/vsftpd.starttime"
    if ((attempt < START_ATTEMPTS)) && grep -q 'could not bind' "${dir}/vsftpd.console" 2>/dev/null; then
        echo "vsftpd/start.sh: port ${listen_port} was taken, trying another" >&2
        continue
    fi
    fail "vsftpd exited before it listened"
done

comm=$(cat "/proc/${pid}/comm" 2>/dev/null || true)
[[ ${comm} == vsftpd ]] || fail "process ${pid} is '${comm}', not vsftpd"

mode=explicit
[[ ${implicit} == YES ]] && mode=implicit
line=$(printf 'port=%s pid=%s dir=%q user=%s password=%q ca_der=%q ca_pem=%q home=%q log=%q wrong_ca_der=%q wrong_ca_pem=%q pasv_min=%s pasv_max=%s mode=%s tls=%s' \
    "${listen_port}" "${pid}" "${dir}" "${TEST_USER}" "${password}" "${dir}/ca.der" "${dir}/ca.pem" \
    "${home}" "${log}" "${dir}/wrong-ca.der" "${dir}/wrong-ca.pem" "${pasv_min}" "${pasv_max}" \
    "${mode}" "${tls}")
(umask 077 && printf '%s\n' "${line}" >"${dir}/server.env")
printf '%s\n' "${line}"
