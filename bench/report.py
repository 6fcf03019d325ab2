"""results.md (a table of each system's time and its ratio to imlane, plus the targets) and results.png
(grouped bars, log scale, one group per query) from the records of bench/run.py."""
import math

SYSTEMS = ["imlane", "imlane-holistic", "duckdb-inproc", "duckdb-inproc-holistic", "duckdb-python-arrow",
           "duckdb-python-native", "spark-pandas-udf", "ray-data", "postgres-plpython", "limit"]
# Targets of the benchmark issue: imlane this many times faster (geometric mean over the queries).
TARGETS = {"duckdb-inproc": 1.5, "duckdb-inproc-holistic": 5.0, "postgres-plpython": 100.0}
LIMIT_SLACK = 1.1  # imlane within 1.1x of the single-core limit on model-bound queries


def _by_key(records):
    return {(r["query"], r["system"]): r for r in records}


def _ratio_text(rec, base):
    """rec's time over imlane's; a timeout is a lower bound."""
    if rec is None or base is None or base["status"] != "ok":
        return "-"
    if rec["status"] == "timeout":
        return f"> {rec['median_s'] / base['median_s']:.0f}x"
    if rec["status"] != "ok":
        return rec["status"]
    return f"{rec['median_s'] / base['median_s']:.2f}x"


def _time_text(rec):
    if rec is None:
        return "-"
    if rec["status"] == "timeout":
        return f"> {rec['median_s']:.0f} s (timeout)"
    if rec["status"] != "ok":
        return rec["status"]
    return f"{rec['median_s']:.3f} s"


def geomean_ratio(records, system, queries):
    """Geometric mean of system/imlane over the queries where both have a time (timeouts count at the
    limit, so the mean is then a lower bound). Returns (mean, n, lower_bound)."""
    by = _by_key(records)
    logs, lower = [], False
    for q in queries:
        a, b = by.get((q, system)), by.get((q, "imlane"))
        if not a or not b or b["status"] != "ok" or a["status"] not in ("ok", "timeout"):
            continue
        lower |= a["status"] == "timeout"
        logs.append(math.log(a["median_s"] / b["median_s"]))
    if not logs:
        return None, 0, False
    return math.exp(sum(logs) / len(logs)), len(logs), lower


def markdown(records, meta, query_defs):
    by = _by_key(records)
    queries = list(dict.fromkeys(r["query"] for r in records))
    systems = [s for s in SYSTEMS if any(r["system"] == s for r in records)]
    cores = meta.get("cores") or 1
    lines = [f"Scale {meta['scale']:g}, seed {meta['seed']}, median of {meta['repeat']} timed runs after a warm-up "
             f"(a run over a tenth of the {meta['time_limit_s']:g} s limit is not repeated), {cores} cores, "
             f"commit {meta['commit']}.", "",
             f"`{meta['command']}`", ""]
    header = ["query", "UDF rows", "imlane batch (mean rows)"] + systems + ["limit / cores"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for q in queries:
        base = by.get((q, "imlane"))
        row = [q, str((base or {}).get("rows_udf") or "-"),
               f"{base['mean_batch_rows']:.0f}" if base and base.get("mean_batch_rows") else "-"]
        for s in systems:
            rec = by.get((q, s))
            text = _time_text(rec)
            if s != "imlane" and rec is not None:
                text += f" ({_ratio_text(rec, base)})"
            row.append(text)
        lim = by.get((q, "limit"))
        if lim and lim["status"] == "ok" and base and base["status"] == "ok":
            par = lim["median_s"] / cores
            row.append(f"{par:.3f} s (imlane {base['median_s'] / par:.2f}x)")
        else:
            row.append("-")
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append("Ratios are the system's median time over imlane's: above 1x imlane is faster. For `limit` it "
                 "is the single-core physical limit over imlane (below 1x: imlane slower than the limit).")
    lines.append("")
    lines.append("| target | measured | met |")
    lines.append("|---|---|---|")
    for s, target in TARGETS.items():
        if s not in systems:
            continue
        mean, n, lower = geomean_ratio(records, s, queries)
        if mean is None:
            lines.append(f"| imlane >= {target:g}x faster than {s} (geomean) | - | - |")
            continue
        met = "yes" if mean >= target else ("at least" if lower else "no")
        lines.append(f"| imlane >= {target:g}x faster than {s} (geomean of {n}) | "
                     f"{'>= ' if lower else ''}{mean:.2f}x | {met} |")
    model_bound = {d.name for d in query_defs if d.model_bound}
    for q in queries:
        base, lim = by.get((q, "imlane")), by.get((q, "limit"))
        if q not in model_bound or not base or not lim or base["status"] != "ok" or lim["status"] != "ok":
            continue
        r = base["median_s"] / lim["median_s"]
        lines.append(f"| {q}: imlane within {LIMIT_SLACK}x of the single-core limit | {r:.2f}x of the limit | "
                     f"{'yes' if r <= LIMIT_SLACK else 'no'} |")
    bad = [r for r in records if r["status"] not in ("ok", "timeout")]
    if bad:
        lines.append("")
        lines.append("Failures:")
        for r in bad:
            lines.append(f"- {r['query']} {r['system']}: {r['status']}: {r.get('error', '')[:300]}")
    return "\n".join(lines) + "\n"


def chart(records, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by = _by_key(records)
    queries = list(dict.fromkeys(r["query"] for r in records))
    systems = [s for s in SYSTEMS if any(r["system"] == s for r in records)]
    width = 0.8 / max(1, len(systems))
    fig, ax = plt.subplots(figsize=(max(8, 1.4 * len(queries)), 4.8))
    for i, s in enumerate(systems):
        xs, ys, hatch_xs, hatch_ys = [], [], [], []
        for j, q in enumerate(queries):
            rec = by.get((q, s))
            if rec is None or rec["status"] not in ("ok", "timeout"):
                continue
            (hatch_xs if rec["status"] == "timeout" else xs).append(j + (i - (len(systems) - 1) / 2) * width)
            (hatch_ys if rec["status"] == "timeout" else ys).append(rec["median_s"])
        bars = ax.bar(xs, ys, width, label=s)
        if hatch_xs:
            ax.bar(hatch_xs, hatch_ys, width, color=bars.patches[0].get_facecolor() if bars.patches else None,
                   hatch="//", edgecolor="black", label=f"{s} (timeout)")
    ax.set_yscale("log")
    ax.set_xticks(range(len(queries)))
    ax.set_xticklabels(queries)
    ax.set_ylabel("query time, s (log scale)")
    ax.set_title("Prediction queries Q1-Q8: IMLane vs alternatives (lower is better)")
    ax.legend(fontsize=8, ncol=2)
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
