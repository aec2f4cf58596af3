#!/usr/bin/env bash
# Unpacks Debian's Pure-FTPd 1.0.50 into /opt/ftps-test/pure-ftpd for the interop tests,
# without installing the package (Debian's FTP server packages conflict with each other,
# and vsftpd is the one installed with apt), and installs the shared libraries it needs
# (scripts/lib/install.sh does the work).
#
# usage: install.sh            (as root; run by scripts/install-servers.sh)
#
# The binary (usr/sbin/pure-ftpd) and pure-pw (usr/bin/pure-pw) are both in the package
# `pure-ftpd`; `pure-ftpd-common` only holds Debian's wrapper scripts and is not needed.
# Idempotent: once DEST/.installed names the package version, it does nothing. No service
# is started (no maintainer script runs).
set -euo pipefail

INSTALLER=pure-ftpd/install.sh
DEST=/opt/ftps-test/pure-ftpd
BINARIES=(usr/sbin/pure-ftpd usr/bin/pure-pw)
# shellcheck source=../lib/install.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/install.sh"

run_as_root "$@"
if unpacked_already "${DEST}"; then
    echo "${INSTALLER}: already unpacked in ${DEST} ($(paste -sd ' ' "${DEST}/.installed"))"
    exit 0
fi
unpack_debs "${DEST}" pure-ftpd
