"""IMLane from a pandas workflow: train a model here, register it from Python, query a DataFrame.

    .venv/bin/python demo/python/fraud_dataframe.py [--rows N]

The model is an object of this session: imlane.create_function ships the closure to IMLane's
executors (cloudpickle), which load it once and run every batch; DuckDB reads the DataFrame.
"""
import argparse
import os
import sys
import time

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "duckdb"))
from train_model import features, label  # noqa: E402  the generator the SQL demo uses

import imlane  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--batch-size", type=int, default=0, help="imlane_batch_size (0 = adaptive)")
    a = p.parse_args()

    x = features(60000, 7)
    model = RandomForestClassifier(n_estimators=50, max_depth=8, random_state=0, n_jobs=1).fit(x, label(x))
    data = features(a.rows, 11)
    df = pd.DataFrame(data, columns=["amount", "hour", "distance", "age"])
    df.insert(0, "id", np.arange(a.rows))

    con = imlane.connect(batch_size=a.batch_size)
    imlane.create_function(con, "fraud", lambda *cols: model.predict(np.column_stack(cols)),
                           args=["DOUBLE"] * 4, returns="INTEGER")
    con.register("transactions", df)

    start = time.perf_counter()
    flagged = con.sql("SELECT count(*) AS flagged, round(avg(amount), 2) AS avg_amount FROM transactions "
                      "WHERE hour < 23 AND fraud(amount, hour, distance, age) = 1").df()
    t1 = time.perf_counter() - start
    start = time.perf_counter()
    scored = con.sql("SELECT *, fraud(amount, hour, distance, age) AS predicted FROM transactions").df()
    t2 = time.perf_counter() - start

    # A prediction query does not keep the input's order (add ORDER BY for that): compare by id.
    scored = scored.sort_values("id")
    expected = model.predict(data)
    assert (scored["predicted"].to_numpy() == expected).all(), "IMLane's predictions differ from model.predict"
    print(flagged.to_string(index=False))
    print(scored.groupby("predicted").agg(transactions=("amount", "size"), avg_amount=("amount", "mean")).round(2))
    print(imlane.functions(con)[["name", "batches", "rows", "mean_batch_rows", "executors"]].to_string(index=False))
    print(f"\nWHERE query over {a.rows:,} rows: {t1:.2f} s; scoring every row into a DataFrame: {t2:.2f} s "
          f"({a.rows / t2:,.0f} rows/s); predictions equal model.predict on all rows")


if __name__ == "__main__":
    main()
