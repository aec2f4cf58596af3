# shellcheck shell=bash
# What the installers of the servers that are unpacked rather than installed share (Debian's
# FTP server packages conflict with each other; vsftpd is the one installed with apt): sourced
# (never run) by scripts/<server>/install.sh.
#
# Set before sourcing (or before calling the functions):
#   INSTALLER   the name in messages ("proftpd/install.sh")
#   BINARIES    (array) the files under DEST the server needs (its binary, loaded modules)
#
# Functions:
#   die MSG                           the message on stderr, exit 1
#   run_as_root ARGS...               re-runs the calling script through sudo unless root
#   unpack_debs DEST PACKAGE...       downloads the packages (apt-get download, one apt-get
#                                     update on failure), installs with apt the shared
#                                     libraries their Depends name, and unpacks them into DEST
#                                     (dpkg-deb -x: no maintainer script runs, no service
#                                     starts); DEST/.installed then lists "package version".
#   unpacked_already DEST             whether DEST/.installed exists and the BINARIES run

die() {
    echo "${INSTALLER}: $*" >&2
    exit 1
}

# Re-runs the calling script with its arguments through sudo when not root.
run_as_root() {
    [[ ${EUID} -eq 0 ]] && return 0
    if command -v sudo >/dev/null 2>&1; then
        exec sudo -- "$0" "$@"
    fi
    die "must run as root (and sudo is not available)"
}

# The ldd lines of DEST's BINARIES that name a library not found, or "missing FILE" lines.
missing_libraries() {
    local dest=$1 file
    for file in "${BINARIES[@]}"; do
        if [[ -f ${dest}/${file} ]]; then
            ldd "${dest}/${file}" 2>/dev/null | grep 'not found' || true
        else
            echo "missing ${file}"
        fi
    done
}

unpacked_already() {
    local dest=$1
    [[ -f ${dest}/.installed && -z $(missing_libraries "${dest}") ]]
}

# The shared-library packages among a .deb's Depends (the first alternative, no version):
# lib* and zlib*, not the service's own packages nor adduser, ucf, netbase and the like
# (no maintainer script runs), nor libpam-runtime (configuration, not a library).
library_depends() {
    local dep
    while IFS= read -r dep; do
        dep=${dep%%|*}
        dep=${dep%%(*}
        dep=${dep//[[:space:]]/}
        [[ ${dep} == lib* || ${dep} == zlib* ]] || continue
        [[ ${dep} == libpam-runtime ]] && continue
        echo "${dep}"
    done < <(dpkg-deb -f "$1" Depends | tr ',' '\n')
}

# Installs with apt the packages of $@ that are not installed yet (one apt-get update on failure).
apt_install_missing() {
    local pkg status missing=()
    for pkg in "$@"; do
        status=$(dpkg-query -W -f='${Status}' "${pkg}" 2>/dev/null || true)
        [[ ${status} == "install ok installed" ]] || missing+=("${pkg}")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    echo "${INSTALLER}: installing ${missing[*]}"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; then
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
    fi
}

unpack_debs() {
    local dest=$1
    shift
    local packages=("$@") work pkg deb found debs=() libs=() staging versions=""
    work=$(mktemp -d)
    # shellcheck disable=SC2064 # expand now: work is local
    trap "rm -rf -- '${work}'" EXIT
    # apt's sandbox user (_apt) must be able to write the downloaded files.
    chmod 0755 "${work}"
    if getent passwd _apt >/dev/null; then
        chown _apt "${work}"
    fi
    if ! (cd -- "${work}" && apt-get download "${packages[@]}"); then
        echo "${INSTALLER}: download failed, running apt-get update once" >&2
        apt-get update
        (cd -- "${work}" && apt-get download "${packages[@]}") ||
            die "apt-get download ${packages[*]} failed"
    fi
    for pkg in "${packages[@]}"; do
        found=("${work}"/"${pkg}"_*.deb)
        [[ ${#found[@]} -eq 1 && -f ${found[0]} ]] || die "expected one ${pkg}_*.deb in ${work}"
        debs+=("${found[0]}")
    done
    for deb in "${debs[@]}"; do
        mapfile -t -O "${#libs[@]}" libs < <(library_depends "${deb}")
    done
    if [[ ${#libs[@]} -gt 0 ]]; then
        mapfile -t libs < <(printf '%s\n' "${libs[@]}" | sort -u)
        apt_install_missing "${libs[@]}"
    fi
    # Unpack next to dest, then swap, so a half-written tree is never used.
    staging=${dest}.new.$$
    rm -rf -- "${staging}"
    mkdir -p -- "${staging}"
    for deb in "${debs[@]}"; do
        dpkg-deb -x "${deb}" "${staging}"
        versions+="$(dpkg-deb -f "${deb}" Package) $(dpkg-deb -f "${deb}" Version)"$'\n'
    done
    rm -rf -- "${dest}"
    mv -- "${staging}" "${dest}"
    local missing
    missing=$(missing_libraries "${dest}")
    [[ -z ${missing} ]] || die "the unpacked server does not run: ${missing}"
    printf '%s' "${versions}" >"${dest}/.installed"
    echo "${INSTALLER}: $(paste -sd ' ' "${dest}/.installed") unpacked in ${dest}"
}
