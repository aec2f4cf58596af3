#!/usr/bin/env python3
"""Splits a client run's wall time between the server's turns and the client's turns.

Reads a packet capture of one FTPS session on loopback (`tcpdump -i lo -w FILE.pcap`, read back
with `tcpdump -r`) and walks the packets in time order. Every packet that carries something (a
payload, SYN or FIN) ends a "turn": the time since the previous such packet is charged to the
side that sent it. On a session whose steps run one after the other (one control connection,
one data connection at a time, as in `ftps-bench many`), the server's share is what no client
can save; a client that did no work at all would still take that long.

usage: bench/turns.py CAPTURE.pcap --server-ports 21,30000-30100
The server ports are the control port and the passive port range (both sides are 127.0.0.1).
It prints the capture's span, the server's and the client's share, and the longest pauses.
"""

import argparse
import re
import subprocess
import sys

PACKET = re.compile(
    r"^(\d+\.\d+) IP [\d.]+\.(\d+) > [\d.]+\.(\d+): Flags \[([^\]]*)\].*length (\d+)"
)


def port_set(text):
    """'21,30000-30100' -> a predicate on ports."""
    ranges = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        ranges.append((int(low), int(high or low)))
    return lambda port: any(low <= port <= high for low, high in ranges)


def packets(capture):
    """(time, from_server, carries_something) for each TCP packet of the capture."""
    out = subprocess.run(
        ["tcpdump", "-r", capture, "-n", "-tt"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for line in out.splitlines():
        match = PACKET.match(line)
        if match:
            time, source, _, flags, length = match.groups()
            yield float(time), int(source), int(length) > 0 or "S" in flags or "F" in flags


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture")
    parser.add_argument("--server-ports", required=True, type=port_set)
    parser.add_argument("--top", type=int, default=5, help="longest pauses to list")
    args = parser.parse_args()

    share = {True: 0.0, False: 0.0}
    pauses = []
    first = last = None
    for time, source, carries in packets(args.capture):
        if first is None:
            first = last = time
        if not carries:
            continue
        server = args.server_ports(source)
        share[server] += time - last
        pauses.append((time - last, "server" if server else "client", time - first))
        last = time
    if first is None:
        sys.exit("no TCP packets in the capture")
    span = last - first
    print(f"span {span * 1000:.1f} ms")
    for side, name in ((True, "server"), (False, "client")):
        print(f"{name} turns {share[side] * 1000:.1f} ms ({share[side] / span:.0%})")
    for pause, side, at in sorted(pauses, reverse=True)[: args.top]:
        print(f"pause {pause * 1000:.1f} ms before the {side}'s packet at {at * 1000:.1f} ms")


if __name__ == "__main__":
    main()
