"""Sampling and loading helpers shared by the dataset generators."""
import os

import numpy as np


def zipf(rng, n_values, s, size):
    """`size` draws from 0..n_values-1 with P(k) proportional to 1 / (k + 1)^s."""
    p = 1.0 / np.arange(1, n_values + 1) ** s
    return rng.choice(n_values, size=size, p=p / p.sum())


def pick(rng, values, probs, size):
    """`size` draws from `values` with the (normalised) probabilities `probs`."""
    probs = np.asarray(probs, dtype=float)
    return np.asarray(values)[rng.choice(len(values), size=size, p=probs / probs.sum())]


def read_csv_sql(path, cols):
    """DuckDB read_csv of a generated CSV (header row) with explicit column types {name: type}."""
    spec = ", ".join(f"'{c}': '{t}'" for c, t in cols.items())
    path = path.replace("'", "''")
    return f"read_csv('{path}', header=true, delim=',', quote='\"', escape='\"', columns={{{spec}}})"


MODEL_SETS = ("original", "debian")


def model_out(model_dir, q, models="original"):
    """The artifact directory of query q ("q1") for a model set (bench/README.md, --models): the
    original models under <model_dir>/<q>, the Debian-only variants under <model_dir>/debian/<q>,
    which is where bench/udfs/debian/<q>_*.py look. Created if missing."""
    if models not in MODEL_SETS:
        raise ValueError(f"unknown model set {models!r}; choose from {MODEL_SETS}")
    out = os.path.join(model_dir, q) if models == "original" else os.path.join(model_dir, "debian", q)
    os.makedirs(out, exist_ok=True)
    return out
