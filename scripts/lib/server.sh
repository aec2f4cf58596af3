# shellcheck shell=bash
# What every real-server script in scripts/<server>/ shares: sourced (never run) by
# scripts/<server>/start.sh and scripts/<server>/stop.sh. Each start.sh keeps what is its
# server's own (configuration file, command line, user set-up, quirks); the rest is here.
#
# Set before sourcing:
#   SERVER         the server's name: the directory name under scripts/, the prefix of its
#                  files in the work directory (DIR/SERVER.pid, DIR/SERVER.starttime,
#                  DIR/SERVER.console) and of every message ("SERVER/start.sh: ...")
#   SCRIPT_DIR     (start.sh) scripts/SERVER, where fail() finds stop.sh
# May be changed after sourcing (defaults set here):
#   PASV_COUNT=32        passive ports in the block pick_ports chooses (--pasv-ports N)
#   READY_TIMEOUT_S=10   how long start_server waits for the port to listen
#   START_ATTEMPTS=5     how many port blocks start_server tries when the port was taken
#   STOP_BY_SESSION=0    1: stop_server also takes the processes of the listener's session
#   TERM_WAIT_S=5 KILL_WAIT_S=5   stop_server's bounded waits after SIGTERM and SIGKILL
# Globals start.sh shares with these functions: dir (the work directory), log, home, pid,
# password, listen_port, pasv_min, pasv_max, tls, mode, opts (array), fail_logs (array of
# extra files fail() prints), TEST_USER, USAGE (usage text after "usage: $0 ").
#
# Functions (each has its own comment below):
#   die MSG / fail MSG / usage        errors (fail also prints the logs and stops the server)
#   parse_start_args ARGS...          DIR, --tls13|--tls12, --opt, --pasv-ports, plus
#                                     server_arg's own
#   make_work_dir                     creates DIR and makes dir absolute
#   refuse_second_server              dies while DIR's previous server still runs
#   read_proc_stat PID / proc_field PID N   fields of /proc/PID/stat
#   make_pki                          test CA, server certificate, unrelated CA
#   write_credentials                 DIR/credentials (user= and password= lines)
#   check_home_usable UID GID         dies unless that uid/gid may use home
#   write_openssl_tls_conf            DIR/openssl.cnf bounding TLS versions (OPENSSL_CONF)
#   used_ports / pick_ports / port_listens   ports, from /proc/net/tcp{,6}
#   start_server                      the start / wait-for-listen / retry loop
#   require_comm NAME                 fails unless the started process is named NAME
#   print_server_line ...             the key=value line, to stdout and DIR/server.env
#   stop_server DIR                   what stop.sh does
# Functions start.sh defines for them: server_arg (its own options, for parse_start_args),
# server_prepare, server_launch and server_bind_failed (its steps, for start_server).
# Nothing here looks a process up by name: only by PID, checked against its start time.

PASV_COUNT=32
READY_TIMEOUT_S=10
START_ATTEMPTS=5
STOP_BY_SESSION=0
TERM_WAIT_S=5
KILL_WAIT_S=5

dir=""
log=""
home=""
pid=""
password=""
tls=1.3
opts=()
fail_logs=()

# die MSG: prints "SERVER/SCRIPT: MSG" to stderr and exits 1.
die() {
    echo "${SERVER}/${0##*/}: $*" >&2
    exit 1
}

# usage: prints "usage: $0 USAGE" to stderr and exits 2.
usage() {
    echo "usage: $0 ${USAGE}" >&2
    exit 2
}

# fail MSG: as die, but first prints the last 100 lines of DIR/SERVER.console and of every
# non-empty file in fail_logs to stderr, and stops the server if start_server recorded its
# PID (with `bash SCRIPT_DIR/stop.sh DIR`, output to stderr: not every stop.sh has the
# executable bit). start.sh traps ERR to it.
fail() {
    echo "${SERVER}/${0##*/}: $*" >&2
    local f
    for f in "${dir}/${SERVER}.console" "${fail_logs[@]}"; do
        if [[ -n ${f} && -s ${f} ]]; then
            echo "----- ${f} -----" >&2
            tail -n 100 -- "${f}" >&2
        fi
    done
    if [[ -n ${pid} && -f ${dir}/${SERVER}.pid ]]; then
        bash "${SCRIPT_DIR}/stop.sh" "${dir}" >&2 || true
    fi
    exit 1
}

# parse_start_args ARGS...: sets dir (the one argument not starting with '-'), tls (1.3,
# --tls13; 1.2, --tls12), opts (each --opt VALUE or --opt=VALUE, in order) and PASV_COUNT
# (--pasv-ports N, 1 to 1000: a server with many clients at once needs more than 32). Each
# argument is first offered to the start script's own function server_arg, called with the
# arguments left ("$@" from that one on); it sets arg_used to how many it took, 0 when the
# argument is not its own. Anything else starting with '-', a second DIR or none: usage.
parse_start_args() {
    while [[ $# -gt 0 ]]; do
        arg_used=0
        server_arg "$@"
        if ((arg_used > 0)); then
            shift "${arg_used}"
            continue
        fi
        case $1 in
        --tls13) tls=1.3 ;;
        --tls12) tls=1.2 ;;
        --opt)
            [[ $# -ge 2 ]] || usage
            opts+=("$2")
            shift
            ;;
        --opt=*) opts+=("${1#--opt=}") ;;
        --pasv-ports)
            [[ $# -ge 2 && $2 =~ ^[0-9]+$ && $2 -ge 1 && $2 -le 1000 ]] || usage
            PASV_COUNT=$2
            shift
            ;;
        -*) usage ;;
        *)
            [[ -z ${dir} ]] || usage
            dir=$1
            ;;
        esac
        shift
    done
    [[ -n ${dir} ]] || usage
}

# make_work_dir: creates DIR if missing and sets dir to its absolute physical path.
make_work_dir() {
    mkdir -p -- "${dir}"
    dir=$(cd -- "${dir}" && pwd -P)
}

# read_proc_stat PID: sets the array proc_stat (declare it local in the caller) to fields
# 3 and on of /proc/PID/stat, so proc_stat[0] is field 3; fails when there is no such
# process. Fields 3 and on follow the ")" that closes the command name.
read_proc_stat() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    read -r -a proc_stat <<<"${stat##*) }"
}

# proc_field PID N: prints field N (1-based, as in proc(5)) of /proc/PID/stat; fails when
# there is no such process.
proc_field() {
    local -a proc_stat
    read_proc_stat "$1" || return 1
    echo "${proc_stat[$(($2 - 3))]}"
}

# refuse_second_server: dies while the server recorded in DIR/SERVER.pid and
# DIR/SERVER.starttime still runs (same PID, same start time).
refuse_second_server() {
    local old_pid old_start
    if [[ -f ${dir}/${SERVER}.pid && -f ${dir}/${SERVER}.starttime ]]; then
        old_pid=$(<"${dir}/${SERVER}.pid")
        old_start=$(<"${dir}/${SERVER}.starttime")
        if [[ ${old_pid} =~ ^[0-9]+$ ]] && [[ $(proc_field "${old_pid}" 22 || true) == "${old_start}" ]]; then
            die "a ${SERVER} from ${dir} still runs (pid ${old_pid}): stop it with stop.sh first"
        fi
    fi
}

# --- test PKI -----------------------------------------------------------------------------
# make_ca NAME SUBJECT: a self-signed CA, DIR/NAME.key, DIR/NAME.pem and DIR/NAME.der.
make_ca() {
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 30 \
        -keyout "${dir}/$1.key" -out "${dir}/$1.pem" -subj "$2" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash" 2>/dev/null
    openssl x509 -in "${dir}/$1.pem" -outform DER -out "${dir}/$1.der"
}

# make_pki: writes into DIR the test CA (ca.pem, ca.der, ca.key), an unrelated CA for
# "wrong CA" tests (wrong-ca.*) and the server certificate the CA signed (server.pem,
# server.der, server.key; subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1). RSA 2048,
# 30 days. Certificates are public (0644); keys stay 0600 (the server reads them as the
# user that started it, root).
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

# write_credentials: DIR/credentials (0600) with the lines user=TEST_USER and
# password=PASSWORD (from the globals TEST_USER and password).
write_credentials() {
    (umask 077 && printf 'user=%s\npassword=%s\n' "${TEST_USER}" "${password}" >"${dir}/credentials")
}

# check_home_usable UID GID: dies unless a process with that uid and gid (names or
# numbers) and no supplementary groups may read, write and enter home.
check_home_usable() {
    if ! setpriv --reuid="$1" --regid="$2" --clear-groups -- \
        test -r "${home}" -a -w "${home}" -a -x "${home}"; then
        die "${TEST_USER} cannot use ${home}: every directory above it must be searchable (o+x)"
    fi
}

# write_openssl_tls_conf: DIR/openssl.cnf, for servers with no TLS version option of their
# own: given to the server as OPENSSL_CONF, OpenSSL 3 applies its system_default section to
# every SSL_CTX the process makes. TLS 1.2 to 1.3, or 1.2 only when tls is 1.2.
write_openssl_tls_conf() {
    local max=TLSv1.3
    [[ ${tls} == 1.2 ]] && max=TLSv1.2
    cat >"${dir}/openssl.cnf" <<EOF
# written by ftps scripts/${SERVER}/start.sh; given to ${SERVER} as OPENSSL_CONF
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

# --- ports --------------------------------------------------------------------------------
# used_ports: prints every local TCP port in any state, IPv4 and IPv6, in decimal, sorted.
used_ports() {
    # (no strtonum: Debian's default awk is mawk)
    awk 'FNR > 1 { split($2, a, ":"); h = toupper(a[2]); n = 0
        for (i = 1; i <= length(h); i++) n = n * 16 + index("0123456789ABCDEF", substr(h, i, 1)) - 1
        print n }' /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -un
}

# pick_ports: sets listen_port, pasv_min (listen_port + 1) and pasv_max (listen_port +
# PASV_COUNT) to a random block of ports that no local TCP socket uses, outside the
# ephemeral range; dies after 200 tries.
pick_ports() {
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

# port_listens PORT: is 127.0.0.1:PORT in LISTEN state?
port_listens() {
    local want
    want=$(printf '0100007F:%04X' "$1")
    awk -v want="${want}" 'FNR > 1 && $2 == want && $4 == "0A" { found = 1 } END { exit !found }' \
        /proc/net/tcp
}

# --- start --------------------------------------------------------------------------------
# start_server: starts the server and waits until it listens. Each attempt picks a port
# block (pick_ports), calls the start script's server_prepare (write the configuration for
# those ports, empty the logs), removes DIR/SERVER.pid and DIR/SERVER.starttime, empties
# DIR/SERVER.console, then calls server_launch, which must start the server in the
# background as the last command, with `setsid SERVER ... &` (so that $! is the server
# itself, leader of its own session and process group) and keep none of the caller's
# descriptors. The PID and its start time (field 22 of /proc/PID/stat) are written to
# DIR/SERVER.pid and DIR/SERVER.starttime, and the port must listen within READY_TIMEOUT_S.
# If the server exits first and server_bind_failed (from its output) says the port was
# taken, the next attempt tries another block, up to START_ATTEMPTS; otherwise fail.
# Sets listen_port, pasv_min, pasv_max and pid.
start_server() {
    local attempt=0 start_time ready deadline
    while :; do
        attempt=$((attempt + 1))
        pick_ports
        server_prepare
        rm -f -- "${dir}/${SERVER}.pid" "${dir}/${SERVER}.starttime"
        : >"${dir}/${SERVER}.console"
        server_launch
        pid=$!
        start_time=""
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            start_time=$(proc_field "${pid}" 22 || true)
            [[ -n ${start_time} ]] && break
            sleep 0.05
        done
        ready=0
        if [[ -n ${start_time} ]]; then
            echo "${pid}" >"${dir}/${SERVER}.pid"
            echo "${start_time}" >"${dir}/${SERVER}.starttime"
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
            return 0
        fi
        if kill -0 "${pid}" 2>/dev/null && [[ $(proc_field "${pid}" 3 || true) != Z ]]; then
            fail "${SERVER} did not listen on 127.0.0.1:${listen_port} within ${READY_TIMEOUT_S} s"
        fi
        wait "${pid}" 2>/dev/null || true
        rm -f -- "${dir}/${SERVER}.pid" "${dir}/${SERVER}.starttime"
        if ((attempt < START_ATTEMPTS)) && server_bind_failed; then
            echo "${SERVER}/${0##*/}: port ${listen_port} was taken, trying another" >&2
            continue
        fi
        fail "${SERVER} exited before it listened"
    done
}

# require_comm NAME: fails (stopping the server) unless /proc/PID/comm of the started
# server is NAME.
require_comm() {
    local comm
    comm=$(cat "/proc/${pid}/comm" 2>/dev/null || true)
    [[ ${comm} == "$1" ]] || fail "process ${pid} is '${comm}', not $1"
}

# print_server_line [KEY VALUE]... [-- KEY VALUE...]: prints the one line of shell-style
# key=values (each value quoted with printf %q) to stdout and keeps it in DIR/server.env
# (0600): port pid dir user password ca_der ca_pem home log, the pairs before "--",
# wrong_ca_der wrong_ca_pem pasv_min pasv_max mode tls, the pairs after "--". Uses the
# globals listen_port pid dir TEST_USER password home log pasv_min pasv_max mode tls.
print_server_line() {
    local -a middle=() pairs
    while [[ $# -gt 0 && $1 != -- ]]; do
        middle+=("$1")
        shift
    done
    [[ $# -gt 0 ]] && shift
    pairs=(port "${listen_port}" pid "${pid}" dir "${dir}" user "${TEST_USER}"
        password "${password}" ca_der "${dir}/ca.der" ca_pem "${dir}/ca.pem" home "${home}"
        log "${log}" "${middle[@]}" wrong_ca_der "${dir}/wrong-ca.der"
        wrong_ca_pem "${dir}/wrong-ca.pem" pasv_min "${pasv_min}" pasv_max "${pasv_max}"
        mode "${mode}" tls "${tls}" "$@")
    local line="" pair i
    for ((i = 0; i < ${#pairs[@]}; i += 2)); do
        printf -v pair '%s=%q' "${pairs[i]}" "${pairs[i + 1]}"
        line+=${line:+ }${pair}
    done
    (umask 077 && printf '%s\n' "${line}" >"${dir}/server.env")
    printf '%s\n' "${line}"
}

# --- stop ---------------------------------------------------------------------------------
# stop_server DIR: stops the server that start.sh DIR started and its descendants (what
# stop.sh DIR does). Acts only on the process whose PID is in DIR/SERVER.pid, and only
# while its start time still equals DIR/SERVER.starttime (so a reused PID is never hit),
# and on its descendants, found by parent PID (and, with STOP_BY_SESSION=1, by session id:
# a connection process whose parent exited is re-parented to init but stays in the
# listener's session). The tree is frozen with SIGSTOP first so nothing forks behind our
# back, then every member gets SIGTERM (and SIGCONT); what is still there after
# TERM_WAIT_S gets SIGKILL. Each signal is sent only after checking that PID's start time
# again. Never looks processes up by name. Returns 0 when nothing of DIR's runs any more;
# exits 1 on a bad pid file or a process that would not die.
stop_server() {
    [[ $# -eq 1 ]] || die "usage: $0 DIR"
    local dir=$1
    local pid_file=${dir}/${SERVER}.pid
    local start_file=${dir}/${SERVER}.starttime
    local pid saved_start m
    if [[ ! -f ${pid_file} ]]; then
        echo "${SERVER}/${0##*/}: no ${pid_file}: nothing to stop"
        return 0
    fi
    pid=$(<"${pid_file}")
    [[ -f ${start_file} ]] || die "no ${start_file}: refusing to signal pid ${pid} blindly"
    saved_start=$(<"${start_file}")
    [[ ${pid} =~ ^[1-9][0-9]*$ ]] || die "bad pid '${pid}' in ${pid_file}"
    [[ ${saved_start} =~ ^[0-9]+$ ]] || die "bad start time '${saved_start}' in ${start_file}"

    if ! running_same "${pid}" "${saved_start}"; then
        # The listener is gone (or its PID now belongs to someone else). Session processes
        # it may have left cannot be told apart from others any more; they end with their
        # client.
        echo "${SERVER}/${0##*/}: ${SERVER} ${pid} of ${dir} no longer runs: nothing to stop"
        rm -f -- "${pid_file}" "${start_file}"
        return 0
    fi

    # Freeze the listener so it accepts no connection and forks nothing, then freeze its
    # descendants until no new one turns up. Tree members are "PID:STARTTIME" words,
    # leader first (dynamically scoped: the helpers below see this array).
    local -a members
    kill -STOP -- "${pid}" 2>/dev/null || true
    members=("${pid}:${saved_start}")
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        add_descendants || break
    done

    for m in "${members[@]}"; do
        signal_same TERM "${m%%:*}" "${m#*:}"
        signal_same CONT "${m%%:*}" "${m#*:}"
    done
    if ! wait_gone "${TERM_WAIT_S}"; then
        echo "${SERVER}/${0##*/}: still running after SIGTERM, sending SIGKILL" >&2
        for m in "${members[@]}"; do
            signal_same KILL "${m%%:*}" "${m#*:}"
        done
        wait_gone "${KILL_WAIT_S}" || die "${SERVER} ${pid} of ${dir} (or a child) did not exit"
    fi
    rm -f -- "${pid_file}" "${start_file}"
    echo "${SERVER}/${0##*/}: stopped ${SERVER} ${pid} of ${dir} ($((${#members[@]} - 1)) connection processes)"
}

# proc_info PID: prints "STATE PPID STARTTIME SESSION" of PID (fields 3, 4, 22 and 6 of
# proc(5)); fails if there is no such process.
proc_info() {
    local -a proc_stat
    read_proc_stat "$1" || return 1
    echo "${proc_stat[0]} ${proc_stat[1]} ${proc_stat[19]} ${proc_stat[3]}"
}

# running_same PID START_TIME: is PID still the process that had START_TIME, and not yet
# a zombie?
running_same() {
    local info state ppid start
    info=$(proc_info "$1") || return 1
    read -r state ppid start _ <<<"${info}"
    [[ ${start} == "$2" && ${state} != Z ]]
}

# signal_same SIGNAL PID START_TIME: sends SIGNAL to PID if running_same PID START_TIME.
signal_same() {
    if running_same "$2" "$3"; then
        kill "-$1" -- "$2" 2>/dev/null || true
    fi
}

# add_descendants (for stop_server; uses its pid and members): adds every running
# descendant of the members (by parent PID, or by the listener's session with
# STOP_BY_SESSION=1) that is not yet a member; returns 0 when it found new ones. Each new
# one is frozen at once.
add_descendants() {
    local found=1 changed=1 stat_file p info state ppid start sid m
    local -A is_member=()
    for m in "${members[@]}"; do
        is_member[${m%%:*}]=1
    done
    while ((changed)); do
        changed=0
        for stat_file in /proc/[0-9]*/stat; do
            p=${stat_file#/proc/}
            p=${p%/stat}
            [[ -n ${is_member[${p}]:-} ]] && continue
            info=$(proc_info "${p}") || continue
            read -r state ppid start sid <<<"${info}"
            [[ ${state} == Z ]] && continue
            # (The listener still runs, so its PID, the session id, is not reused.)
            [[ -n ${is_member[${ppid}]:-} ]] ||
                [[ ${STOP_BY_SESSION} == 1 && ${sid} == "${pid}" ]] || continue
            kill -STOP -- "${p}" 2>/dev/null || continue
            members+=("${p}:${start}")
            is_member[${p}]=1
            changed=1
            found=0
        done
    done
    return "${found}"
}

# any_running (for stop_server): is any member still running?
any_running() {
    local m
    for m in "${members[@]}"; do
        running_same "${m%%:*}" "${m#*:}" && return 0
    done
    return 1
}

# wait_gone SECONDS (for stop_server): waits until no member runs; fails if some still
# runs after SECONDS.
wait_gone() {
    local deadline=$((SECONDS + $1))
    while ((SECONDS <= deadline)); do
        any_running || return 0
        sleep 0.05
    done
    ! any_running
}
