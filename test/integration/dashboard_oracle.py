"""Independent recomputation of the dashboard's figures from the raw rows of a DuckDB benchmarks file.

Reads every row with Python's duckdb (SELECT *, no aggregation in SQL) and computes each figure in plain
Python and numpy (least squares with numpy.polyfit, busy time as a union of intervals), so a mistake in
the dashboard's SQL or in the page's combining shows up as a mismatch.

usage: dashboard_oracle.py FILE PRICES_JSON RUNS_JSON   (RUNS_JSON: a list of run-id lists, [] = every run)
prints: {"<runs joined by ,>": figures, ...}
"""
import json
import sys
from datetime import datetime

import duckdb
import numpy as np

EPOCH = datetime(1970, 1, 1)
# stage -> (instance, gpu, num_gpus, load, compute(total for quantify), write, wait, attempts, memory, started, worker, queue)
STAGES = {
    "convert": ("preprocessing_instance_type", "preprocessing_gpu_type", "preprocessing_num_gpus", "preprocessing_input_load_time_s",
                "preprocessing_time_s", "preprocessing_output_write_time_s", "conversion_queue_wait_s", "conversion_attempts",
                "preprocessing_peak_memory_gb", "conversion_started_at", None, "cpu"),
    "predict": ("prediction_instance_type", "prediction_gpu_type", "prediction_num_gpus", "prediction_input_load_time_s", "prediction_time_s",
                "prediction_output_write_time_s", "prediction_queue_wait_s", "prediction_attempts", "prediction_peak_memory_gb",
                "prediction_started_at", "prediction_worker", "gpu"),
    "postprocess": ("postprocessing_instance_type", "postprocessing_gpu_type", "postprocessing_num_gpus", "postprocessing_input_load_time_s",
                    "postprocessing_time_s", "postprocessing_output_write_time_s", "postprocessing_queue_wait_s", "postprocessing_attempts",
                    "postprocessing_peak_memory_gb", "postprocessing_started_at", "cpu_worker", "cpu"),
    "quantify": (None, None, None, "quantification_input_load_time_s", "quantification_time_s", "quantification_output_write_time_s",
                 "quantification_queue_wait_s", "quantification_attempts", None, "quantification_started_at", "cpu_worker", "cpu"),
    "record": (None, None, None, None, None, "record_time_s", None, None, None, "record_started_at", None, "cpu"),
}
PRESENT = {"convert": "preprocessing_time_s", "predict": "prediction_time_s", "postprocess": "postprocessing_time_s",
           "quantify": "quantification_time_s", "record": "record_time_s"}


def ms(dt):
    return None if dt is None else (dt - EPOCH).total_seconds() * 1000


def v(x):
    return 0.0 if x is None else float(x)


def stage_of(row, stage):
    """The stage as ran for one row, or None."""
    if row[PRESENT[stage]] is None:
        return None
    inst, gpu, ngpu, load, comp, write, wait, att, mem, started, worker, queue = STAGES[stage]
    machine = row[inst] if inst else (row["postprocessing_instance_type"] or row["preprocessing_instance_type"])
    l, w = v(row[load]) if load else 0.0, v(row[write]) if write else 0.0
    c = v(row[comp]) if comp else 0.0
    if stage == "quantify":
        c = c - l - w  # quantification_time_s is the whole stage
    fit_y = v(row["record_time_s"]) if stage == "record" else c
    return {
        "stage": stage, "queue": queue, "machine": machine or "(unknown)", "gpu": (row[gpu] if gpu else None) or "(none)",
        "num_gpus": (row[ngpu] if ngpu else 0) or 0, "load": l, "compute": c, "write": w, "seconds": l + c + w, "fit_y": fit_y,
        "wait": row[wait] if wait else None, "attempts": row[att] if att else None, "mem": row[mem] if mem else None,
        "started": ms(row[started]), "worker": row[worker] if worker else None,
        "mpx": None if row["pixels"] is None else row["pixels"] / 1e6,
    }


def fit(xs, ys):
    if len(set(xs)) < 2:
        return None
    slope, intercept = np.polyfit(np.array(xs, float), np.array(ys, float), 1)
    r = np.corrcoef(xs, ys)[0, 1] if len(set(ys)) > 1 else None
    return {"n": len(xs), "slope": float(slope), "intercept": float(intercept), "r2": None if r is None else float(r * r)}


def union_seconds(intervals):
    total, end, islands = 0.0, None, 0
    for s, e in sorted(intervals):
        if end is None or s > end:
            islands += 1
            total += e - s
            end = e
        elif e > end:
            total += e - end
            end = e
    return total / 1000, islands


def combo(machine, gpu):
    return machine if gpu == "(none)" else f"{machine} · {gpu}"


def figures(rows, prices):
    price = lambda m: prices.get(m)
    out = {}
    done = [r for r in rows if r["success"]]
    walls = {}
    for r in rows:
        firsts = [s["started"] - 1000 * v(s["wait"]) for s in (stage_of(r, st) for st in STAGES) if s and s["started"] is not None]
        first = firsts[0]  # stages are in pipeline order: the first that ran was queued first
        a, b = walls.get(r["run_id"], (first, ms(r["benchmark_datetime_utc"])))
        walls[r["run_id"]] = (min(a, first), max(b, ms(r["benchmark_datetime_utc"])))
    wall = sum((b - a) / 1000 for a, b in walls.values())
    all_stages = [s for r in rows for s in (stage_of(r, st) for st in STAGES) if s]
    cost = sum(s["seconds"] * price(s["machine"]) / 3600 for s in all_stages if price(s["machine"]) is not None)
    unpriced = sum(s["seconds"] for s in all_stages if price(s["machine"]) is None)
    cells = sum(r["cells"] or 0 for r in done)
    mpx = sum((r["pixels"] or 0) for r in done) / 1e6
    ratio = lambda a, b: a / b if b > 0 else None
    out["summary"] = {
        "done": len(done), "failed": len(rows) - len(done), "cells": cells, "mpx": mpx, "wall": wall,
        "cpu-hours": sum(s["seconds"] for s in all_stages if not s["num_gpus"]) / 3600,
        "gpu-hours": sum(s["seconds"] * s["num_gpus"] for s in all_stages if s["num_gpus"]) / 3600,
        "cost": cost, "mpx-per-s": ratio(mpx, wall), "cells-per-s": ratio(cells, wall),
        "cost-per-image": ratio(cost, len(done)), "cost-per-gpx": ratio(cost, mpx / 1000), "cost-per-1k-cells": ratio(cost, cells / 1000),
    }
    out["unpriced_s"] = unpriced
    stats = {}
    fits = {"time": [], "memory": []}
    for st in STAGES:
        ss = [s for s in all_stages if s["stage"] == st]
        if not ss:
            continue
        waits = [s["wait"] for s in ss if s["wait"] is not None]
        atts = [s["attempts"] for s in ss if s["attempts"] is not None]
        mems = [s["mem"] for s in ss if s["mem"] is not None]
        stats[st] = {
            "images": len(ss), "mean": sum(s["seconds"] for s in ss) / len(ss),
            "wait_mean": sum(waits) / len(waits) if waits else None, "wait_max": max(waits) if waits else None,
            "attempts": sum(atts), "retries": sum(atts) - len(atts), "retried": sum(1 for a in atts if a > 1), "mem_max": max(mems) if mems else None,
        }
        for c in sorted({combo(s["machine"], s["gpu"]) for s in ss}):
            cs = [s for s in ss if combo(s["machine"], s["gpu"]) == c and s["mpx"] is not None]
            f = fit([s["mpx"] for s in cs], [s["fit_y"] for s in cs])
            if f:
                fits["time"].append({"stage": st, "combo": c, **f})
            cm = [s for s in cs if s["mem"] is not None]
            f = fit([s["mpx"] for s in cm], [s["mem"] for s in cm])
            if f:
                fits["memory"].append({"stage": st, "combo": c, **f})
    out["stages"] = stats
    out["fits"] = fits
    for q in ("cpu", "gpu"):
        waits = [s["wait"] for s in all_stages if s["queue"] == q and s["wait"] is not None]
        out.setdefault("queues", {})[q] = {"mean": sum(waits) / len(waits) if waits else None, "max": max(waits) if waits else None}
    busy = []
    for (run, worker) in sorted({(r["run_id"], s["worker"]) for r in rows for s in [stage_of(r, "predict")] if s and s["started"] is not None}):
        iv = [(s["started"], s["started"] + 1000 * s["seconds"]) for r in rows if r["run_id"] == run
              for s in [stage_of(r, "predict")] if s and s["worker"] == worker and s["started"] is not None]
        b, islands = union_seconds(iv)
        w = (walls[run][1] - walls[run][0]) / 1000
        busy.append({"run": run, "worker": worker, "busy": b, "wall": w, "fraction": b / w, "islands": islands})
    out["busy"] = busy
    out["busy_fraction"] = sum(b["busy"] for b in busy) / sum(b["wall"] for b in busy) if busy else None
    groups = {}
    for r in rows:
        if not r["success"]:
            k = (r["failed_stage"] or "(unknown)", r["error_type"] or "(unknown)")
            groups[k] = groups.get(k, 0) + 1
    out["failure_groups"] = sorted([{"stage": k[0], "error_type": k[1], "n": n} for k, n in groups.items()], key=lambda g: (-g["n"], g["stage"], g["error_type"]))
    # What the charts draw (every image is within the page's caps here).
    out["marks"] = {
        "stack": sum(1 for s in all_stages for p in ("load", "compute", "write") if s[p] > 0),
        "time_dots": {st: sum(1 for s in all_stages if s["stage"] == st and s["mpx"] is not None) for st in stats},
        "memory_dots": {st: sum(1 for s in all_stages if s["stage"] == st and s["mpx"] is not None and s["mem"] is not None) for st in stats},
        "time_lines": {st: sum(1 for f in fits["time"] if f["stage"] == st) for st in stats},
        "timeline": {run: sum(1 + (1 if v(s["wait"]) > 0 else 0) for r in rows if r["run_id"] == run for st in STAGES
                          for s in [stage_of(r, st)] if s and s["started"] is not None) for run in walls},
        "lanes": {run: sum(b["islands"] for b in busy if b["run"] == run) for run in walls},
    }
    return out


def main():
    path, prices, selections = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
    con = duckdb.connect(path, read_only=True)
    cur = con.execute("SELECT * FROM benchmarks")
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, t)) for t in cur.fetchall()]
    con.close()
    result = {}
    for sel in selections:
        chosen = [r for r in rows if not sel or r["run_id"] in sel]
        result[",".join(sel)] = figures(chosen, prices)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
