#!/usr/bin/env bash
# Installs pyftpdlib and pyOpenSSL (for its TLS_FTPHandler) from PyPI into a virtual
# environment at /opt/ftps-test/pyftpdlib-venv, so the system Python stays untouched.
#
# usage: install.sh            (as root; run by scripts/install-servers.sh)
#
# Idempotent: when the venv already imports both packages, it does nothing.
set -euo pipefail

VENV=/opt/ftps-test/pyftpdlib-venv
PACKAGES=(pyftpdlib pyopenssl)

INSTALLER=pyftpdlib/install.sh
# shellcheck source=../lib/install.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/install.sh"
run_as_root "$@"

imports_ok() {
    [[ -x ${VENV}/bin/python ]] &&
        "${VENV}/bin/python" -c 'import pyftpdlib.handlers, OpenSSL.SSL; pyftpdlib.handlers.TLS_FTPHandler' \
            >/dev/null 2>&1
}

versions() {
    "${VENV}/bin/python" -c 'import pyftpdlib, OpenSSL; print("pyftpdlib", pyftpdlib.__ver__, "pyOpenSSL", OpenSSL.__version__)'
}

if imports_ok; then
    echo "pyftpdlib/install.sh: already installed in ${VENV} ($(versions))"
    exit 0
fi

python=${PYTHON:-python3}
command -v "${python}" >/dev/null || die "${python} not found"
"${python}" -c 'import venv, ensurepip' 2>/dev/null ||
    die "${python} has no venv/ensurepip module (on Debian: apt-get install python3-venv)"

mkdir -p -- "$(dirname -- "${VENV}")"
if [[ ! -x ${VENV}/bin/python ]]; then
    rm -rf -- "${VENV}"
    "${python}" -m venv "${VENV}"
fi
"${VENV}/bin/python" -m pip install --disable-pip-version-check --no-input --quiet "${PACKAGES[@]}"
imports_ok || die "pyftpdlib or pyOpenSSL does not import after the install"
echo "pyftpdlib/install.sh: installed in ${VENV} ($(versions))"
