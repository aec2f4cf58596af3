"""A pyftpdlib FTPS server (explicit AUTH TLS only) for the ftps interop tests.

Started by start.sh with the venv's Python; listens on 127.0.0.1 only, requires TLS on the
control connection and on every data connection, and exits by itself after --max-lifetime
seconds (pyftpdlib can busy-loop on a stuck client connection, so its lifetime is bounded),
or at once on SIGTERM/SIGINT.
"""

import argparse
import logging
import os
import signal
import sys
import time

from OpenSSL import SSL
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import TLS_FTPHandler
from pyftpdlib.servers import FTPServer


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True, help="control port on 127.0.0.1")
    p.add_argument("--pasv-min", type=int, required=True)
    p.add_argument("--pasv-max", type=int, required=True)
    p.add_argument("--cert", required=True, help="server certificate chain (PEM)")
    p.add_argument("--key", required=True, help="server private key (PEM)")
    p.add_argument("--home", required=True, help="the user's FTP root (read-write)")
    p.add_argument("--user", required=True)
    p.add_argument("--password-file", required=True, help="file whose first line is the password")
    p.add_argument("--log", required=True, help="protocol log file")
    p.add_argument("--tls", choices=("1.2", "1.3"), default="1.3",
                   help="highest TLS version (the lowest is always 1.2)")
    p.add_argument("--no-epsv", action="store_true",
                   help="answer EPSV with 500 (unknown command), so clients fall back to PASV")
    p.add_argument("--max-lifetime", type=float, default=600.0,
                   help="exit after this many seconds whatever happens")
    p.add_argument("--idle-timeout", type=int, default=120,
                   help="close a control or data connection idle for this many seconds")
    return p.parse_args()


def ssl_context(args):
    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
    ctx.set_max_proto_version(SSL.TLS1_2_VERSION if args.tls == "1.2" else SSL.TLS1_3_VERSION)
    ctx.set_options(SSL.OP_NO_COMPRESSION)
    ctx.use_certificate_chain_file(args.cert)
    ctx.use_privatekey_file(args.key)
    ctx.check_privatekey()
    # Lets data connections resume the control connection's session (not required).
    ctx.set_session_id(b"ftps-interop-pyftpdlib")
    return ctx


def main():
    args = parse_args()
    logging.basicConfig(
        filename=args.log,
        level=logging.DEBUG,
        format="%(asctime)s.%(msecs)03d %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    with open(args.password_file, encoding="utf-8") as f:
        password = f.readline().rstrip("\n")

    authorizer = DummyAuthorizer()
    # e l r a d f m w M T: every read and write permission.
    authorizer.add_user(args.user, password, args.home, perm="elradfmwMT")

    class Handler(TLS_FTPHandler):
        pass

    Handler.authorizer = authorizer
    Handler.ssl_context = ssl_context(args)
    Handler.tls_control_required = True
    Handler.tls_data_required = True
    Handler.passive_ports = range(args.pasv_min, args.pasv_max + 1)
    Handler.timeout = args.idle_timeout
    Handler.dtp_handler.timeout = args.idle_timeout
    Handler.banner = "pyftpdlib FTPS interop test server ready."
    if args.no_epsv:
        Handler.proto_cmds = {k: v for k, v in TLS_FTPHandler.proto_cmds.items() if k != "EPSV"}

    server = FTPServer(("127.0.0.1", args.port), Handler)
    server.max_cons = 64
    server.max_cons_per_ip = 64

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append("SIGTERM"))
    signal.signal(signal.SIGINT, lambda *_: stop.append("SIGINT"))
    deadline = time.monotonic() + args.max_lifetime
    logging.info("listening on 127.0.0.1:%d, pid %d, TLS <= %s, lifetime %.0f s",
                 args.port, os.getpid(), args.tls, args.max_lifetime)
    try:
        # One poll round at a time (serve_forever would log a start line per round).
        while not stop and time.monotonic() < deadline:
            server.ioloop.loop(timeout=0.2, blocking=False)
    finally:
        why = stop[0] if stop else "max lifetime reached"
        logging.info("stopping: %s", why)
        server.close_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
