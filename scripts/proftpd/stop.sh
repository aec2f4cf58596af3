#!/usr/bin/env bash
# Stops the proftpd that start.sh DIR started, and the per-connection processes it forked.
# ProFTPD forks one session process per connection, which may leave the listener's process
# group and session, so they are found by parent PID.
#
# usage: stop.sh DIR
#
# stop_server in ../lib/server.sh does the work: only the process whose PID is in
# DIR/proftpd.pid, only while its start time still equals DIR/proftpd.starttime, and its
# descendants; SIGSTOP, then SIGTERM + SIGCONT, then SIGKILL after a bounded wait; never
# by name. Exits 0 when nothing of DIR's runs any more.
set -euo pipefail

SERVER=proftpd
# shellcheck source-path=SCRIPTDIR source=../lib/server.sh
source "$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)/../lib/server.sh"
stop_server "$@"
