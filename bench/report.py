"""results.md (a table of each system's time and its ratio to imlane, plus the targets) and results.png
(grouped bars, log scale, one group per query) from the records of bench/run.py."""
import math

SYSTEMS = ["imlane", "imlane-holistic", "imlane-noop", "duckdb-inproc", "duckdb-inproc-holistic",
           "duckdb-python-arrow", "duckdb-python-native", "spark-pandas-udf", "ray-data", "postgres-plpython",
           "postgres-imlane", "imlane-ray", "limit"]
# Run only when named in --systems: it starts a local two-node Ray cluster (bench/ray_cluster.py).
OPT_IN = ("imlane-ray",)
# Peers with a batch-size sweep: their record's times are at the default size; "extra" holds the best
# size's ("best_median_s", "best_batch"), shown as a column of its own and used for their targets.
SWEPT = ("spark-pandas-udf", "ray-data")
# imlane this many times faster (geometric mean over the queries); swept peers at their best size.
TARGETS = {"duckdb-inproc": 1.5, "duckdb-inproc-holistic": 5.0, "duckdb-python-arrow": 3.0,
           "spark-pandas-udf": 3.0, "ray-data": 3.0, "postgres-plpython": 100.0}
LIMIT_SLACK = 1.25  # imlane within 1.25x of the parallel limit, or of no-op + parallel limit


def _by_key(records):
    return {(r["query"], r["system"]): r for r in records}


def best_of(rec):
    """A swept peer's record at its best batch size (None when it has no sweep)."""
    extra = (rec or {}).get("extra") or {}
    if rec is None or rec["status"] != "ok" or extra.get("best_median_s") is None:
        return None
    return dict(rec, median_s=float(extra["best_median_s"]), mean_batch_rows=extra.get("best_batch"))


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


def geomean_ratio(records, system, queries, best=False, base="imlane"):
    """Geometric mean of system/imlane over the queries where both have a time (timeouts count at the
    limit, so the mean is then a lower bound); best: a swept peer at its best batch size.
    Returns (mean, n, lower_bound)."""
    by = _by_key(records)
    logs, lower = [], False
    for q in queries:
        a, b = by.get((q, system)), by.get((q, base))
        if best:
            a = best_of(a) or a
        if not a or not b or b["status"] != "ok" or a["status"] not in ("ok", "timeout"):
            continue
        lower |= a["status"] == "timeout"
        logs.append(math.log(a["median_s"] / b["median_s"]))
    if not logs:
        return None, 0, False
    return math.exp(sum(logs) / len(logs)), len(logs), lower


def limits(by, q, cores):
    """(parallel limit, achievable limit) of query q in seconds, or None where not measured: limit /
    cores, and no-op + limit / cores (the engine's own work with a no-op UDF plus the model's share)."""
    lim, noop = by.get((q, "limit")), by.get((q, "imlane-noop"))
    if not lim or lim["status"] != "ok":
        return None, None
    par = lim["median_s"] / cores
    ach = noop["median_s"] + par if noop and noop["status"] == "ok" else None
    return par, ach


def markdown(records, meta, query_defs):
    by = _by_key(records)
    queries = list(dict.fromkeys(r["query"] for r in records))
    systems = [s for s in SYSTEMS if any(r["system"] == s for r in records)]
    cores = meta.get("cores") or 1
    lines = [f"Scale {meta['scale']:g}, seed {meta['seed']}, median of {meta['repeat']} timed runs after a warm-up "
             f"(a run over a tenth of the {meta['time_limit_s']:g} s limit is not repeated), {cores} cores, "
             f"commit {meta['commit']}.", "",
             f"`{meta['command']}`", ""]
    columns = []
    for s in systems:
        columns.append((s, False))
        if s in SWEPT and any(best_of(by.get((q, s))) for q in queries):
            columns.append((s, True))
    header = (["query", "UDF rows", "imlane batch (mean rows)"]
              + [f"{s} (best batch)" if best else s for s, best in columns]
              + ["limit / cores", "no-op + limit / cores"])
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for q in queries:
        base = by.get((q, "imlane"))
        row = [q, str((base or {}).get("rows_udf") or "-"),
               f"{base['mean_batch_rows']:.0f}" if base and base.get("mean_batch_rows") else "-"]
        for s, best in columns:
            rec = by.get((q, s))
            if best:
                rec = best_of(rec)
            text = _time_text(rec)
            if best and rec is not None:
                text += f" at {rec['mean_batch_rows']}"
            if s != "imlane" and rec is not None:
                text += f" ({_ratio_text(rec, base)})"
            row.append(text)
        ok = base is not None and base["status"] == "ok"
        for lim in limits(by, q, cores):
            row.append(f"{lim:.3f} s (imlane {base['median_s'] / lim:.2f}x)" if lim and ok else "-")
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append("Ratios are the system's median time over imlane's: above 1x imlane is faster; for the "
                 "limits, imlane's time over the limit (1x: at the limit). `limit` is the single-core physical "
                 "limit; `no-op + limit / cores` adds the query's engine work measured with a no-op UDF "
                 "(imlane-noop), the achievable limit where the engine's work cannot overlap the model's.")
    lines.append("")
    lines.append("| target | measured | met |")
    lines.append("|---|---|---|")
    for s, target in TARGETS.items():
        if s not in systems:
            continue
        best = s in SWEPT
        mean, n, lower = geomean_ratio(records, s, queries, best=best)
        what = f"imlane >= {target:g}x faster than {s}{' at its best batch size' if best else ''}"
        if mean is None:
            lines.append(f"| {what} (geomean) | - | - |")
            continue
        met = "yes" if mean >= target else ("at least" if lower else "no")
        lines.append(f"| {what} (geomean of {n}) | {'>= ' if lower else ''}{mean:.2f}x | {met} |")
    if "postgres-imlane" in systems and "postgres-plpython" in systems:
        # The PostgreSQL extension against PL/Python in the same server: 30x over Q1-Q5 and Q7.
        pg_queries = [q for q in queries if q in ("Q1", "Q2", "Q3", "Q4", "Q5", "Q7")]
        mean, n, lower = geomean_ratio(records, "postgres-plpython", pg_queries, base="postgres-imlane")
        what = "postgres-imlane >= 30x faster than postgres-plpython (Q1-Q5, Q7)"
        if mean is None:
            lines.append(f"| {what} (geomean) | - | - |")
        else:
            met = "yes" if mean >= 30 else ("at least" if lower else "no")
            lines.append(f"| {what} (geomean of {n}) | {'>= ' if lower else ''}{mean:.2f}x | {met} |")
    for q in queries:
        base = by.get((q, "imlane"))
        par, ach = limits(by, q, cores)
        if not base or base["status"] != "ok" or par is None:
            continue
        r = base["median_s"] / par
        if r <= LIMIT_SLACK or ach is None:
            lines.append(f"| {q}: imlane within {LIMIT_SLACK}x of limit / cores | {r:.2f}x | "
                         f"{'yes' if r <= LIMIT_SLACK else 'no'} |")
        else:
            ra = base["median_s"] / ach
            lines.append(f"| {q}: imlane within {LIMIT_SLACK}x of limit / cores, else of no-op + limit / cores | "
                         f"{r:.2f}x; {ra:.2f}x | {'yes (no-op + limit)' if ra <= LIMIT_SLACK else 'no'} |")
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
