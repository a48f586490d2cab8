"""Writes docs/performance-growth.md (table, per-member figures) and the PNG plot from the JSON
lines ops/bench/growth.sh collected, one per size. Needs matplotlib (growth.sh installs it into
a private virtualenv).

    python growth_plot.py RESULTS.jsonl OUT.md OUT.png
"""
import datetime
import json
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

rows = [json.loads(line) for line in open(sys.argv[1])]
md, png = sys.argv[2], sys.argv[3]
with open(md, "w") as f:
    f.write("# Growth: 10 000 to 1 000 000 members\n\n")
    f.write(f"Made by `ops/bench/growth.sh` on {datetime.date.today()} (release build, "
            f"{subprocess.getoutput('nproc')} cores, the load generator on the same machine). "
            "First search: from `serve` starting until a search finds the last member, worst of the starts. "
            "Change: CPU of one lock, password change or activation applied to the view in place "
            "(`piratenldap-bench changes`, 200 changes). Plot: `performance-growth.png`.\n\n")
    f.write("| members | member import | first search | RSS | search ops/s (8 conns) | change p50 | change p99 "
            "| whole build (in-process) |\n")
    f.write("|---|---|---|---|---|---|---|---|\n")
    for r in rows:
        f.write(f"| {r['members']} | {r['import_s']:.2f} s | {r['first_search_s']:.2f} s | {r['rss_mib']} MiB | "
                f"{r['search_ops']:.0f} | {r['change_p50_ms']} ms | {r['change_p99_ms']} ms | {r['build_s']:.2f} s |\n")
    f.write("\nPer member (flat is the goal):\n\n| members | import µs | first search µs | RSS KiB |\n|---|---|---|---|\n")
    for r in rows:
        n = r["members"]
        f.write(f"| {n} | {r['import_s'] * 1e6 / n:.1f} | {r['first_search_s'] * 1e6 / n:.1f} | "
                f"{r['rss_mib'] * 1024 / n:.2f} |\n")

fig, axes = plt.subplots(2, 3, figsize=(13, 7))
n = [r["members"] for r in rows]
for ax, key, title in zip(
        axes.flat,
        ["import_s", "first_search_s", "rss_mib", "search_ops", "change_p99_ms", "build_s"],
        ["member import (s)", "first search after start (s)", "RSS (MiB)", "search ops/s, 8 connections",
         "one change, p99 CPU (ms)", "whole view build (s)"]):
    ax.plot(n, [r[key] for r in rows], marker="o")
    ax.set_xscale("log")
    if key == "search_ops":
        ax.set_ylim(bottom=0)  # a rate: from zero, not zoomed into the differences
    else:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel("members")
    ax.grid(True, which="both", alpha=0.3)
fig.suptitle("piratenldap: growth from 10 000 to 1 000 000 members")
fig.tight_layout()
fig.savefig(png, dpi=90)
print(f"wrote {md} and {png}", file=sys.stderr)
