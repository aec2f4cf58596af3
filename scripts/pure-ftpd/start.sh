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
SERVER=pure-ftpd
# shellcheck source-path=SCRIPTDIR source=../lib/server.sh
source "${SCRIPT_DIR}/../lib/server.sh"
trap 'fail "unexpected error at line ${LINENO}: ${BASH_COMMAND}"' ERR

PREFIX=/opt/ftps-test/pure-ftpd
PURE_FTPD=${PREFIX}/usr/sbin/pure-ftpd
PURE_PW=${PREFIX}/usr/bin/pure-pw
TEST_USER=ftpstest
# The virtual user's files belong to this existing system account (no account is created).
RUN_AS=nobody
USAGE="DIR [--tls13|--tls12] [--opt FLAG]... [--pasv-ports N]"

server_arg() { # see parse_start_args
    case $1 in
    --implicit) die "Debian's Pure-FTPd has no implicit FTPS mode" ;;
    esac
}
parse_start_args "$@"
for opt in "${opts[@]}"; do
    [[ ${opt} =~ ^-[A-Za-z0-9-][^$'\n']*$ ]] || die "bad --opt '${opt}' (want a flag such as -N)"
done

[[ ${EUID} -eq 0 ]] || die "must run as root (Pure-FTPd chroots and changes uid)"
[[ -x ${PURE_FTPD} && -x ${PURE_PW} ]] ||
    die "${PURE_FTPD} not found: run scripts/install-servers.sh first"
command -v openssl >/dev/null || die "openssl not found: run scripts/install-servers.sh first"
run_uid=$(id -u "${RUN_AS}") || die "no system user ${RUN_AS}"
run_gid=$(id -g "${RUN_AS}")

make_work_dir
[[ ${dir} != *[[:space:]:]* ]] || die "DIR must not contain white space or ':' (PureDB and -S syntax)"
refuse_second_server

home=${dir}/home
log=${dir}/xferlog
fail_logs=("${log}")

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
    )
    write_credentials
    "${PURE_PW}" mkdb "${dir}/pureftpd.pdb" -f "${dir}/pureftpd.passwd" >&2
}

# --- start ------------------------------------------------------------------------------
make_pki
# Pure-FTPd reads the chain and the key from one file (-2 FILE): certificate first.
(umask 077 && cat "${dir}/server.pem" "${dir}/server.key" >"${dir}/server-combined.pem")
make_user
# Pure-FTPd has no TLS version option (-J sets the TLS 1.2 cipher list only, which does not
# turn TLS 1.3 off) and does not set protocol bounds itself.
write_openssl_tls_conf
mkdir -p -- "${home}"
chown "${run_uid}:${run_gid}" "${home}"
chmod 0755 "${home}"
chmod o+x,g+x "${dir}"

# start_server's steps for pure-ftpd (see scripts/lib/server.sh).
server_prepare() {
    : >"${log}"
}

# setsid: the server leads its own session and process group; no inherited descriptor
# stays open, so a caller reading this script's output sees EOF when it exits.
server_launch() {
    local -a args=(
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
    OPENSSL_CONF=${dir}/openssl.cnf setsid "${PURE_FTPD}" "${args[@]}" \
        0</dev/null 1>>"${dir}/pure-ftpd.console" 2>&1 &
}

# (pure-ftpd exits with status 0 when it cannot bind)
server_bind_failed() {
    grep -q 'Address already in use' "${dir}/pure-ftpd.console"
}

start_server
require_comm pure-ftpd

mode=explicit
print_server_line console "${dir}/pure-ftpd.console"
