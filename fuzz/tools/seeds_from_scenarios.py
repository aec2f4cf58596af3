#!/usr/bin/env python3
"""Writes the `session` and `reply` fuzz seeds from the scripts of SCENARIOS.md.

usage: fuzz/tools/seeds_from_scenarios.py SCENARIOS.md SEEDS_DIR

Each scenario's **Script:** (a fenced block, or backticked steps joined by '·') becomes one
`session` seed in the target's transcript format (`> command`, `< reply`, `! secured` for the
control handshake; see fuzz/src/session.rs), after a policy byte of 0 (TLS required, Private,
explicit, lenient). The server's reply lines also become `reply` seeds (CR LF ended, after a
read-size byte). Steps the transcript format has no words for (data handshakes, pauses,
variants in prose) are left out.
"""

import pathlib
import re
import sys

STEP = re.compile(r"^(S|C)[:*]\s?(.*)$")


def script_lines(block):
    """The steps of one script, in order."""
    steps = []
    for raw in block:
        if raw.strip().startswith("~ctl handshake"):
            steps.append("! secured")
            continue
        # Two columns: "C* USER alice      S* 331 Password required".
        for part in re.split(r"\s{2,}(?=[SC][:*] )|\s*·\s*", raw.strip()):
            part = part.strip().strip("`")
            match = STEP.match(part)
            if not match:
                if part.startswith("~ctl handshake"):
                    steps.append("! secured")
                continue
            side, text = match.groups()
            text = re.sub(r"\s+\(.*\)$", "", text).strip()
            if side == "S":
                if re.match(r"^[1-5]\d\d( |$)", text):
                    steps.append("< " + text)
            elif text and "<" not in text:
                steps.append("> " + text)
    return steps


def scripts(markdown):
    """(scenario id, steps) for every scenario with a script."""
    current = None
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        heading = re.match(r"^### ([A-Z]+-\d+)", line)
        if heading:
            current = heading.group(1)
        if current and line.startswith("**Script:**"):
            inline = line[len("**Script:**"):].strip()
            block = []
            if inline:
                block.append(inline)
            elif i + 1 < len(lines) and lines[i + 1].startswith("```"):
                i += 2
                while i < len(lines) and not lines[i].startswith("```"):
                    block.append(lines[i])
                    i += 1
            steps = script_lines(block)
            if steps:
                yield current, steps
        i += 1


def main():
    scenarios, seeds = sys.argv[1:3]
    seeds = pathlib.Path(seeds)
    (seeds / "session").mkdir(parents=True, exist_ok=True)
    (seeds / "reply").mkdir(parents=True, exist_ok=True)
    count = 0
    for ident, steps in scripts(pathlib.Path(scenarios).read_text()):
        transcript = "\n".join(steps) + "\n"
        (seeds / "session" / f"scenario-{ident}").write_bytes(b"\0" + transcript.encode())
        replies = "".join(s[2:] + "\r\n" for s in steps if s.startswith("< "))
        if replies:
            (seeds / "reply" / f"scenario-{ident}").write_bytes(b"\x07" + replies.encode())
        count += 1
    print(f"{count} scenario scripts written")


if __name__ == "__main__":
    main()
