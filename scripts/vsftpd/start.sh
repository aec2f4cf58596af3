#!/usr/bin/env bash
# Starts a real vsftpd on 127.0.0.1 for one test, everything in the work directory DIR.
#
# usage: start.sh DIR [--implicit] [--tls13|--tls12] [--opt KEY=VALUE]... [--pasv-ports N]
#
#   DIR          work directory (created if missing; a fresh one per server)
#   --implicit   implicit FTPS (TLS from the first byte) instead of explicit AUTH TLS
#   --tls13      TLS 1.2 and 1.3 allowed, 1.3 negotiated by a client that offers it (default)
#   --tls12      TLS 1.2 only
#   --opt K=V    override or add one vsftpd.conf line (e.g. require_ssl_reuse=NO,
#                strict_ssl_read_eof=YES); may be repeated
#   --pasv-ports N   passive ports (default 32; vsftpd tries 10 random ones per EPSV and
#                stops the session when all are taken, so many clients at once need more)
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
SERVER=vsftpd
# shellcheck source-path=SCRIPTDIR source=../lib/server.sh
source "${SCRIPT_DIR}/../lib/server.sh"
trap 'fail "unexpected error at line ${LINENO}: ${BASH_COMMAND}"' ERR

TEMPLATE=${SCRIPT_DIR}/vsftpd.conf.in
VSFTPD=/usr/sbin/vsftpd
TEST_USER=ftpstest
STATE_DIR=/var/lib/ftps-test
PAM_SERVICE=ftps-test-vsftpd
USAGE="DIR [--implicit] [--tls13|--tls12] [--opt KEY=VALUE]... [--pasv-ports N]"

implicit=NO
server_arg() { # see parse_start_args
    case $1 in
    --implicit) implicit=YES arg_used=1 ;;
    esac
}
parse_start_args "$@"
for opt in "${opts[@]}"; do
    [[ ${opt} =~ ^[a-z0-9_]+=[^$'\n']*$ ]] || die "bad --opt '${opt}' (want key=value)"
done

[[ ${EUID} -eq 0 ]] || die "must run as root (it creates the system user ${TEST_USER})"
[[ -x ${VSFTPD} ]] || die "${VSFTPD} not found: run scripts/install-servers.sh first"
command -v openssl >/dev/null || die "openssl not found: run scripts/install-servers.sh first"
[[ -r ${TEMPLATE} ]] || die "template ${TEMPLATE} not found"

make_work_dir
[[ ${dir} != *$'\n'* ]] || die "DIR must not contain a newline"
refuse_second_server

home=${dir}/home
log=${dir}/vsftpd.log
fail_logs=("${log}")

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

    # vsftpd 3.0.3 has no option for TLS 1.2/1.3.
    write_openssl_tls_conf
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
check_home_usable "${TEST_USER}" "${TEST_USER}"
write_credentials

# start_server's steps for vsftpd (see scripts/lib/server.sh).
server_prepare() {
    write_config
    : >"${log}"
}

# setsid makes vsftpd the leader of a new session and process group whose id is its PID
# (bash does not put background jobs in their own group without job control, so setsid
# does not fork and $! is vsftpd itself). No inherited descriptor stays open, so a caller
# reading this script's output sees EOF when it exits. vsftpd writes its start-up
# "500 OOPS" to fd 0 (its control-connection descriptor), not to stderr, so fds 0, 1 and 2
# all share one read-write open of DIR/vsftpd.console.
server_launch() {
    OPENSSL_CONF=${dir}/openssl.cnf setsid "${VSFTPD}" "${dir}/vsftpd.conf" \
        0<>"${dir}/vsftpd.console" 1>&0 2>&0 9>&- &
}

server_bind_failed() {
    grep -q 'could not bind' "${dir}/vsftpd.console" 2>/dev/null
}

start_server
require_comm vsftpd

mode=explicit
[[ ${implicit} == YES ]] && mode=implicit
# shellcheck disable=SC2119 # (no server-specific keys)
print_server_line
