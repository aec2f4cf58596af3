#!/usr/bin/env python3
"""Records replies, listings and whole sessions from the real servers as fuzz seeds.

usage (as root, after scripts/install-servers.sh): fuzz/tools/record_real_seeds.py SEEDS_DIR
    [SERVER...]   (default: vsftpd proftpd pure-ftpd pyftpdlib)

Each server is started with the project's own script (`scripts/SERVER/start.sh DIR --tls12`)
and stopped with its stop script. A session of Python's ftplib (FTP_TLS, TLS 1.2, made to
resume the control session on data connections) logs in, protects data, uploads two files
and a directory, and sends the commands whose replies the parsers read (FEAT, PASV, EPSV,
SIZE, MDTM, MLST, STAT, HELP, errors). What it records:

- reply/SERVER-VERB: each reply, CR LF ended, after a read-size byte;
- feat/SERVER: the FEAT reply;
- pasv/SERVER-PASV, pasv/SERVER-EPSV: 22 address bytes, then the reply's text;
- listing/SERVER-mlsd, -list, -mlst: the data of MLSD and LIST, the entry line of MLST;
- session/SERVER: the whole session in the `session` target's transcript format.
"""

import contextlib
import ftplib
import io
import pathlib
import re
import ssl
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
TRANSFER_VERBS = ("RETR", "STOR", "LIST", "NLST", "MLSD", "APPE")


class ReusingFTP(ftplib.FTP_TLS):
    """ftplib's FTP_TLS, with data connections resuming the control session (the servers here
    require it; ftplib alone does not offer the session)."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(
                conn, server_hostname=self.host, session=self.sock.session
            )
        return conn, size


def start(server, workdir):
    """Starts SERVER; returns its key=value settings."""
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / server / "start.sh"), workdir, "--tls12"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    return dict(pair.split("=", 1) for pair in out.split())


def stop(server, workdir):
    subprocess.run(
        ["bash", str(ROOT / "scripts" / server / "stop.sh"), workdir],
        check=False,
        capture_output=True,
        timeout=60,
    )


def wire(text):
    """A reply as ftplib returns it (lines joined by LF) back to its CR LF form."""
    return ("\r\n".join(text.split("\n")) + "\r\n").encode()


def write(seeds, target, name, data):
    path = seeds / target
    path.mkdir(parents=True, exist_ok=True)
    (path / name).write_bytes(data)


def send(ftp, line):
    """Sends LINE; returns the final reply's text, error replies included."""
    try:
        return ftp.sendcmd(line)
    except ftplib.Error as error:
        return str(error)


def record(server, seeds):
    with tempfile.TemporaryDirectory(prefix=f"seeds-{server}-") as workdir:
        settings = start(server, workdir)
        try:
            context = ssl.create_default_context(cafile=settings["ca_pem"])
            context.maximum_version = ssl.TLSVersion.TLSv1_2
            ftp = ReusingFTP(context=context, timeout=30)
            debug = io.StringIO()
            with contextlib.redirect_stdout(debug):
                ftp.set_debuglevel(2)
                ftp.connect("127.0.0.1", int(settings["port"]))
                ftp.login(settings["user"], settings["password"])
                ftp.prot_p()
                replies = {}
                for line in ("SYST", "PWD", "NOOP", "TYPE I", "FEAT", "HELP", "STAT"):
                    replies[line.split()[0]] = send(ftp, line)
                send(ftp, "MKD sub dir")
                ftp.storbinary("STOR f.bin", io.BytesIO(b"x" * 4097))
                ftp.storbinary("STOR a b;c.txt", io.BytesIO(b"hello\r\n"))
                for line in ("SIZE f.bin", "MDTM f.bin", "MLST f.bin", "PASV", "EPSV"):
                    replies[line.split()[0]] = send(ftp, line)
                replies["RETR-missing"] = send(ftp, "SIZE missing.bin")
                replies["bogus"] = send(ftp, "XYZZY")
                mlsd, listing = [], []
                with contextlib.suppress(ftplib.Error):
                    ftp.retrlines("MLSD", mlsd.append)
                ftp.retrlines("LIST", listing.append)
                ftp.retrbinary("RETR f.bin", lambda _: None)
                ftp.quit()
        finally:
            stop(server, workdir)
    for verb, text in replies.items():
        write(seeds, "reply", f"{server}-{verb}", b"\x07" + wire(text))
    write(seeds, "feat", server, b"\x05" + wire(replies["FEAT"]))
    address = bytes([127, 0, 0, 1]) + bytes(15) + b"\x01" + b"\x9c\x41"
    for verb in ("PASV", "EPSV"):
        write(seeds, "pasv", f"{server}-{verb}", address + replies[verb].encode())
    if mlsd:
        write(seeds, "listing", f"{server}-mlsd", b"\x00" + "\r\n".join(mlsd).encode() + b"\r\n")
    write(seeds, "listing", f"{server}-list", b"\x02" + "\r\n".join(listing).encode() + b"\r\n")
    mlst = replies["MLST"].split("\n")
    if len(mlst) >= 3:
        write(seeds, "listing", f"{server}-mlst", b"\x01" + mlst[1].encode())
    write(seeds, "session", server, b"\x00" + transcript(debug.getvalue()).encode())


def transcript(debug):
    """ftplib's debug output (`*cmd* '...'`, `*resp* '...'`) as a `session` transcript."""
    steps, transfer = [], False
    for kind, text in re.findall(r"^\*(cmd|resp)\* '(.*)'$", debug, re.MULTILINE):
        text = text.encode().decode("unicode_escape").split("\n")[0]
        if kind == "cmd":
            steps.append("> " + text)
            transfer = text.split(" ")[0].upper() in TRANSFER_VERBS
        elif transfer and not text.startswith("1"):
            steps.append("= clean " + text)
            transfer = False
        else:
            steps.append("< " + text)
            if text.startswith("234"):
                steps.append("! secured")
    return "\n".join(steps) + "\n"


def main():
    seeds = pathlib.Path(sys.argv[1])
    servers = sys.argv[2:] or ["vsftpd", "proftpd", "pure-ftpd", "pyftpdlib"]
    for server in servers:
        record(server, seeds)
        print(f"{server}: recorded")


if __name__ == "__main__":
    main()
