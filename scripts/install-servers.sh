#!/usr/bin/env bash
# Installs the real FTPS servers used by the interop tests: vsftpd, the tools the start
# scripts need (openssl, curl, python3-venv for pyftpdlib's virtual environment) and what the
# openssl and native-tls backends build against (libssl-dev, pkg-config) from Debian's
# packages; then ProFTPD, Pure-FTPd and pyftpdlib through their own scripts/<server>/install.sh.
#
# Idempotent: when every package is already installed it touches nothing. Runs as root
# (through sudo when not root and sudo exists). No service is started by the packages:
# a policy-rc.d that answers 101 is in place for the duration of the install, and any
# listener the package may still have started on port 21 is checked for afterwards.
set -euo pipefail

PACKAGES=(vsftpd openssl curl libssl-dev pkg-config python3-venv)

if [[ ${EUID} -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        echo "install-servers: not root, re-running through sudo"
        exec sudo -- "$0" "$@"
    fi
    echo "install-servers: must run as root (and sudo is not available)" >&2
    exit 1
fi

is_installed() {
    local status
    status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)
    [[ ${status} == "install ok installed" ]]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    if is_installed "${pkg}"; then
        echo "install-servers: ${pkg} already installed ($(dpkg-query -W -f='${Version}' "${pkg}"))"
    else
        missing+=("${pkg}")
    fi
done

# The other servers (Debian's server packages conflict with each other, so they are unpacked
# rather than installed) come from their own scripts/<server>/install.sh, run after apt.
run_server_installers() {
    local installer
    for installer in "$(dirname -- "$0")"/*/install.sh; do
        [[ -f ${installer} ]] || continue
        echo "install-servers: ${installer}"
        bash "${installer}"
    done
}

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-servers: apt packages: nothing to install"
    run_server_installers
    exit 0
fi

# Keep the packages' init scripts from starting a vsftpd on port 21: invoke-rc.d asks
# /usr/sbin/policy-rc.d first and 101 means "action forbidden". An existing policy file
# is put back exactly as it was afterwards.
POLICY=/usr/sbin/policy-rc.d
policy_backup=""
restore_policy() {
    if [[ -n ${policy_backup} ]]; then
        mv -f -- "${policy_backup}" "${POLICY}"
    else
        rm -f -- "${POLICY}"
    fi
}
if [[ -e ${POLICY} ]]; then
    policy_backup=$(mktemp /usr/sbin/.policy-rc.d.ftps-backup.XXXXXX)
    cp -p -- "${POLICY}" "${policy_backup}"
fi
trap restore_policy EXIT
printf '#!/bin/sh\n# written by ftps scripts/install-servers.sh for the duration of an install\nexit 101\n' >"${POLICY}"
chmod 0755 "${POLICY}"

echo "install-servers: apt-get update"
apt-get update
echo "install-servers: installing ${missing[*]}"
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"

restore_policy
trap - EXIT

for pkg in "${PACKAGES[@]}"; do
    if ! is_installed "${pkg}"; then
        echo "install-servers: ${pkg} is still not installed" >&2
        exit 1
    fi
    echo "install-servers: ${pkg} $(dpkg-query -W -f='${Version}' "${pkg}") installed"
done

# Nothing may be left listening on the FTP port by the package (port 21 = 0x0015).
if awk 'NR > 1 && $4 == "0A" { split($2, a, ":"); if (a[2] == "0015") found = 1 } END { exit !found }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
    echo "install-servers: warning: something listens on port 21 after the install" \
        "(not started by these scripts; check 'service vsftpd status')" >&2
else
    echo "install-servers: nothing listens on port 21"
fi

run_server_installers
