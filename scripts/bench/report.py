#!/usr/bin/env python3
"""Turns scripts/bench/run.sh's results.tsv into the Markdown tables of
docs/PERFORMANCE.md, with s3seal's ratios against the peers and the
issue's targets checked. A workload measured several times per tool is
reported by its median sample (by wall time), with the range.

    report.py results.tsv machine.txt
"""
import csv
import sys

MIB = 1 << 20


def load(path):
    samples = {}
    with open(path) as f:
        for r in csv.DictReader(f, delimiter="\t"):
            samples.setdefault((r["workload"], r["tool"]), []).append(r)
    rows = {}
    for key, rs in samples.items():
        rs.sort(key=lambda r: float(r["wall_s"]))
        median = dict(rs[(len(rs) - 1) // 2])  # the lower median of an even count
        median["samples"] = "" if len(rs) == 1 else f"{len(rs)}: {float(rs[0]['wall_s']):.2f}-{float(rs[-1]['wall_s']):.2f}"
        median["max_rss_kib"] = max(int(r["maxrss_kib"]) for r in rs)
        rows[key] = median
    return rows


def rate_bits(machine):
    """The WAN link rate the run used, in bits per second, or 0."""
    for line in open(machine):
        if line.startswith("WAN:"):
            word = line.split(",")[2].split()[0]  # "100M"
            scale = {"k": 1e3, "M": 1e6, "G": 1e9}.get(word[-1], 1)
            return float(word.rstrip("kMG")) * scale
    return 0


def fmt_bytes(n):
    if n == "-" or n == "":
        return "-"
    n = int(n)
    if abs(n) >= MIB:
        return f"{n / MIB:.1f} MiB"
    return f"{n / 1024:.0f} KiB"


def main(tsv, machine_path):
    machine = machine_path
    rows = load(tsv)
    workloads = []
    for w, _ in rows:
        if w not in workloads:
            workloads.append(w)
    print("```")
    print(open(machine).read().rstrip())
    print("```\n")
    print("| workload | tool | wall s (median) | samples: range | CPU s (user+sys) | peak RSS MiB | stored on server (delta) | s3seal bytes_sent | throughput |")
    print("|---|---|---|---|---|---|---|---|---|")
    for w in workloads:
        for (rw, tool), r in rows.items():
            if rw != w:
                continue
            wall = float(r["wall_s"])
            cpu = float(r["user_s"]) + float(r["sys_s"])
            rss = r["max_rss_kib"] / 1024
            tp = ""
            if w in ("W1", "W1-restore") or w.startswith("W1-keepalive"):
                tp = f"{1024 / wall:.0f} MiB/s, {cpu:.1f} CPU s/GiB"
            elif w.startswith("WAN-large"):
                tp = f"{128 * 8 * 1.048576 / wall:.1f} Mbit/s"

            print(f"| {w} | {tool} | {wall:.2f} | {r['samples']} | {cpu:.2f} | {rss:.0f} | {fmt_bytes(r['stored_delta_bytes'])} | {fmt_bytes(r['s3seal_bytes_sent'])} | {tp} |")
    print()
    print("Ratios: the peer's median wall time divided by s3seal's (above 1: s3seal is faster).\n")
    print("| workload | " + " | ".join(t for t in ("aws", "rclone", "restic")) + " |")
    print("|---|---|---|---|")
    for w in workloads:
        mine = rows.get((w, "s3seal"))
        if not mine:
            continue
        cells = []
        for t in ("aws", "rclone", "restic"):
            peer = rows.get((w, t))
            cells.append(f"{float(peer['wall_s']) / float(mine['wall_s']):.2f}" if peer else "-")
        print(f"| {w} | " + " | ".join(cells) + " |")
    print()
    checks = []

    def wall(w, t):
        r = rows.get((w, t))
        return float(r["wall_s"]) if r else None

    def check(name, ok):
        checks.append(f"- {'PASS' if ok else 'FAIL'}: {name}")

    s = wall("W1", "s3seal")
    if s and wall("W1", "aws"):
        check(f"W1 throughput >= 0.9x aws s3 sync (is {wall('W1', 'aws') / s:.2f}x)", wall("W1", "aws") / s >= 0.9)
    for w in (w for w in workloads if w.startswith("W1-keepalive")):
        if wall(w, "s3seal") and wall(w, "aws"):
            ratio = wall(w, "aws") / wall(w, "s3seal")
            check(f"{w} throughput >= 0.9x aws s3 sync (is {ratio:.2f}x)", ratio >= 0.9)
    for t in ("rclone", "restic"):
        if s and wall("W1", t):
            check(f"W1 throughput >= 2x {t} (is {wall('W1', t) / s:.2f}x)", wall("W1", t) / s >= 2)
    s = wall("W2-initial", "s3seal")
    if s and wall("W2-initial", "rclone"):
        check(f"W2 initial <= 1/2 of rclone crypt's time (is {s / wall('W2-initial', 'rclone'):.2f})", s <= wall("W2-initial", "rclone") / 2)
    if s and wall("W2-initial", "aws"):
        check(f"W2 initial <= 1/5 of aws s3 sync's time (is {s / wall('W2-initial', 'aws'):.2f})", s <= wall("W2-initial", "aws") / 5)
    s = wall("W2-nochange", "s3seal")
    if s and wall("W2-nochange", "restic"):
        check(f"W2 no-change no slower than restic ({s:.2f} s vs {wall('W2-nochange', 'restic'):.2f} s)", s <= wall("W2-nochange", "restic"))
    big = [w for w in workloads if w.startswith("S") and w.endswith("-nochange")]
    if s and big:
        b = wall(big[0], "s3seal")
        check(f"{big[0]} <= 12x W2 no-change (is {b / s:.1f}x)", b <= 12 * s)
    r = rows.get(("W3-renamed", "s3seal"))
    if r:
        check(f"W3 rename: s3seal bytes_sent is {r['s3seal_bytes_sent']} (want 0)", r["s3seal_bytes_sent"] == "0")
    for w in ("W1-restore", "W2-restore"):
        s = wall(w, "s3seal")
        for t in ("rclone", "aws"):
            if s and wall(w, t):
                check(f"{w} faster than {t} ({s:.2f} s vs {wall(w, t):.2f} s)", s < wall(w, t))
    s = wall("WAN-small-initial", "s3seal")
    for t in ("aws", "rclone", "restic"):
        if s and wall("WAN-small-initial", t):
            check(f"WAN 2,000 small files, upload faster than {t} ({s:.2f} s vs {wall('WAN-small-initial', t):.2f} s)", s < wall("WAN-small-initial", t))
    s = wall("WAN-small-restore", "s3seal")
    if s and wall("WAN-small-restore", "aws"):
        check(f"WAN small restore no slower than aws ({s:.2f} s vs {wall('WAN-small-restore', 'aws'):.2f} s)", s <= wall("WAN-small-restore", "aws"))
    if s and wall("WAN-small-restore", "restic"):
        check(f"WAN small restore within 2x restic ({s:.2f} s vs {wall('WAN-small-restore', 'restic'):.2f} s)", s <= 2 * wall("WAN-small-restore", "restic"))
    link = rate_bits(machine) / 1e6
    for w in ("WAN-large-initial", "WAN-large-restore"):
        s = wall(w, "s3seal")
        if s and link:
            got = 128 * 8 * 1.048576 / s
            check(f"{w} at >= 90% of the {link:.0f} Mbit/s link (is {got:.1f} Mbit/s, {100 * got / link:.0f}%)", got >= 0.9 * link)
    big = sorted((w for w in workloads if w.startswith("S") and w.endswith("-nochange")), key=lambda w: int(w[1:].split("-")[0]))
    if len(big) >= 2:
        small, large = wall(big[0], "s3seal"), wall(big[-1], "s3seal")
        check(f"{big[-1]} within 10x {big[0]} (is {large / small:.1f}x)", large <= 10 * small)
        cpu = [float(rows[(w, "s3seal")]["user_s"]) + float(rows[(w, "s3seal")]["sys_s"]) for w in (big[0], big[-1])]
        lists = [wall(w.replace("-nochange", "-list"), "listloop") for w in (big[0], big[-1])]
        note = f"- note: s3seal's CPU time is {cpu[1] / cpu[0]:.1f}x"
        if all(lists):
            note += f"; the server's listing alone, bare SDK loop: {lists[0]:.2f} s and {lists[1]:.2f} s, {lists[1] / lists[0]:.1f}x"
        checks.append(note)
    worst = max((r["max_rss_kib"] for (w, t), r in rows.items() if t == "s3seal"), default=0)
    check(f"s3seal peak RSS <= 200 MiB in every workload (max {worst / 1024:.0f} MiB)", worst <= 200 * 1024)
    print("\n".join(checks))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
