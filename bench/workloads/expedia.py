"""Q1: Expedia hotel listings, DecisionTree (WORKLOADS.md §3 Q1, §6.1).

Base set: listings over searches (R2) and hotels (R1); the serving listings table is the base
replicated `copies` times (as expedia_expand.py doubled it), where every copy but the first gets a
fresh orig_destination_distance, computed in SQL from (row id, copy) so that it is deterministic.
"""
import os

import numpy as np

from . import Query
from .common import model_out, pick, read_csv_sql, zipf

TABLES = ["expedia_r1_hotels", "expedia_r2_searches", "expedia_s_listings"]

# Scale 1: a 200 k-listing base replicated 20x (4 M listings, ~330 k UDF rows), sized so that one
# staged pyfun call over all UDF rows takes ~1-2 s on one core (the original had 5 M listings).
BASE_LISTINGS = 200_000
SERVING_LISTINGS = 4_000_000
MIN_BASE_LISTINGS = 4_000
TRAIN_ROWS = 60_000  # unbounded DT on ~2.4 k sparse features: fit time grows ~n^2 (50 k rows: 19 s, 100 k: 71 s)

NUMERIC = ["prop_location_score1", "prop_location_score2", "prop_log_historical_price", "price_usd",
           "orig_destination_distance", "prop_review_score", "avg_bookings_usd", "stdev_bookings_usd"]
CATEGORICAL = ["position", "prop_country_id", "prop_starrating", "prop_brand_bool", "count_clicks",
               "count_bookings", "year", "month", "weekofyear", "time", "site_id",
               "visitor_location_country_id", "srch_destination_id", "srch_length_of_stay",
               "srch_booking_window", "srch_adults_count", "srch_children_count", "srch_room_count",
               "srch_saturday_night_bool", "random_bool"]

HOTEL_COLS = {"prop_id": "VARCHAR", "prop_country_id": "VARCHAR", "prop_starrating": "INTEGER",
              "prop_review_score": "DOUBLE", "prop_brand_bool": "BOOLEAN", "count_clicks": "INTEGER",
              "avg_bookings_usd": "DOUBLE", "stdev_bookings_usd": "DOUBLE", "count_bookings": "INTEGER"}
SEARCH_COLS = {"srch_id": "VARCHAR", "year": "VARCHAR", "month": "VARCHAR", "weekofyear": "VARCHAR",
               "time": "VARCHAR", "site_id": "VARCHAR", "visitor_location_country_id": "VARCHAR",
               "srch_destination_id": "VARCHAR", "srch_length_of_stay": "INTEGER",
               "srch_booking_window": "INTEGER", "srch_adults_count": "INTEGER",
               "srch_children_count": "INTEGER", "srch_room_count": "INTEGER",
               "srch_saturday_night_bool": "BOOLEAN", "random_bool": "BOOLEAN"}
LISTING_COLS = {"rid": "BIGINT", "srch_id": "VARCHAR", "prop_id": "VARCHAR", "position": "VARCHAR",
                "prop_location_score1": "DOUBLE", "prop_location_score2": "DOUBLE",
                "prop_log_historical_price": "DOUBLE", "price_usd": "DOUBLE",
                "promotion_flag": "BOOLEAN", "orig_destination_distance": "DOUBLE"}
ALL_TYPES = {**HOTEL_COLS, **SEARCH_COLS, **LISTING_COLS}


def _sizes(scale):
    base = max(MIN_BASE_LISTINGS, int(round(BASE_LISTINGS * min(scale, 1.0))))
    copies = max(2, int(round(SERVING_LISTINGS * scale / base)))
    return base, copies


def _lognormal(rng, mean, sd, size):
    sigma2 = np.log1p((sd / mean) ** 2)
    return rng.lognormal(np.log(mean) - sigma2 / 2, np.sqrt(sigma2), size)


def _quoted(ints, fmt="{}"):
    # The original CSVs carry literal single quotes inside the strings ('2013', '01', '0').
    return np.array(["'" + fmt.format(v) + "'" for v in ints], dtype=object)


def generate_base(data_dir, scale, seed):
    import pandas as pd
    rng = np.random.default_rng([seed, 1])
    n_l, _ = _sizes(scale)
    n_s = max(200, n_l // 20)
    n_h = max(300, int(round(12_000 * min(scale, 1.0) ** 0.5)))

    # R2 searches
    month = pick(rng, [1, 2, 3, 4, 5, 6, 11, 12], np.ones(8), n_s)
    day_of_year = np.array([(m - 1) * 30.5 for m in month]) + rng.uniform(0, 30.4, n_s)
    week = np.clip(day_of_year.astype(int) // 7 + 1, 1, 53)
    los = np.where(rng.random(n_s) < 0.932, pick(rng, [1, 2, 3, 4, 5], [.32, .25, .17, .10, .092], n_s),
                   np.minimum(6 + rng.geometric(0.25, n_s) - 1, 34))
    u = rng.random(n_s)
    bw = np.select([u < .08, u < .15, u < .28, u < .42],
                   [0, 1, rng.integers(2, 5, n_s), rng.integers(5, 11, n_s)],
                   np.clip(np.round(rng.lognormal(np.log(35), 1.0, n_s)), 11, 413)).astype(int)
    searches = pd.DataFrame({
        "srch_id": _quoted(range(n_s)),
        "year": np.where(rng.random(n_s) < .85, "'2013'", "'2012'"),
        "month": _quoted(month, "{:02d}"),
        "weekofyear": _quoted(week, "{:02d}"),
        "time": _quoted(rng.integers(1, 13, n_s)),
        "site_id": _quoted(zipf(rng, 24, 2.0, n_s) + 1),
        "visitor_location_country_id": _quoted(zipf(rng, 134, 1.9, n_s) + 1),
        "srch_destination_id": _quoted(zipf(rng, 2980, 1.1, n_s) + 1),
        "srch_length_of_stay": los,
        "srch_booking_window": bw,
        "srch_adults_count": pick(rng, range(1, 10), [.20, .65, .08, .04, .01, .008, .006, .004, .002], n_s),
        "srch_children_count": pick(rng, range(10), [.75, .12, .09, .02, .008, .005, .003, .002, .001, .001], n_s),
        "srch_room_count": pick(rng, range(1, 9), [.92, .06, .01, .004, .003, .001, .001, .001], n_s),
        "srch_saturday_night_bool": rng.random(n_s) < .5,
        "random_bool": rng.random(n_s) < .3,
    })

    # R1 hotels
    hotels = pd.DataFrame({
        "prop_id": _quoted(range(n_h)),
        "prop_country_id": _quoted(zipf(rng, 35, 1.5, n_h) + 1),
        "prop_starrating": pick(rng, [0, 1, 2, 3, 4, 5], [.05, .05, .17, .35, .30, .08], n_h),
        "prop_review_score": np.clip(np.round(rng.normal(3.93, 0.62, n_h) * 2) / 2, 0, 5),
        "prop_brand_bool": rng.random(n_h) < .63,
        "count_clicks": np.minimum(rng.negative_binomial(1.5, 1.5 / 31.5, n_h), 445),
        "avg_bookings_usd": np.round(_lognormal(rng, 343, 400, n_h), 2),
        "stdev_bookings_usd": np.round(_lognormal(rng, 245, 472, n_h), 2),
        # geometric: P(>5) = 0.713
        "count_bookings": np.minimum(rng.negative_binomial(1, 1 - 0.713 ** (1 / 6), n_h), 275),
    })

    # S listings, foreign keys uniform
    s_idx = rng.integers(0, n_s, n_l)
    h_idx = rng.integers(0, n_h, n_l)
    ls1 = np.clip(rng.normal(2.86, 1.25, n_l), 0, 7)
    ls2 = np.where(rng.random(n_l) < .625, rng.uniform(0, .1, n_l),
                   np.minimum(.1 + rng.exponential(.06, n_l), 1.0))
    lhp = np.where(rng.random(n_l) < .16, 0.0, rng.normal(4.9, .45, n_l))
    price = _lognormal(rng, 124.5, 78.5, n_l)
    # Noisy logistic label plus 10% flips, so that an unbounded tree grows large (~22% positive).
    star = hotels["prop_starrating"].to_numpy()[h_idx]
    logit = (-2.0 - 0.9 * (np.log(price) - 4.65) + 0.35 * (ls1 - 2.86) + 4.0 * (ls2 - 0.09)
             + 0.25 * np.log1p(bw[s_idx]) - 0.8 + 0.2 * (star - 3) + rng.logistic(0, 1, n_l) * 0.5)
    label = rng.random(n_l) < 1 / (1 + np.exp(-logit))
    label ^= rng.random(n_l) < .10
    listings = pd.DataFrame({
        "rid": np.arange(n_l),
        "srch_id": searches["srch_id"].to_numpy()[s_idx],
        "prop_id": hotels["prop_id"].to_numpy()[h_idx],
        "position": np.where(rng.random(n_l) < .5, "'0'", "'1'"),
        "prop_location_score1": np.round(ls1, 2),
        "prop_location_score2": np.round(ls2, 4),
        "prop_log_historical_price": np.round(lhp, 2),
        "price_usd": np.round(price, 2),
        "promotion_flag": label,
        "orig_destination_distance": np.round(_lognormal(rng, 680.7, 1248.7, n_l), 2),
    })
    for name, df in (("r1_hotels", hotels), ("r2_searches", searches), ("base_listings", listings)):
        df.to_csv(os.path.join(data_dir, f"expedia_{name}.csv"), index=False)


def _read_csv(data_dir, name, cols):
    return read_csv_sql(os.path.join(data_dir, f"expedia_{name}.csv"), cols)


def build_sql(data_dir, scale, seed):
    _, copies = _sizes(scale)
    body = ", ".join(f"b.{c}" for c in LISTING_COLS if c not in ("rid", "orig_destination_distance"))
    return [
        f"CREATE OR REPLACE TABLE expedia_r1_hotels AS SELECT * FROM {_read_csv(data_dir, 'r1_hotels', HOTEL_COLS)}",
        f"CREATE OR REPLACE TABLE expedia_r2_searches AS SELECT * FROM {_read_csv(data_dir, 'r2_searches', SEARCH_COLS)}",
        # The base listings stay in DuckDB (not in TABLES) for TRAINING_SQL.
        f"CREATE OR REPLACE TABLE expedia_base_listings AS SELECT * FROM {_read_csv(data_dir, 'base_listings', LISTING_COLS)}",
        # Copy 0 is the base; the others get a distance in [0, 10000) from a multiplicative hash of
        # (rid, copy) modulo a prime: deterministic and engine-independent.
        f"""CREATE OR REPLACE TABLE expedia_s_listings AS
SELECT {body},
       CASE WHEN c.cp = 0 THEN b.orig_destination_distance
            ELSE round(((b.rid * 2654435761 + c.cp * 2246822519 + {seed % 1000003}) % 1000003) / 100.0003, 2)
       END AS orig_destination_distance
FROM expedia_base_listings b CROSS JOIN range({copies}) AS c(cp)
ORDER BY c.cp, b.rid""",
    ]


_JOIN = """FROM expedia_s_listings s
JOIN expedia_r1_hotels r1 ON s.prop_id = r1.prop_id
JOIN expedia_r2_searches r2 ON s.srch_id = r2.srch_id"""

TRAINING_SQL = {
    "expedia": f"""SELECT {", ".join(NUMERIC + CATEGORICAL)}, s.promotion_flag
FROM expedia_base_listings s
JOIN expedia_r1_hotels r1 ON s.prop_id = r1.prop_id
JOIN expedia_r2_searches r2 ON s.srch_id = r2.srch_id
ORDER BY s.rid""",
}

_ARGS = ", ".join(f"s.{c}" if c in LISTING_COLS else (f"r1.{c}" if c in HOTEL_COLS else f"r2.{c}")
                  for c in NUMERIC + CATEGORICAL)
# DuckDB/PG filter constant: srch_booking_window > 10 (IMBridge used > 4).
_WHERE = """WHERE s.prop_location_score1 > 1 AND s.prop_location_score2 > 0.1
  AND s.prop_log_historical_price > 4 AND r1.count_bookings > 5
  AND r2.srch_booking_window > 10 AND r2.srch_length_of_stay > 1"""


def _split(n, seed):
    # The tree is fitted on a 75% split (as the original), capped at TRAIN_ROWS.
    idx = np.random.default_rng([seed, 11]).permutation(n)
    return idx[:min(int(n * 0.75), TRAIN_ROWS)], idx[int(n * 0.75):]


def train(data_dir, model_dir, seed, models="original"):
    import pandas as pd
    df = pd.read_csv(os.path.join(data_dir, "train_expedia.csv"),
                     dtype={c: str for c in CATEGORICAL if ALL_TYPES[c] == "VARCHAR"})
    if models == "debian":
        _train_sklearn(df, model_out(model_dir, "q1", models), seed)
    else:
        _train_onnx(df, model_out(model_dir, "q1", models), seed)


def onnx_type(sql_type):
    """The ONNX input type of a UDF column, as the original pipeline's: float for the numerics, string
    for VARCHAR and int64 for the integer categoricals (booleans as 0/1, as DuckDB's variant cast them)."""
    return {"DOUBLE": "float", "VARCHAR": "string"}.get(sql_type, "int64")


def _train_onnx(df, out, seed):
    """The original Q1 model: one scikit-learn pipeline (StandardScaler on the numerics, OneHotEncoder on
    the categoricals, DecisionTreeClassifier) exported with skl2onnx, so that ONNX Runtime runs the
    preprocessing and the tree inside one graph with one input per column."""
    import pandas as pd
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    kinds = {c: onnx_type(ALL_TYPES[c]) for c in NUMERIC + CATEGORICAL}
    X = pd.DataFrame({c: df[c].to_numpy(dtype=np.float32) if kinds[c] == "float"
                      else df[c].to_numpy(dtype=object) if kinds[c] == "string"
                      else df[c].to_numpy().astype(np.int64) for c in NUMERIC + CATEGORICAL})
    y = df["promotion_flag"].to_numpy().astype(np.int64)
    # The preprocessor sees the whole base, so that its vocabulary covers every serving row:
    # handle_unknown='error' (ONNX zeros=0) as the original.
    pre = ColumnTransformer([("num", StandardScaler(), NUMERIC),
                             ("cat", OneHotEncoder(handle_unknown="error"), CATEGORICAL)])
    features = pre.fit_transform(X)
    tr, te = _split(len(df), seed)
    tree = DecisionTreeClassifier(random_state=seed).fit(features[tr], y[tr])
    pipeline = Pipeline([("preprocessor", pre), ("classifier", tree)])
    tensor = {"float": FloatTensorType, "string": StringTensorType, "int64": Int64TensorType}
    onx = convert_sklearn(pipeline, "expedia_dt_pipeline",
                          initial_types=[(c, tensor[kinds[c]]([None, 1])) for c in NUMERIC + CATEGORICAL],
                          options={id(tree): {"zipmap": False}}, target_opset={"": 15, "ai.onnx.ml": 1})
    with open(os.path.join(out, "expedia_dt_pipeline.onnx"), "wb") as f:
        f.write(onx.SerializeToString())
    if len(te):
        # The graph must predict what the fitted tree predicts (float32 inside ONNX Runtime may move a
        # row across a threshold, so report the agreement rather than require 100%).
        import onnxruntime as ort
        session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
        sample = X.iloc[te[:20_000]]
        feeds = {c: sample[c].to_numpy().reshape(-1, 1) for c in NUMERIC + CATEGORICAL}
        agree = (session.run([session.get_outputs()[0].name], feeds)[0] == tree.predict(features[te[:20_000]])).mean()
        print(f"q1 DT (ONNX): {tree.tree_.node_count} nodes, test accuracy {tree.score(features[te], y[te]):.3f}, "
              f"ONNX Runtime agrees with scikit-learn on {agree:.2%} of the test rows")


def _train_sklearn(df, out, seed):
    """The Debian-only variant: the same DT twin as pickled StandardScaler, OneHotEncoder and tree."""
    import joblib
    import scipy.sparse as sp
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    # Same Python types as the UDF sees: str, int (from int32) and bool objects.
    cat = np.column_stack([df[c].to_numpy(dtype=object) if ALL_TYPES[c] == "VARCHAR"
                           else df[c].to_numpy().astype(bool if ALL_TYPES[c] == "BOOLEAN" else np.int32)
                           for c in CATEGORICAL]).astype(object)
    num = df[NUMERIC].to_numpy(dtype=np.float64)
    y = df["promotion_flag"].to_numpy().astype(bool)
    # Scaler and encoder see the whole base (so the vocabulary covers every serving row).
    scaler = StandardScaler().fit(num)
    encoder = OneHotEncoder(handle_unknown="ignore").fit(cat)
    tr, te = _split(len(df), seed)
    X = sp.hstack([sp.csr_matrix(scaler.transform(num)), encoder.transform(cat)], format="csr")
    model = DecisionTreeClassifier(random_state=seed).fit(X[tr], y[tr].astype(np.int32))
    joblib.dump(scaler, os.path.join(out, "scaler.pkl"))
    joblib.dump(encoder, os.path.join(out, "encoder.pkl"))
    joblib.dump(model, os.path.join(out, "dt.pkl"))
    if len(te):
        print(f"q1 DT (sklearn): {model.tree_.node_count} nodes, test accuracy {model.score(X[te], y[te]):.3f}")


QUERIES = [Query(
    name="Q1", dataset="expedia", udf="q1",
    args=", ".join(ALL_TYPES[c] for c in NUMERIC + CATEGORICAL),
    returns="INTEGER",
    sql=f"SELECT s.srch_id, s.prop_id, {{udf}}({_ARGS}) AS promotion_flag\n{_JOIN}\n{_WHERE}",
    inputs_sql=f"SELECT {_ARGS}\n{_JOIN}\n{_WHERE}",
    note=("Synthetic Expedia (§6.1): 200 k-listing base (original ~0.93 M) over 10 k searches and 12 k "
          "hotels, replicated 20x at scale 1 (4 M listings; original 5 M). DuckDB/PG filter constant "
          "srch_booking_window > 10 (~8% of listings). Served as the original: one ONNX graph "
          "(skl2onnx 1.18, opset 15 / ai.onnx.ml 1; original 1.14.1, opset 11) with the Scaler, one "
          "OneHotEncoder per categorical (zeros=0) and the tree, run by ONNX Runtime; inputs float32, "
          "string, int64 (booleans as 0/1, as DuckDB's variant). The preprocessor is fitted on the whole "
          "base (so every serving value is in its vocabulary). The unbounded default DT is fitted on a "
          "60 k-row subsample of the 75% split (~20 k nodes vs ~100 k) to keep training under a minute. "
          "--models debian: the sklearn DT twin (StandardScaler + OneHotEncoder(handle_unknown='ignore') "
          "+ DecisionTreeClassifier, one-hot kept sparse, no .toarray()). The base listings stay in "
          "DuckDB as expedia_base_listings (training only)."),
)]
