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
SERVER=pyftpdlib
# shellcheck source-path=SCRIPTDIR source=../lib/server.sh
source "${SCRIPT_DIR}/../lib/server.sh"
trap 'fail "unexpected error at line ${LINENO}: ${BASH_COMMAND}"' ERR

VENV=/opt/ftps-test/pyftpdlib-venv
PYTHON=${VENV}/bin/python
SERVER_PY=${SCRIPT_DIR}/server.py
TEST_USER=ftpstest
READY_TIMEOUT_S=15
USAGE="DIR [--tls13|--tls12] [--no-epsv] [--max-lifetime SECONDS] [--pasv-ports N]"

epsv=yes
max_lifetime=600
server_arg() { # see parse_start_args
    case $1 in
    --no-epsv) epsv=no arg_used=1 ;;
    --implicit) die "pyftpdlib has no implicit FTPS mode" ;;
    --max-lifetime)
        [[ $# -ge 2 ]] || usage
        max_lifetime=$2 arg_used=2
        ;;
    --max-lifetime=*) max_lifetime=${1#--max-lifetime=} arg_used=1 ;;
    --opt | --opt=*) usage ;; # no server options to pass on
    esac
}
parse_start_args "$@"
[[ ${max_lifetime} =~ ^[1-9][0-9]*$ ]] || die "bad --max-lifetime '${max_lifetime}' (whole seconds)"

[[ -x ${PYTHON} ]] || die "${PYTHON} not found: run scripts/install-servers.sh first"
[[ -r ${SERVER_PY} ]] || die "${SERVER_PY} not found"
command -v openssl >/dev/null || die "openssl not found: run scripts/install-servers.sh first"

make_work_dir
[[ ${dir} != *$'\n'* ]] || die "DIR must not contain a newline"
refuse_second_server

home=${dir}/home
log=${dir}/pyftpdlib.log
fail_logs=("${log}")

make_pki
password="ftps-test-$(openssl rand -hex 12)"
(umask 077 && printf '%s\n' "${password}" >"${dir}/password")
write_credentials
mkdir -p -- "${home}"

# start_server's steps for pyftpdlib (see scripts/lib/server.sh).
server_prepare() {
    : >"${log}"
}

# setsid: the server leads its own session and process group; no inherited descriptor
# stays open, so a caller reading this script's output sees EOF when it exits.
server_launch() {
    local -a args=(
        --port "${listen_port}" --pasv-min "${pasv_min}" --pasv-max "${pasv_max}"
        --cert "${dir}/server.pem" --key "${dir}/server.key" --home "${home}"
        --user "${TEST_USER}" --password-file "${dir}/password" --log "${log}"
        --tls "${tls}" --max-lifetime "${max_lifetime}"
    )
    [[ ${epsv} == yes ]] || args+=(--no-epsv)
    setsid "${PYTHON}" -u "${SERVER_PY}" "${args[@]}" \
        0</dev/null 1>>"${dir}/pyftpdlib.console" 2>&1 &
}

server_bind_failed() {
    grep -q 'Address already in use' "${dir}/pyftpdlib.console"
}

start_server
# (no require_comm: the process is the venv's python)

mode=explicit
print_server_line -- epsv "${epsv}" max_lifetime "${max_lifetime}"
