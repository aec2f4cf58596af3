#!/usr/bin/env bash
# Unpacks Debian's ProFTPD 1.3.8 (proftpd-core) and its mod_tls (proftpd-mod-crypto) into
# /opt/ftps-test/proftpd for the interop tests, without installing the packages (Debian's FTP
# server packages conflict with each other, and vsftpd is the one installed with apt), and
# installs the shared libraries they need (scripts/lib/install.sh does the work).
#
# usage: install.sh            (as root; run by scripts/install-servers.sh)
#
# The server is DEST/usr/sbin/proftpd; mod_tls.so (from proftpd-mod-crypto, not
# proftpd-core) is loaded from DEST/usr/lib/proftpd by start.sh's configuration.
# Idempotent: once DEST/.installed names both package versions, it does nothing. No service
# is started (no maintainer script runs: the packages are only unpacked).
set -euo pipefail

INSTALLER=proftpd/install.sh
DEST=/opt/ftps-test/proftpd
BINARIES=(usr/sbin/proftpd usr/lib/proftpd/mod_tls.so)
# shellcheck source=../lib/install.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/install.sh"

run_as_root "$@"
if unpacked_already "${DEST}"; then
    echo "${INSTALLER}: already unpacked in ${DEST} ($(paste -sd ' ' "${DEST}/.installed"))"
    exit 0
fi
unpack_debs "${DEST}" proftpd-core proftpd-mod-crypto
