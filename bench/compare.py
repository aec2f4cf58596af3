#!/usr/bin/env python3
"""Records and aggregates the measurements of bench/compare.sh.

  compare.py record --results FILE --round R --server S --op OP --client C --tls T
                    --rc RC --t0 T0 --t1 T1 --time TIME_FILE --stdout F --stderr F
                    --kind ftps-bench|suppaftp|curl|lftp --bytes N --files N
                    [--check-file PATH --check-size N] [--check-dir DIR --check-count N]
      appends one JSON line for one client run to FILE (status ok or fail with the
      first line of the error) and prints a one-line summary to stderr.

  compare.py ceiling --results FILE --name NAME --mib-s X
      appends one ceiling line (openssl speed) to FILE.

  compare.py table --results FILE [--header TEXT]
      prints the markdown table: one row per server x op x client, median (min-max) over the
      rounds, client CPU per GiB (per file for many), peak RSS, and the ratios of each
      figure to curl's and to the best peer's (curl, lftp, suppaftp) in the same cell.

Standard library only.
"""

import argparse
import json
import os
import statistics
import sys

GIB = 1024.0 ** 3
MIB = 1024.0 ** 2
PEERS = ("curl", "lftp", "suppaftp")


def first_line(text):
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:200]
    return ""


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def parse_time(text):
    """The `%U %S %M` line /usr/bin/time -o wrote (it may be preceded by a
    'Command exited with non-zero status' line)."""
    for line in reversed(text.splitlines()):
        parts = line.split()
        if len(parts) == 3:
            try:
                return float(parts[0]), float(parts[1]), int(parts[2])
            except ValueError:
                continue
    return None


def tool_json(stdout):
    """The last JSON object line of ftps-bench's or suppaftp-peer's stdout."""
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None


def record(args):
    stdout, stderr = read(args.stdout), read(args.stderr)
    rec = {
        "round": args.round,
        "server": args.server,
        "op": args.op,
        "client": args.client,
        "kind": args.kind,
        "tls": args.tls,
        "status": "ok",
        "error": None,
        "wall_s": args.t1 - args.t0,
        "bytes": args.bytes,
        "files": args.files,
        "user_s": None,
        "sys_s": None,
        "peak_rss_kib": None,
        "resumed": None,
        "data_connections": None,
        "tool": None,
    }
    errors = []
    if args.rc == 124 or args.rc == 137:
        errors.append("timed out after %s s" % args.timeout)
    elif args.rc != 0:
        errors.append(first_line(stderr) or first_line(stdout) or "exit status %d" % args.rc)
    usage = parse_time(read(args.time))
    if usage is not None:
        rec["user_s"], rec["sys_s"], rec["peak_rss_kib"] = usage
    elif not errors:
        errors.append("no /usr/bin/time figures")
    if not errors and args.kind in ("ftps-bench", "suppaftp"):
        tool = tool_json(stdout)
        if tool is None:
            errors.append("no JSON line on stdout")
        else:
            rec["tool"] = tool
            rec["resumed"] = tool.get("resumed")
            rec["data_connections"] = tool.get("data_connections")
            if tool.get("tls"):
                rec["tls"] = tool["tls"]
            if tool.get("bytes") != args.bytes:
                errors.append("moved %s bytes, expected %d" % (tool.get("bytes"), args.bytes))
    if not errors and args.kind == "curl":
        # With many URLs curl goes on after a failed transfer and exits with the last one's
        # status: any "curl: (N) ..." line is a failure.
        failed = [l.strip() for l in stderr.splitlines() if l.startswith("curl: (")]
        if failed:
            errors.append("%d transfer(s) failed, first: %s" % (len(failed), failed[0][:160]))
    if not errors and args.kind == "curl":
        # One `-w '%{size_download} %{size_upload}'` line per transfer.
        down = up = 0
        lines = 0
        for line in stdout.splitlines():
            parts = line.split()
            if len(parts) == 2:
                try:
                    down += int(float(parts[0]))
                    up += int(float(parts[1]))
                    lines += 1
                except ValueError:
                    pass
        rec["tool"] = {"transfers": lines, "size_download": down, "size_upload": up}
        if down + up != args.bytes:
            errors.append("curl moved %d bytes, expected %d" % (down + up, args.bytes))
    if not errors and args.check_file:
        try:
            size = os.path.getsize(args.check_file)
        except OSError:
            size = None
        if size != args.check_size:
            errors.append("server has %s bytes in %s, expected %d"
                          % (size, os.path.basename(args.check_file), args.check_size))
    if not errors and args.check_dir:
        try:
            names = [n for n in os.listdir(args.check_dir)
                     if os.path.isfile(os.path.join(args.check_dir, n))]
            sizes = {os.path.getsize(os.path.join(args.check_dir, n)) for n in names}
        except OSError:
            names, sizes = [], set()
        if len(names) != args.check_count or sizes - {args.check_size}:
            errors.append("server has %d files (sizes %s) in the upload directory, expected %d of %d"
                          % (len(names), sorted(sizes)[:3], args.check_count, args.check_size))
    if errors:
        rec["status"] = "fail"
        rec["error"] = errors[0]
    with open(args.results, "a", encoding="utf-8") as f:
        f.write(json.dumps(rec) + "\n")
    if rec["status"] == "ok":
        rate = (rec["files"] / rec["wall_s"]) if args.op == "many" else rec["bytes"] / MIB / rec["wall_s"]
        unit = "files/s" if args.op == "many" else "MiB/s"
        print("  %-8s %-5s %-26s %9.1f %s  cpu %.2f s  rss %.1f MiB"
              % (args.server, args.op, args.client, rate, unit,
                 rec["user_s"] + rec["sys_s"], rec["peak_rss_kib"] / 1024.0), file=sys.stderr)
    else:
        print("  %-8s %-5s %-26s FAIL: %s" % (args.server, args.op, args.client, rec["error"]),
              file=sys.stderr)


def ceiling(args):
    rec = {"ceiling": args.name, "mib_s": args.mib_s}
    with open(args.results, "a", encoding="utf-8") as f:
        f.write(json.dumps(rec) + "\n")


def tls_name(tls):
    """1.2 / 1.3 from a pinned version or a reported one (TLSv1.3); 'default' if neither."""
    if not tls:
        return "default"
    return tls[len("TLSv"):] if tls.startswith("TLSv") else tls


def fmt(x, digits):
    if x is None:
        return "-"
    return ("%." + str(digits) + "f") % x


def digits_for(x):
    return 0 if x >= 100 else (1 if x >= 10 else 2)


def spread(values, digits=None):
    if not values:
        return "-"
    med = statistics.median(values)
    d = digits_for(med) if digits is None else digits
    if len(values) == 1:
        return fmt(med, d)
    return "%s (%s-%s)" % (fmt(med, d), fmt(min(values), d), fmt(max(values), d))


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return "%.2f" % (a / b)


def table(args):
    rows = {}
    order = []
    ceilings = []
    with open(args.results, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            rec = json.loads(line)
            if "ceiling" in rec:
                ceilings.append(rec)
                continue
            key = (rec["server"], rec["op"], rec["client"])
            if key not in rows:
                rows[key] = []
                order.append(key)
            rows[key].append(rec)

    stats = {}
    for key in order:
        recs = rows[key]
        ok = [r for r in recs if r["status"] == "ok"]
        op = key[1]
        thr, cpu, rss = [], [], []
        for r in ok:
            wall = r["wall_s"]
            if wall <= 0:
                continue
            used = (r["user_s"] or 0.0) + (r["sys_s"] or 0.0)
            if op == "many":
                thr.append(r["files"] / wall)
                cpu.append(1000.0 * used / r["files"] if r["files"] else 0.0)
            else:
                thr.append(r["bytes"] / MIB / wall)
                cpu.append(used / (r["bytes"] / GIB) if r["bytes"] else 0.0)
            rss.append(r["peak_rss_kib"] / 1024.0)
        tls = sorted({tls_name(r.get("tls")) for r in (ok or recs)})
        resumed = [(r["resumed"], r["data_connections"]) for r in ok if r.get("data_connections")]
        fails = [r for r in recs if r["status"] != "ok"]
        stats[key] = {
            "thr": thr, "cpu": cpu, "rss": rss, "n": len(recs), "fails": fails,
            "tls": "/".join(tls),
            "resumed": resumed,
            "med": (statistics.median(thr) if thr else None,
                    statistics.median(cpu) if cpu else None,
                    statistics.median(rss) if rss else None),
        }

    def peer_of(client):
        for p in PEERS:
            if client.startswith(p):
                return p
        return None

    out = []
    if args.header:
        out.append(args.header)
        out.append("")
    out.append("| server | op | client | TLS | throughput (MiB/s; files/s for many) | client CPU (s/GiB; ms/file for many) | peak RSS (MiB) | resumed | x curl (thr / CPU / RSS) | x best peer (thr / CPU / RSS) |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for key in order:
        server, op, client = key
        s = stats[key]
        cell = [k for k in order if k[0] == server and k[1] == op]
        curl = next((stats[k]["med"] for k in cell if k[2] == "curl"), None)
        peer_meds = [stats[k]["med"] for k in cell if peer_of(k[2]) and stats[k]["thr"]]
        best = None
        if peer_meds:
            best = (max(m[0] for m in peer_meds), min(m[1] for m in peer_meds), min(m[2] for m in peer_meds))
        med = s["med"]
        if not s["thr"]:
            err = (s["fails"][0]["error"] if s["fails"] else "no result")[:150]
            out.append("| %s | %s | %s | %s | fail: %s | - | - | - | - | - |"
                       % (server, op, client, s["tls"], err.replace("|", "/")))
            continue
        thr = spread(s["thr"])
        if s["fails"]:
            thr += " (%d/%d failed: %s)" % (len(s["fails"]), s["n"], s["fails"][0]["error"][:150].replace("|", "/"))
        if s["resumed"]:
            got = [r for r, _ in s["resumed"]]
            conns = s["resumed"][0][1]
            res = "?/%d" % conns if None in got else "%d/%d" % (min(got), conns)
        else:
            res = "-"
        vs_curl = "-"
        if curl is not None and client != "curl" and curl[0] is not None:
            vs_curl = "%s / %s / %s" % (ratio(med[0], curl[0]), ratio(med[1], curl[1]), ratio(med[2], curl[2]))
        vs_best = "-"
        if best is not None:
            vs_best = "%s / %s / %s" % (ratio(med[0], best[0]), ratio(med[1], best[1]), ratio(med[2], best[2]))
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            server, op, client, s["tls"], thr, spread(s["cpu"]), spread(s["rss"], 1), res, vs_curl, vs_best))
    for c in ceilings:
        out.append("| (CPU) | crypto | %s | - | %s | - | - | - | - | - |" % (c["ceiling"], fmt(c["mib_s"], 0)))
    print("\n".join(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("--results", required=True)
    r.add_argument("--round", type=int, required=True)
    r.add_argument("--server", required=True)
    r.add_argument("--op", required=True, choices=["get", "put", "many"])
    r.add_argument("--client", required=True)
    r.add_argument("--kind", required=True, choices=["ftps-bench", "suppaftp", "curl", "lftp"])
    r.add_argument("--tls", default="")
    r.add_argument("--rc", type=int, required=True)
    r.add_argument("--timeout", default="300")
    r.add_argument("--t0", type=float, required=True)
    r.add_argument("--t1", type=float, required=True)
    r.add_argument("--time", required=True)
    r.add_argument("--stdout", required=True)
    r.add_argument("--stderr", required=True)
    r.add_argument("--bytes", type=int, required=True)
    r.add_argument("--files", type=int, required=True)
    r.add_argument("--check-file")
    r.add_argument("--check-size", type=int)
    r.add_argument("--check-dir")
    r.add_argument("--check-count", type=int)
    c = sub.add_parser("ceiling")
    c.add_argument("--results", required=True)
    c.add_argument("--name", required=True)
    c.add_argument("--mib-s", type=float, required=True)
    t = sub.add_parser("table")
    t.add_argument("--results", required=True)
    t.add_argument("--header", default="")
    args = ap.parse_args()
    {"record": record, "ceiling": ceiling, "table": table}[args.cmd](args)


if __name__ == "__main__":
    main()
