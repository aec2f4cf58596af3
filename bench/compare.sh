#!/usr/bin/env bash
# ftps side by side with curl, lftp and suppaftp, in one run, interleaved round by round.
#
# usage: bench/compare.sh [--rounds N] [--size-mib M] [--put-mib M] [--files N] [--no-pin]
#                         [--work-dir DIR] [--out FILE]
#
#   --rounds N     rounds; each round runs every client once in every cell (default 5)
#   --size-mib M   size of the downloaded file, MiB (default 1024)
#   --put-mib M    size of the uploaded file, MiB (default 256)
#   --files N      number of 4 KiB files of the "many" operation (default 500)
#   --curl-files N curl's "many" takes only the first N of them (default 50): curl waits on
#                  internal timers (200 ms, sometimes 1 s) before each transfer, so its rate
#                  is the same with fewer files and the full count would take hours
#   --timeout S    limit of one client run, seconds (default 300)
#   --no-pin       let the scheduler place servers and clients (by default, with 2 or more
#                  cores, every server runs on CPU 0 and every client on CPU 1: unpinned, the
#                  two share both cores in turn and the run-to-run spread of an upload to
#                  vsftpd was 112-190 MiB/s, pinned 230-290)
#   --work-dir DIR where the test files and every server's tree go (default: /dev/shm when it
#                  is a tmpfs with room for them, else /tmp): on a disk file system the `many`
#                  uploads measure its inode allocator too (ext4 after the previous run's files
#                  were deleted: vsftpd 494-657 files/s on /tmp against 748-950 on tmpfs, the
#                  same client alternating)
#   --out FILE     where the markdown table goes (default
#                  TARGET/bench-compare/compare-STAMP.md); the raw JSON lines go beside it
#                  as FILE with .jsonl instead of .md
#
# Run as root. It installs what it lacks (curl, lftp, GNU time from apt; vsftpd through
# scripts/install-servers.sh), builds ftps-bench, ftps-conformance and the suppaftp peer
# (bench/peers/suppaftp) in release mode (CARGO_TARGET_DIR is honoured, default TARGET =
# ./target), makes random test files in a temporary directory, starts vsftpd (TLS 1.3, session
# reuse required), a second vsftpd without TLS (the plain-FTP ceiling) and the embedded server
# (`ftps-conformance serve`, when that subcommand exists), then measures every client on every
# server: get of one --size-mib file, put of one --put-mib file, many = --files x 4 KiB
# uploaded then downloaded over one login. Each client run is wrapped in
# `timeout S /usr/bin/time`; a run that fails is recorded as "fail" with its error and the
# run goes on. See bench/README.md for the columns.
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
RUN_TIMEOUT=300
BUILD_TIMEOUT=3600

rounds=5
size_mib=1024
put_mib=256
files=500
curl_files=50
pin=yes
work_dir=""
out=""

die() {
    echo "compare.sh: $*" >&2
    exit 1
}
note() { echo "compare.sh: $*" >&2; }

while [[ $# -gt 0 ]]; do
    case $1 in
    --rounds) rounds=${2:?--rounds needs a value}; shift 2 ;;
    --size-mib) size_mib=${2:?--size-mib needs a value}; shift 2 ;;
    --put-mib) put_mib=${2:?--put-mib needs a value}; shift 2 ;;
    --files) files=${2:?--files needs a value}; shift 2 ;;
    --curl-files) curl_files=${2:?--curl-files needs a value}; shift 2 ;;
    --timeout) RUN_TIMEOUT=${2:?--timeout needs a value}; shift 2 ;;
    --no-pin) pin=no; shift ;;
    --work-dir) work_dir=${2:?--work-dir needs a value}; shift 2 ;;
    --out) out=${2:?--out needs a value}; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
done
for n in "${rounds}" "${size_mib}" "${put_mib}" "${files}" "${curl_files}" "${RUN_TIMEOUT}"; do
    [[ ${n} =~ ^[1-9][0-9]*$ ]] || die "'${n}' is not a positive whole number"
done
[[ ${EUID} -eq 0 ]] || die "must run as root (vsftpd's start script creates a system user)"
[[ $(nproc) -ge 2 ]] || pin=no
# pin_server PID: the process and its threads (children inherit it) on CPU 0.
# CLIENT_PIN: the prefix that runs a client on CPU 1.
CLIENT_PIN=()
pin_server() { :; }
if [[ ${pin} == yes ]]; then
    CLIENT_PIN=(taskset -c 1)
    pin_server() { taskset -a -p -c 0 "$1" >/dev/null; }
fi

TARGET=${CARGO_TARGET_DIR:-${ROOT}/target}
export CARGO_TARGET_DIR=${TARGET}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
[[ -n ${out} ]] || out=${TARGET}/bench-compare/compare-${stamp}.md
mkdir -p -- "$(dirname -- "${out}")"
out=$(cd -- "$(dirname -- "${out}")" && pwd)/$(basename -- "${out}")
results=${out%.md}.jsonl
: >"${results}"

# --- what it needs ----------------------------------------------------------------------------
need=()
command -v curl >/dev/null || need+=(curl)
command -v lftp >/dev/null || need+=(lftp)
[[ -x /usr/bin/time ]] || need+=(time)
command -v python3 >/dev/null || need+=(python3)
command -v openssl >/dev/null || need+=(openssl)
if [[ ${#need[@]} -gt 0 ]]; then
    note "installing ${need[*]}"
    timeout 600 apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq "${need[@]}" >&2
fi
if [[ ! -x /usr/sbin/vsftpd ]]; then
    note "installing the servers (scripts/install-servers.sh)"
    timeout 1800 bash "${ROOT}/scripts/install-servers.sh" >&2
fi

# --- builds -------------------------------------------------------------------------------------
note "building ftps-bench and ftps-conformance (release) into ${TARGET}"
(cd -- "${ROOT}" && timeout "${BUILD_TIMEOUT}" cargo build --release -p ftps-bench -p ftps-conformance >&2)
# The rustls rows use an ftps-bench with only rustls in it, as an application built on the
# `ftps` crate's default features would be (and as the suppaftp peer is): the all-backends
# build also loads libssl and libcrypto, about 2 MiB of resident memory.
note "building ftps-bench with rustls only (release) into ${TARGET}/rustls-only"
(cd -- "${ROOT}" && CARGO_TARGET_DIR=${TARGET}/rustls-only timeout "${BUILD_TIMEOUT}" \
    cargo build --release -p ftps-bench --no-default-features --features rustls >&2)
note "building the suppaftp peer (release)"
(cd -- "${ROOT}/bench/peers/suppaftp" && timeout "${BUILD_TIMEOUT}" cargo build --release --locked >&2)
FTPS_BENCH=${TARGET}/release/ftps-bench
FTPS_BENCH_RUSTLS=${TARGET}/rustls-only/release/ftps-bench
CONFORMANCE=${TARGET}/release/ftps-conformance
SUPPAFTP=${TARGET}/release/suppaftp-peer
for bin in "${FTPS_BENCH}" "${FTPS_BENCH_RUSTLS}" "${CONFORMANCE}" "${SUPPAFTP}"; do
    [[ -x ${bin} ]] || die "${bin} was not built"
done

# --- work directory, clean-up -------------------------------------------------------------------
# The test files (at most one upload at a time on a server) and some room to spare.
need_kib=$(((size_mib + 2 * put_mib + 64) * 1024 + 2 * files * 4))
if [[ -z ${work_dir} ]]; then
    work_dir=/tmp
    if [[ $(stat -f -c %T /dev/shm 2>/dev/null) == tmpfs ]] &&
        (($(df -P -k /dev/shm | awk 'NR == 2 { print $4 }') > need_kib)); then
        work_dir=/dev/shm
    fi
fi
[[ -d ${work_dir} ]] || die "--work-dir ${work_dir} is not a directory"
work_fs=$(stat -f -c %T "${work_dir}")
note "test files and server trees in ${work_dir} (${work_fs})"
WORK=$(mktemp -d "${work_dir%/}/ftps-compare.XXXXXX")
# vsftpd's user walks through WORK to its home.
chmod 0755 "${WORK}"
started_vsftpd=()
serve_pid=""
cleanup() {
    local status=$? d i
    set +e
    if [[ -n ${serve_pid} ]]; then
        kill -TERM "${serve_pid}" 2>/dev/null
        for ((i = 0; i < 50; i++)); do
            kill -0 "${serve_pid}" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "${serve_pid}" 2>/dev/null
        wait "${serve_pid}" 2>/dev/null
    fi
    for d in "${started_vsftpd[@]}"; do
        timeout 60 bash "${ROOT}/scripts/vsftpd/stop.sh" "${d}" >&2
    done
    rm -rf -- "${WORK}"
    exit "${status}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- test files -----------------------------------------------------------------------------------
DATA=${WORK}/data
mkdir -p -- "${DATA}/small"
chmod 0755 "${DATA}" "${DATA}/small"
note "making test files: ${size_mib} MiB, ${put_mib} MiB, ${files} x 4 KiB (random)"
head -c "$((size_mib * 1048576))" /dev/urandom >"${DATA}/big.bin"
head -c "$((put_mib * 1048576))" /dev/urandom >"${DATA}/put.bin"
head -c "$((files * 4096))" /dev/urandom | (cd -- "${DATA}/small" && split -b 4096 -a 6 -d - f)
chmod 0644 "${DATA}/big.bin" "${DATA}/put.bin" "${DATA}"/small/*
[[ $(find "${DATA}/small" -type f | wc -l) -eq ${files} ]] || die "could not make ${files} small files"
big_bytes=$((size_mib * 1048576))
put_bytes=$((put_mib * 1048576))

# --- servers ----------------------------------------------------------------------------------------
# Per server: host, port, user, password, CA (PEM), the directory its files are in, TLS or not.
declare -A S_HOST S_PORT S_USER S_PASS S_CA S_ROOT S_TLS
SERVERS=()

# start_vsftpd NAME TLS(yes|no) START_ARGS...: starts scripts/vsftpd/start.sh WORK/NAME ARGS.
start_vsftpd() {
    local name=$1 want_tls=$2 line
    shift 2
    # shellcheck disable=SC2034 # all of start.sh's keys, set by the eval below
    local port pid dir user password ca_der ca_pem home log wrong_ca_der wrong_ca_pem pasv_min pasv_max mode tls
    if ! line=$(timeout 120 bash "${ROOT}/scripts/vsftpd/start.sh" "${WORK}/${name}" "$@"); then
        # start.sh stops what it started when it fails.
        return 1
    fi
    started_vsftpd+=("${WORK}/${name}")
    eval "${line}"
    pin_server "${pid}"
    S_HOST[${name}]=127.0.0.1 S_PORT[${name}]=${port} S_USER[${name}]=${user}
    S_PASS[${name}]=${password} S_CA[${name}]=${ca_pem} S_ROOT[${name}]=${home} S_TLS[${name}]=${want_tls}
    ln -- "${DATA}/big.bin" "${home}/big.bin"
    SERVERS+=("${name}")
    note "${name}: vsftpd on 127.0.0.1:${port} (pid ${pid})"
}

start_vsftpd vsftpd yes --tls13 || die "vsftpd did not start"
plain_note=""
if ! start_vsftpd vsftpd-plain no --opt ssl_enable=NO --opt force_local_logins_ssl=NO \
    --opt force_local_data_ssl=NO --opt require_ssl_reuse=NO; then
    plain_note="the plain-FTP vsftpd did not start: no plain-FTP ceiling"
    note "${plain_note}"
fi

serve_note=""
if "${CONFORMANCE}" serve --help >/dev/null 2>&1; then
    mkdir -p -- "${WORK}/serve-root"
    ln -- "${DATA}/big.bin" "${WORK}/serve-root/big.bin"
    : >"${WORK}/serve.out"
    "${CONFORMANCE}" serve --root "${WORK}/serve-root" --ca-file "${WORK}/serve-ca.pem" \
        >"${WORK}/serve.out" 2>"${WORK}/serve.err" </dev/null &
    serve_pid=$!
    serve_line=""
    # Bounded wait for its one ready line (or its death).
    for ((i = 0; i < 300; i++)); do
        if IFS= read -r serve_line <"${WORK}/serve.out" && [[ ${serve_line} == *'"port"'* ]]; then
            break
        fi
        serve_line=""
        kill -0 "${serve_pid}" 2>/dev/null || break
        sleep 0.1
    done
    if [[ -n ${serve_line} ]]; then
        # host port user pass ca, one per line, from its JSON line.
        mapfile -t serve_fields < <(python3 -c '
import json, sys
d = json.loads(sys.argv[1])
for k in ("host", "port", "user", "pass", "ca"):
    print(d[k])' "${serve_line}")
        S_HOST[serve]=${serve_fields[0]} S_PORT[serve]=${serve_fields[1]}
        S_USER[serve]=${serve_fields[2]} S_PASS[serve]=${serve_fields[3]}
        S_CA[serve]=${serve_fields[4]} S_ROOT[serve]=${WORK}/serve-root S_TLS[serve]=yes
        SERVERS+=(serve)
        pin_server "${serve_pid}"
        note "serve: ftps-conformance serve on ${S_HOST[serve]}:${S_PORT[serve]} (pid ${serve_pid})"
    else
        serve_note="ftps-conformance serve did not print its ready line: $(head -c 300 "${WORK}/serve.err" | head -n 1)"
        note "${serve_note}"
    fi
else
    serve_note="this ftps-conformance has no serve subcommand: the embedded server is not measured"
    note "${serve_note}"
fi

# --- clients ------------------------------------------------------------------------------------------
# A client is "label|kind|backend|tls"; kind is ftps-bench, suppaftp, curl or lftp.
TLS_CLIENTS=()
for backend in rustls openssl native-tls; do
    for tls in 1.2 1.3; do
        TLS_CLIENTS+=("ftps ${backend} ${tls}|ftps-bench|${backend}|${tls}")
    done
done
# The peers as they come (TLS 1.3 offered) and pinned to TLS 1.2.
TLS_CLIENTS+=("curl|curl||" "lftp|lftp||" "suppaftp rustls|suppaftp||")
TLS_CLIENTS+=("curl 1.2|curl||1.2" "lftp 1.2|lftp||1.2" "suppaftp rustls 1.2|suppaftp||1.2")
PLAIN_CLIENTS=("curl|curl||")

# url_escape TEXT: TEXT percent-encoded for the user-info part of a URL.
url_escape() {
    python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"
}

# lftp_quote TEXT: TEXT in lftp's double quotes.
lftp_quote() {
    local t=${1//\\/\\\\}
    printf '"%s"' "${t//\"/\\\"}"
}

# run_one ROUND SERVER OP CLIENT: one client run, recorded in RESULTS.
run_one() {
    local round=$1 server=$2 op=$3 client=$4
    local label kind backend tls tag host port user pass ca root tlsmode url
    IFS='|' read -r label kind backend tls <<<"${client}"
    tag=${label// /-}
    host=${S_HOST[${server}]} port=${S_PORT[${server}]} user=${S_USER[${server}]}
    pass=${S_PASS[${server}]} ca=${S_CA[${server}]} root=${S_ROOT[${server}]} tlsmode=${S_TLS[${server}]}
    url="ftp://$(url_escape "${user}"):$(url_escape "${pass}")@${host}:${port}"
    local remote_put=put-${tag}.bin remote_dir=many-${tag}
    local -a cmd=() check=()
    local bytes nfiles
    local -a names=()
    case ${op} in
    get) bytes=${big_bytes} nfiles=1 ;;
    put)
        bytes=${put_bytes} nfiles=1
        check=(--check-file "${root}/${remote_put}" --check-size "${put_bytes}")
        ;;
    many)
        local count=${files}
        [[ ${kind} == curl ]] && ((curl_files < files)) && count=${curl_files}
        names=("${small_names[@]:0:count}")
        bytes=$((2 * count * 4096)) nfiles=$((2 * count))
        check=(--check-dir "${root}/${remote_dir}" --check-count "${count}" --check-size 4096)
        ;;
    esac
    rm -rf -- "${root:?}/${remote_put}" "${root:?}/${remote_dir}"

    case ${kind} in
    ftps-bench | suppaftp)
        if [[ ${kind} == ftps-bench ]]; then
            local bench=${FTPS_BENCH}
            [[ ${backend} == rustls ]] && bench=${FTPS_BENCH_RUSTLS}
            cmd=("${bench}" "${op}" --backend "${backend}" --tls "${tls}")
        else
            cmd=("${SUPPAFTP}" "${op}")
            [[ -n ${tls} ]] && cmd+=(--tls "${tls}")
        fi
        cmd+=(--server "${url}" --ca "${ca}")
        case ${op} in
        get) cmd+=(--path big.bin) ;;
        put) cmd+=(--file "${DATA}/put.bin" --path "${remote_put}") ;;
        many) cmd+=(--dir "${DATA}/small" --path "${remote_dir}") ;;
        esac
        ;;
    curl)
        cmd=(curl -sS --user "${user}:${pass}" -w '%{size_download} %{size_upload}\n')
        [[ ${tlsmode} == yes ]] && cmd+=(--ssl-reqd --cacert "${ca}")
        [[ ${tls} == 1.2 ]] && cmd+=(--tlsv1.2 --tls-max 1.2)
        case ${op} in
        get) cmd+=(-o /dev/null "ftp://${host}:${port}/big.bin") ;;
        put) cmd+=(-T "${DATA}/put.bin" "ftp://${host}:${port}/${remote_put}") ;;
        many)
            # One invocation, one connection: every URL gets an output (so the -T files pair
            # with the first URLs, the uploads), the downloads follow the uploads.
            local conf=${WORK}/curl-many.conf name
            {
                echo "ftp-create-dirs"
                for name in "${names[@]}"; do
                    printf 'url = "ftp://%s:%s/%s/%s"\noutput = "/dev/null"\nupload-file = "%s/small/%s"\n' \
                        "${host}" "${port}" "${remote_dir}" "${name}" "${DATA}" "${name}"
                done
                for name in "${names[@]}"; do
                    printf 'url = "ftp://%s:%s/%s/%s"\noutput = "/dev/null"\n' \
                        "${host}" "${port}" "${remote_dir}" "${name}"
                done
            } >"${conf}"
            cmd+=(-K "${conf}")
            ;;
        esac
        ;;
    lftp)
        local script="set cmd:fail-exit true; set net:max-retries 1; set net:timeout 60; set xfer:clobber on; set ftp:passive-mode true;"
        if [[ ${tlsmode} == yes ]]; then
            script+=" set ftp:ssl-force true; set ftp:ssl-protect-data true; set ssl:verify-certificate true; set ssl:ca-file $(lftp_quote "${ca}");"
            [[ ${tls} == 1.2 ]] && script+=" set ssl:priority NORMAL:-VERS-TLS1.3;"
        else
            script+=" set ftp:ssl-allow false;"
        fi
        script+=" open -u $(lftp_quote "${user}"),$(lftp_quote "${pass}") -p ${port} ${host};"
        case ${op} in
        get) script+=" get big.bin -o /dev/null" ;;
        put) script+=" put $(lftp_quote "${DATA}/put.bin") -o ${remote_put}" ;;
        many)
            script+=" mkdir -f ${remote_dir}; cd ${remote_dir}; lcd $(lftp_quote "${DATA}/small"); put ${small_names[*]}; get"
            local name
            for name in "${small_names[@]}"; do
                script+=" ${name} -o /dev/null"
            done
            ;;
        esac
        cmd=(lftp -c "${script}")
        ;;
    esac

    local t0 t1 rc=0
    t0=${EPOCHREALTIME}
    timeout -k 10 "${RUN_TIMEOUT}" /usr/bin/time -f '%U %S %M' -o "${WORK}/time.txt" \
        "${CLIENT_PIN[@]}" "${cmd[@]}" >"${WORK}/stdout.txt" 2>"${WORK}/stderr.txt" </dev/null || rc=$?
    t1=${EPOCHREALTIME}
    python3 "${ROOT}/bench/compare.py" record --results "${results}" --round "${round}" \
        --server "${server}" --op "${op}" --client "${label}" --kind "${kind}" --tls "${tls}" \
        --rc "${rc}" --timeout "${RUN_TIMEOUT}" --t0 "${t0}" --t1 "${t1}" --time "${WORK}/time.txt" \
        --stdout "${WORK}/stdout.txt" --stderr "${WORK}/stderr.txt" \
        --bytes "${bytes}" --files "${nfiles}" "${check[@]}"
    rm -rf -- "${root:?}/${remote_put}" "${root:?}/${remote_dir}"
}

mapfile -t small_names < <(cd -- "${DATA}/small" && ls)

# --- ceilings: the cipher alone -----------------------------------------------------------------------
for cipher in aes-256-gcm aes-128-gcm; do
    kb=$(timeout 120 openssl speed -evp "${cipher}" -bytes 16384 -seconds 3 2>/dev/null |
        awk -v c="${cipher^^}" '$1 == c { sub(/k$/, "", $2); print $2 }' || true)
    if [[ ${kb} =~ ^[0-9.]+$ ]]; then
        mib=$(awk -v k="${kb}" 'BEGIN { printf "%.1f", k * 1000 / 1048576 }')
        python3 "${ROOT}/bench/compare.py" ceiling --results "${results}" \
            --name "openssl speed -evp ${cipher}, 16 KiB blocks, one core" --mib-s "${mib}"
        note "openssl speed ${cipher}: ${mib} MiB/s"
    else
        note "openssl speed ${cipher}: no figure"
    fi
done

# --- the rounds -----------------------------------------------------------------------------------------
for ((round = 1; round <= rounds; round++)); do
    note "round ${round}/${rounds}"
    for server in "${SERVERS[@]}"; do
        if [[ ${S_TLS[${server}]} == yes ]]; then
            clients=("${TLS_CLIENTS[@]}")
        else
            clients=("${PLAIN_CLIENTS[@]}")
        fi
        for op in get put many; do
            for client in "${clients[@]}"; do
                run_one "${round}" "${server}" "${op}" "${client}"
            done
        done
    done
done

# --- the table ------------------------------------------------------------------------------------------
suppaftp_version=$(awk '/^name = "suppaftp"$/ { getline; gsub(/"/, "", $3); print $3 }' \
    "${ROOT}/bench/peers/suppaftp/Cargo.lock")
header="ftps compare, ${stamp}: ${rounds} rounds, get ${size_mib} MiB, put ${put_mib} MiB, many ${files} x 4 KiB (up then down, one login; curl: the first ${curl_files}); $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)$([[ ${pin} == yes ]] && echo "; servers pinned to CPU 0, clients to CPU 1"); files on ${work_fs} (${work_dir})
Peers: $(curl --version | head -n 1 | cut -d' ' -f1-2,5), $(lftp --version | head -n 1 | sed 's/ *|.*Version / /; s/ |.*//'), suppaftp ${suppaftp_version} (rustls, ring); servers: vsftpd $(dpkg-query -W -f='${Version}' vsftpd 2>/dev/null) (TLS 1.3, require_ssl_reuse=YES)${serve_note:+; ${serve_note}}${plain_note:+; ${plain_note}}"
python3 "${ROOT}/bench/compare.py" table --results "${results}" --header "${header}" | tee "${out}"
note "table: ${out}; raw JSON lines: ${results}"
