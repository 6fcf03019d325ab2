"""Trains the demo's fraud model: a scikit-learn RandomForest on generated transactions.

The same generator (in SQL) fills the DuckDB table, so predictions are meaningful. Writes the
pickled model to the path given as the first argument.
"""
import pickle
import sys
import time

import numpy as np
from sklearn.ensemble import RandomForestClassifier


def features(n, seed):
    rng = np.random.default_rng(seed)
    amount = rng.gamma(2.0, 60.0, n)
    hour = rng.integers(0, 24, n).astype(np.float64)
    distance = rng.exponential(20.0, n)
    age = rng.integers(18, 90, n).astype(np.float64)
    return np.column_stack([amount, hour, distance, age])


def label(x):
    amount, hour, distance, age = x.T
    score = 0.012 * amount + 0.04 * distance + 1.5 * ((hour < 6) | (hour > 22)) - 0.01 * age
    return (score > 3.2).astype(np.int32)


def main():
    out = sys.argv[1]
    x = features(60000, 7)
    y = label(x)
    start = time.perf_counter()
    model = RandomForestClassifier(n_estimators=50, max_depth=8, random_state=0, n_jobs=1).fit(x, y)
    test = features(20000, 8)
    accuracy = (model.predict(test) == label(test)).mean()
    with open(out, "wb") as f:
        pickle.dump(model, f)
    print(f"trained RandomForest(50 trees, depth 8) on 60,000 rows in {time.perf_counter() - start:.1f} s; "
          f"test accuracy {accuracy:.3f}; fraud rate {y.mean():.3f}")


if __name__ == "__main__":
    main()
