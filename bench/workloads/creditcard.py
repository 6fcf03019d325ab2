"""Q3: Kaggle credit-card fraud, XGBoost (WORKLOADS.md §3 Q3, §6.3).

Base set: transactions with the Kaggle columns (Time, V1..V28, Amount, Class). The serving table is
the base replicated `copies` times with Time shifted by copy x base length (as the expand script did).
"""
import os

import numpy as np

from . import Query

TABLES = ["credit_card"]

# Scale 1: a base of the original's 284,807 rows replicated 24x (6.84 M rows, ~675 k UDF rows; the
# original had 16x = 4.56 M), so that one staged pyfun call over all UDF rows takes ~1 s on one core.
BASE_ROWS = 284_807
SERVING_ROWS = 24 * 284_807
MIN_BASE_ROWS = 20_000  # enough frauds that the smoke-test result holds some 1s
FRAUD_RATE = 0.0017
FRAUD_IN_A = 0.2  # share of frauds in mixture component A (V1 > 1), so that the filter keeps some

V_COLS = [f"v{i}" for i in range(1, 29)]
FEATURES = V_COLS + ["amount"]
V_SD = [1.959, 1.651, 1.516, 1.416, 1.380, 1.332, 1.237, 1.194, 1.099, 1.089, 1.021, 0.999, 0.995,
        0.959, 0.915, 0.876, 0.849, 0.838, 0.814, 0.771, 0.735, 0.726, 0.624, 0.606, 0.521, 0.482,
        0.404, 0.330]
COLS = {"time": "INTEGER", **{c: "DOUBLE" for c in FEATURES}, "class": "BOOLEAN"}


def _sizes(scale):
    base = max(MIN_BASE_ROWS, int(round(BASE_ROWS * min(scale, 1.0))))
    copies = max(2, int(round(SERVING_ROWS * scale / base)))
    return base, copies


def generate_base(data_dir, scale, seed):
    import pandas as pd
    rng = np.random.default_rng([seed, 3])
    n, _ = _sizes(scale)
    # V1-V3: two-component mixture calibrated to the filter selectivities of §6.3.
    in_a = rng.random(n) < .395
    v = np.empty((n, 28))
    v[:, 0] = np.where(in_a, rng.uniform(1.05, 2.45, n), 1.0 - rng.gamma(1.56, 1.37, n))
    v[:, 1] = np.where(in_a, rng.normal(-0.5, 0.8, n), rng.normal(0.33, 1.95, n))
    v[:, 2] = np.where(in_a, rng.normal(0.02, 0.54, n), rng.normal(-0.01, 1.90, n))
    # V4-V28: Student-t(4) (variance 2), scaled to the original standard deviations.
    v[:, 3:] = rng.standard_t(4, (n, 25)) * (np.array(V_SD[3:]) / np.sqrt(2))
    # Frauds: mostly in component B, shifted on V14/V12/V10/V17 (down) and V4 (up).
    n_fraud = max(1, int(round(n * FRAUD_RATE)))
    idx_a, idx_b = np.flatnonzero(in_a), np.flatnonzero(~in_a)
    n_a = int(round(n_fraud * FRAUD_IN_A))
    fraud = np.concatenate([rng.choice(idx_a, n_a, replace=False), rng.choice(idx_b, n_fraud - n_a, replace=False)])
    for col, mean in ((13, -7), (11, -6), (9, -5), (16, -7), (3, 4)):
        v[fraud, col] = rng.normal(mean, 4 if col != 3 else 2, n_fraud)
    label = np.zeros(n, dtype=bool)
    label[fraud] = True
    df = pd.DataFrame(np.round(v, 6), columns=V_COLS)
    df.insert(0, "time", rng.integers(0, 172_793, n))
    df["amount"] = np.round(rng.lognormal(3.38, 1.48, n), 2)
    df["class"] = label
    # Kaggle's file is ordered by Time; rid keeps that order in DuckDB.
    df = df.sort_values("time", kind="stable").reset_index(drop=True)
    df.insert(0, "rid", np.arange(n))
    df.to_csv(os.path.join(data_dir, "creditcard_base.csv"), index=False)


def build_sql(data_dir, scale, seed):
    n_base, copies = _sizes(scale)
    path = os.path.join(data_dir, "creditcard_base.csv").replace("'", "''")
    spec = ", ".join(f"'{c}': '{t}'" for c, t in {"rid": "BIGINT", **COLS}.items())
    rest = ", ".join(f"b.{c}" for c in FEATURES + ["class"])
    return [
        # The base stays in DuckDB (not in TABLES) for TRAINING_SQL.
        f"""CREATE OR REPLACE TABLE credit_card_base AS
SELECT * FROM read_csv('{path}', header=true, delim=',', quote='\"', escape='\"', columns={{{spec}}})""",
        f"""CREATE OR REPLACE TABLE credit_card AS
SELECT CAST(b.time + c.cp * {n_base} AS INTEGER) AS time, {rest}
FROM credit_card_base b CROSS JOIN range({copies}) AS c(cp)
ORDER BY c.cp, b.rid""",
    ]


TRAINING_SQL = {"creditcard": f"SELECT {', '.join(FEATURES)}, class FROM credit_card_base ORDER BY rid"}

_ARGS = ", ".join(FEATURES)
_WHERE = "WHERE v1 > 1 AND v2 < 0.27 AND v3 > 0.3"


def train(data_dir, model_dir, seed, models="original"):  # models: Q3 has only the one (Debian) set
    import joblib
    import pandas as pd
    import xgboost as xgb
    from sklearn.preprocessing import StandardScaler

    df = pd.read_csv(os.path.join(data_dir, "train_creditcard.csv"))
    X = df[FEATURES].to_numpy(dtype=np.float64)
    y = df["class"].to_numpy().astype(np.int32)
    scaler = StandardScaler().fit(X)  # fitted on all rows, as the original
    idx = np.random.default_rng([seed, 13]).permutation(len(df))
    tr, te = idx[:int(len(df) * 0.75)], idx[int(len(df) * 0.75):]
    Xs = scaler.transform(X)
    model = xgb.XGBClassifier(objective="binary:logistic", n_jobs=2, random_state=seed).fit(Xs[tr], y[tr])
    out = os.path.join(model_dir, "q3")
    os.makedirs(out, exist_ok=True)
    joblib.dump(scaler, os.path.join(out, "scaler.pkl"))
    model.get_booster().save_model(os.path.join(out, "xgb_model.json"))
    if len(te):
        pred = model.predict(Xs[te])
        print(f"q3 XGB: test accuracy {np.mean(pred == y[te]):.5f}, "
              f"fraud recall {pred[y[te] == 1].mean() if y[te].any() else float('nan'):.3f}")


QUERIES = [Query(
    name="Q3", dataset="creditcard", udf="q3",
    args=", ".join(["DOUBLE"] * len(FEATURES)),
    returns="INTEGER",
    sql=f"SELECT time, amount, {{udf}}({_ARGS}) AS class\nFROM credit_card\n{_WHERE}",
    inputs_sql=f"SELECT {_ARGS}\nFROM credit_card\n{_WHERE}",
    note=("Synthetic credit card (§6.3), 284,807-row base x 24 copies at scale 1 (6.84 M; the "
          "original had 16 copies, 4.56 M). The UDF returns the fraud probability thresholded at 0.5 (the original's "
          "INTEGER cast truncated it to ~always 0); 20% of the frauds are in mixture component A "
          "so that the filtered rows contain some. XGBoost predicts with nthread=1 (one executor "
          "per core). The base stays in DuckDB as credit_card_base (training only)."),
)]
