"""The measured inputs of the scale-out cost model (docs/scale-out.md), on a local two-node Ray cluster.

    .venv/bin/python bench/ray_cost.py --inputs bench/out/ray-scale-1/inputs [--queries Q2,Q3]

Prints one JSON object:
- `round_trip_ms`: one small batch from the driver (the Ray bridge's role, on the head node) to an
  actor on the second node and its result back: `ray.put`, an actor call, `ray.get` (median of 300);
- `submit_ms`: the driver's own time per batch (`ray.put` plus the call's submission), in a burst of
  300: what pipelining cannot hide; `pipelined_batch_ms`: the burst's whole time per batch (one actor);
- `transfer_mb_s`: a 64 MiB column put on the head node and read by an actor on the second node
  (the object store's node-to-node copy; here over loopback);
- `bytes_per_row` per query: the batch as the bridge ships it (the numpy columns an executor would
  pass, VARCHAR as object arrays), pickled with protocol 5 like Ray's serializer, over its rows.
"""
import argparse
import csv
import json
import os
import pickle
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ray_cluster  # noqa: E402


def bytes_per_row(path, limit=50000):
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [r for _, r in zip(range(limit), reader)]
    cols = []
    for c in range(len(header)):
        values = [r[c] for r in rows]
        try:
            cols.append(np.array([float(v) if v != "" else np.nan for v in values]))
        except ValueError:
            cols.append(np.array(values, dtype=object))
    return len(pickle.dumps((cols, len(rows), None), protocol=5)) / max(1, len(rows))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--inputs", required=True, help="bench/run.py's inputs directory (DIR/inputs)")
    ap.add_argument("--queries", default="Q2,Q3")
    a = ap.parse_args()
    cluster = ray_cluster.LocalCluster(nodes=2, cpus_per_node=1)
    try:
        import ray
        ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
        head = ray.get_runtime_context().get_node_id()
        other = next(n["NodeID"] for n in ray.nodes() if n["Alive"] and n["NodeID"] != head)
        strategy = ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(other, soft=False)

        @ray.remote(num_cpus=1)
        class Sink:
            def call(self, packed):
                columns, n, _ = packed
                return [(c * 0 if c.dtype != object else c, None) for c in columns]

            def read(self, arr):
                return float(arr[::4096].sum())

        sink = Sink.options(scheduling_strategy=strategy).remote()
        small = ([np.arange(64, dtype=np.float64)], 64, None)
        ray.get(sink.call.remote(ray.put(small)))
        trips = []
        for _ in range(300):
            t = time.perf_counter()
            ray.get(sink.call.remote(ray.put(small)))
            trips.append(time.perf_counter() - t)
        # The bridge's own cost per batch, the part that pipelining cannot hide: put + submit, in a burst.
        t = time.perf_counter()
        refs = [sink.call.remote(ray.put(small)) for _ in range(300)]
        submit_s = (time.perf_counter() - t) / 300
        ray.get(refs)
        burst_s = (time.perf_counter() - t) / 300
        big = np.ones(64 << 17, dtype=np.float64)  # 64 MiB
        rates = []
        for _ in range(5):
            t = time.perf_counter()
            ref = ray.put(big)
            ray.get(sink.read.remote(ref))
            rates.append(big.nbytes / (time.perf_counter() - t) / 1e6)
            del ref
        out = {"round_trip_ms": round(statistics.median(trips) * 1000, 3),
               "submit_ms": round(submit_s * 1000, 3), "pipelined_batch_ms": round(burst_s * 1000, 3),
               "transfer_mb_s": round(statistics.median(rates), 1),
               "bytes_per_row": {q: round(bytes_per_row(os.path.join(a.inputs, f"{q}.csv")), 1)
                                 for q in a.queries.split(",")}}
        print(json.dumps(out))
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
