#!/usr/bin/env bash
# Stops the vsftpd that start.sh DIR started, and the per-connection processes it forked.
# vsftpd forks one or two processes per connection and makes each a session leader of its
# own, so neither the process group nor the session holds them: they are found by parent
# PID.
#
# usage: stop.sh DIR
#
# stop_server in ../lib/server.sh does the work: only the process whose PID is in
# DIR/vsftpd.pid, only while its start time still equals DIR/vsftpd.starttime, and its
# descendants; SIGSTOP, then SIGTERM + SIGCONT, then SIGKILL after a bounded wait; never
# by name. Exits 0 when nothing of DIR's runs any more.
set -euo pipefail

SERVER=vsftpd
# shellcheck source-path=SCRIPTDIR source=../lib/server.sh
source "$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)/../lib/server.sh"
stop_server "$@"
