"""Sampling and loading helpers shared by the dataset generators."""
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
