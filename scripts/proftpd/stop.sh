#!/usr/bin/env bash
# Stops the proftpd that start.sh DIR started, and the per-connection processes it forked.
#
# usage: stop.sh DIR
#
# Acts only on the process whose PID is in DIR/proftpd.pid, and only while its start time
# still equals DIR/proftpd.starttime (so a reused PID is never hit), and on its descendants
# (ProFTPD forks one session process per connection, which may leave the listener's
# process group and session, so they are found by parent PID). The tree is frozen with SIGSTOP first so nothing forks behind our back,
# then every member gets SIGTERM (and SIGCONT); what is still there after a bounded wait
# gets SIGKILL. Each signal is sent only after checking that PID's start time again.
# Never looks processes up by name. Exits 0 when nothing of DIR's runs any more.
set -euo pipefail

TERM_WAIT_S=5
KILL_WAIT_S=5

die() {
    echo "proftpd/stop.sh: $*" >&2
    exit 1
}

[[ $# -eq 1 ]] || die "usage: $0 DIR"
dir=$1
pid_file=${dir}/proftpd.pid
start_file=${dir}/proftpd.starttime

if [[ ! -f ${pid_file} ]]; then
    echo "proftpd/stop.sh: no ${pid_file}: nothing to stop"
    exit 0
fi
pid=$(<"${pid_file}")
[[ -f ${start_file} ]] || die "no ${start_file}: refusing to signal pid ${pid} blindly"
saved_start=$(<"${start_file}")
[[ ${pid} =~ ^[1-9][0-9]*$ ]] || die "bad pid '${pid}' in ${pid_file}"
[[ ${saved_start} =~ ^[0-9]+$ ]] || die "bad start time '${saved_start}' in ${start_file}"

# Prints "STATE PPID STARTTIME" of PID (fields 3, 4 and 22 of proc(5)); fails if none.
proc_info() {
    local stat rest
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    rest=${stat##*) }
    local -a f
    read -r -a f <<<"${rest}"
    echo "${f[0]} ${f[1]} ${f[19]}"
}

# Is PID still the process that had START_TIME, and not yet a zombie?
running_same() { # PID START_TIME
    local info state ppid start
    info=$(proc_info "$1") || return 1
    read -r state ppid start <<<"${info}"
    [[ ${start} == "$2" && ${state} != Z ]]
}

signal_same() { # SIGNAL PID START_TIME
    if running_same "$2" "$3"; then
        kill "-$1" -- "$2" 2>/dev/null || true
    fi
}

# Tree members found so far, as "PID:STARTTIME" words, leader first.
members=()

# Adds every running descendant of the members (by parent PID) that is not yet a member;
# returns 0 when it found new ones. Each new one is frozen at once.
add_descendants() {
    local found=1 changed=1 stat_file p info state ppid start m
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
            read -r state ppid start <<<"${info}"
            [[ ${state} == Z || -z ${is_member[${ppid}]:-} ]] && continue
            kill -STOP -- "${p}" 2>/dev/null || continue
            members+=("${p}:${start}")
            is_member[${p}]=1
            changed=1
            found=0
        done
    done
    return "${found}"
}

any_running() {
    local m
    for m in "${members[@]}"; do
        running_same "${m%%:*}" "${m#*:}" && return 0
    done
    return 1
}

wait_gone() { # SECONDS
    local deadline=$((SECONDS + $1))
    while ((SECONDS <= deadline)); do
        any_running || return 0
        sleep 0.05
    done
    ! any_running
}

if ! running_same "${pid}" "${saved_start}"; then
    # The listener is gone (or its PID now belongs to someone else). Session processes it
    # may have left cannot be told apart from others any more; they end with their client.
    echo "proftpd/stop.sh: proftpd ${pid} of ${dir} no longer runs: nothing to stop"
    rm -f -- "${pid_file}" "${start_file}"
    exit 0
fi

# Freeze the listener so it accepts no connection and forks nothing, then freeze its
# descendants until no new one turns up.
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
    echo "proftpd/stop.sh: still running after SIGTERM, sending SIGKILL" >&2
    for m in "${members[@]}"; do
        signal_same KILL "${m%%:*}" "${m#*:}"
    done
    wait_gone "${KILL_WAIT_S}" || die "proftpd ${pid} of ${dir} (or a child) did not exit"
fi
rm -f -- "${pid_file}" "${start_file}"
echo "proftpd/stop.sh: stopped proftpd ${pid} of ${dir} ($((${#members[@]} - 1)) connection processes)"
