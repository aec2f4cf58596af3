#!/usr/bin/env bash
# Unpacks Debian's ProFTPD 1.3.8 (proftpd-core) and its mod_tls (proftpd-mod-crypto) into
# /opt/ftps-test/proftpd for the interop tests, without installing the packages (Debian's FTP
# server packages conflict with each other, and vsftpd is the one installed with apt), and
# installs the shared libraries they need.
#
# usage: install.sh            (as root; run by scripts/install-servers.sh)
#
# The server is DEST/usr/sbin/proftpd; mod_tls.so (from proftpd-mod-crypto, not
# proftpd-core) is loaded from DEST/usr/lib/proftpd by start.sh's configuration.
# Idempotent: once DEST/.installed names both package versions, it does nothing. No service
# is started (no maintainer script runs: the packages are only unpacked).
set -euo pipefail

DEST=/opt/ftps-test/proftpd
PACKAGES=(proftpd-core proftpd-mod-crypto)
MARKER=${DEST}/.installed

die() {
    echo "proftpd/install.sh: $*" >&2
    exit 1
}

if [[ ${EUID} -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        exec sudo -- "$0" "$@"
    fi
    die "must run as root (and sudo is not available)"
fi

binaries_run() {
    [[ -x ${DEST}/usr/sbin/proftpd && -f ${DEST}/usr/lib/proftpd/mod_tls.so ]] || return 1
    ! ldd "${DEST}/usr/sbin/proftpd" "${DEST}/usr/lib/proftpd/mod_tls.so" 2>/dev/null |
        grep -q 'not found'
}

if [[ -f ${MARKER} ]] && binaries_run; then
    echo "proftpd/install.sh: already unpacked in ${DEST} ($(paste -sd ' ' "${MARKER}"))"
    exit 0
fi

work=$(mktemp -d)
trap 'rm -rf -- "${work}"' EXIT
# apt's sandbox user (_apt) must be able to write the downloaded files.
chmod 0755 "${work}"
if getent passwd _apt >/dev/null; then
    chown _apt "${work}"
fi

download() {
    (cd -- "${work}" && apt-get download "${PACKAGES[@]}")
}
if ! download; then
    echo "proftpd/install.sh: download failed, running apt-get update once" >&2
    apt-get update
    download || die "apt-get download ${PACKAGES[*]} failed"
fi

debs=()
for pkg in "${PACKAGES[@]}"; do
    found=("${work}"/"${pkg}"_*.deb)
    [[ ${#found[@]} -eq 1 && -f ${found[0]} ]] || die "expected one ${pkg}_*.deb in ${work}"
    debs+=("${found[0]}")
done

# The shared libraries from the Depends lines: library packages only (lib*, zlib*), not the
# packages of the service itself (proftpd-*) nor its adduser, ucf, netbase or
# init-system-helpers dependencies (no maintainer script runs here).
libs=()
for deb in "${debs[@]}"; do
    while IFS= read -r dep; do
        dep=${dep%%|*} # first alternative
        dep=${dep%%(*} # no version
        dep=${dep//[[:space:]]/}
        [[ ${dep} == lib* || ${dep} == zlib* ]] || continue
        [[ ${dep} == libpam-runtime ]] && continue
        libs+=("${dep}")
    done < <(dpkg-deb -f "${deb}" Depends | tr ',' '\n')
done
missing=()
for lib in $(printf '%s\n' "${libs[@]}" | sort -u); do
    status=$(dpkg-query -W -f='${Status}' "${lib}" 2>/dev/null || true)
    [[ ${status} == "install ok installed" ]] || missing+=("${lib}")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "proftpd/install.sh: installing ${missing[*]}"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; then
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
    fi
fi

# Unpack next to DEST, then swap, so a half-written tree is never used.
staging=${DEST}.new.$$
rm -rf -- "${staging}"
mkdir -p -- "${staging}"
for deb in "${debs[@]}"; do
    dpkg-deb -x "${deb}" "${staging}"
done
rm -rf -- "${DEST}"
mv -- "${staging}" "${DEST}"
binaries_run || die "the unpacked server does not run (missing libraries?): $(ldd "${DEST}/usr/sbin/proftpd" "${DEST}/usr/lib/proftpd/mod_tls.so" | grep 'not found' || true)"
versions=""
for deb in "${debs[@]}"; do
    versions+="$(dpkg-deb -f "${deb}" Package) $(dpkg-deb -f "${deb}" Version)"$'\n'
done
printf '%s' "${versions}" >"${MARKER}"
echo "proftpd/install.sh: $(paste -sd ' ' "${MARKER}") unpacked in ${DEST}"
