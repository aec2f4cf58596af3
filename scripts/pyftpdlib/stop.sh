#!/usr/bin/env bash
# Stops the pyftpdlib server that start.sh DIR started (and any process it forked).
# server.py forks nothing itself; the tree walk, by parent PID and session id
# (STOP_BY_SESSION=1), is there in case a handler ever does.
#
# usage: stop.sh DIR
#
# stop_server in ../lib/server.sh does the work: only the process whose PID is in
# DIR/pyftpdlib.pid, only while its start time still equals DIR/pyftpdlib.starttime, and its
# descendants; SIGSTOP, then SIGTERM + SIGCONT, then SIGKILL after a bounded wait; never
# by name. Exits 0 when nothing of DIR's runs any more.
set -euo pipefail

SERVER=pyftpdlib
# shellcheck source-path=SCRIPTDIR source=../lib/server.sh
source "$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)/../lib/server.sh"
STOP_BY_SESSION=1
stop_server "$@"
