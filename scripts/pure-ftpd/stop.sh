#!/usr/bin/env bash
# Stops the pure-ftpd that start.sh DIR started, and the per-connection processes it forked.
# pure-ftpd forks a process per connection and that one a privilege-separation helper; they
# are found by parent PID and by session id (STOP_BY_SESSION=1), since a helper whose parent
# exited is re-parented to init but stays in the listener's session.
#
# usage: stop.sh DIR
#
# stop_server in ../lib/server.sh does the work: only the process whose PID is in
# DIR/pure-ftpd.pid, only while its start time still equals DIR/pure-ftpd.starttime, and its
# descendants; SIGSTOP, then SIGTERM + SIGCONT, then SIGKILL after a bounded wait; never
# by name. Exits 0 when nothing of DIR's runs any more.
set -euo pipefail

SERVER=pure-ftpd
# shellcheck source-path=SCRIPTDIR source=../lib/server.sh
source "$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)/../lib/server.sh"
STOP_BY_SESSION=1
stop_server "$@"
