#!/usr/bin/env bash
# Unpacks Debian's Pure-FTPd 1.0.50 into /opt/ftps-test/pure-ftpd for the interop tests,
# without installing the package (Debian's FTP server packages conflict with each other,
# and vsftpd is the one installed with apt), and installs the shared libraries it needs.
#
# usage: install.sh            (as root; run by scripts/install-servers.sh)
#
# The binary (usr/sbin/pure-ftpd) and pure-pw (usr/bin/pure-pw) are both in the package
# `pure-ftpd`; `pure-ftpd-common` only holds Debian's wrapper scripts and is not needed.
# Idempotent: once DEST/.installed names the package version, it does nothing. No service
# is started (no maintainer script runs).
set -euo pipefail

DEST=/opt/ftps-test/pure-ftpd
PACKAGE=pure-ftpd
MARKER=${DEST}/.installed

die() {
    echo "pure-ftpd/install.sh: $*" >&2
    exit 1
}

if [[ ${EUID} -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        exec sudo -- "$0" "$@"
    fi
    die "must run as root (and sudo is not available)"
fi

binaries_run() {
    [[ -x ${DEST}/usr/sbin/pure-ftpd && -x ${DEST}/usr/bin/pure-pw ]] || return 1
    ! ldd "${DEST}/usr/sbin/pure-ftpd" "${DEST}/usr/bin/pure-pw" 2>/dev/null | grep -q 'not found'
}

if [[ -f ${MARKER} ]] && binaries_run; then
    echo "pure-ftpd/install.sh: already unpacked in ${DEST} ($(<"${MARKER}"))"
    exit 0
fi

work=$(mktemp -d)
trap 'rm -rf -- "${work}"' EXIT
# apt's sandbox user (_apt) must be able to write the downloaded file.
chmod 0755 "${work}"
if getent passwd _apt >/dev/null; then
    chown _apt "${work}"
fi

download() {
    (cd -- "${work}" && apt-get download "${PACKAGE}")
}
if ! download; then
    echo "pure-ftpd/install.sh: download failed, running apt-get update once" >&2
    apt-get update
    download || die "apt-get download ${PACKAGE} failed"
fi
debs=("${work}"/"${PACKAGE}"_*.deb)
[[ ${#debs[@]} -eq 1 && -f ${debs[0]} ]] || die "expected one ${PACKAGE}_*.deb in ${work}"
deb=${debs[0]}
version=$(dpkg-deb -f "${deb}" Version)

# The shared libraries from the Depends line: library packages only (lib*), not the
# inetd, lsb-base or pure-ftpd-common dependencies of the packaged service.
libs=()
while IFS= read -r dep; do
    dep=${dep%%|*}                  # first alternative
    dep=${dep%%(*}                  # no version
    dep=${dep//[[:space:]]/}
    [[ ${dep} == lib* ]] && libs+=("${dep}")
done < <(dpkg-deb -f "${deb}" Depends | tr ',' '\n')
missing=()
for lib in "${libs[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "${lib}" 2>/dev/null || true)
    [[ ${status} == "install ok installed" ]] || missing+=("${lib}")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "pure-ftpd/install.sh: installing ${missing[*]}"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; then
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
    fi
fi

# Unpack next to DEST, then swap, so a half-written tree is never used.
staging=${DEST}.new.$$
rm -rf -- "${staging}"
mkdir -p -- "${staging}"
dpkg-deb -x "${deb}" "${staging}"
rm -rf -- "${DEST}"
mv -- "${staging}" "${DEST}"
binaries_run || die "the unpacked binaries do not run (missing libraries?): $(ldd "${DEST}/usr/sbin/pure-ftpd" | grep 'not found' || true)"
echo "${PACKAGE} ${version}" >"${MARKER}"
echo "pure-ftpd/install.sh: ${PACKAGE} ${version} unpacked in ${DEST}"
