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
SERVER=proftpd
# shellcheck source-path=SCRIPTDIR source=../lib/server.sh
source "${SCRIPT_DIR}/../lib/server.sh"
trap 'fail "unexpected error at line ${LINENO}: ${BASH_COMMAND}"' ERR

TEMPLATE=${SCRIPT_DIR}/proftpd.conf.in
PREFIX=/opt/ftps-test/proftpd
PROFTPD=${PREFIX}/usr/sbin/proftpd
MODULE_PATH=${PREFIX}/usr/lib/proftpd
# The same system user as scripts/vsftpd/start.sh (created the same way, under the same
# lock); ProFTPD's own user file gives it a per-instance password and home.
TEST_USER=ftpstest
STATE_DIR=/var/lib/ftps-test
USAGE="DIR [--implicit] [--tls13|--tls12] [--opt 'Directive value']... [--pasv-ports N]"

implicit=0
server_arg() { # see parse_start_args
    case $1 in
    --implicit) implicit=1 arg_used=1 ;;
    esac
}
parse_start_args "$@"
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

make_work_dir
[[ ${dir} != *$'\n'* && ${dir} != *[[:space:]\"]* ]] ||
    die "DIR must not contain white space or quotes (ProFTPD's configuration syntax)"
refuse_second_server

home=${dir}/home
log=${dir}/proftpd.log
fail_logs=("${dir}/proftpd.log" "${dir}/tls.log")

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
    )
    write_credentials
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
check_home_usable "${uid}" "${gid}"

# start_server's steps for proftpd (see scripts/lib/server.sh).
server_prepare() {
    local f
    write_config
    for f in proftpd.log tls.log protocol.log xferlog; do
        : >"${dir}/${f}"
    done
    "${PROFTPD}" -t -c "${dir}/proftpd.conf" >"${dir}/proftpd.check" 2>&1 ||
        fail "proftpd rejects the configuration: $(cat "${dir}/proftpd.check")"
}

# setsid makes proftpd the leader of a new session and process group whose id is its PID
# (bash does not put background jobs in their own group without job control, so setsid
# does not fork and $! is proftpd itself). -n keeps it in the foreground; no inherited
# descriptor stays open, so a caller reading this script's output sees EOF when it exits.
server_launch() {
    setsid "${PROFTPD}" -n -c "${dir}/proftpd.conf" \
        </dev/null >"${dir}/proftpd.console" 2>&1 9>&- &
}

server_bind_failed() {
    grep -q -i 'address already in use' "${dir}/proftpd.console" "${log}" 2>/dev/null
}

start_server
require_comm proftpd

mode=explicit
((implicit)) && mode=implicit
print_server_line tls_log "${dir}/tls.log" protocol_log "${dir}/protocol.log" \
    -- tls_required "${tls_required}"
