"""Q4 and Q5: TPC-H Q5 with a PyTorch MLP and TPC-H Q10 with a GBDT (WORKLOADS.md §3 Q4/Q5, §6.4).

A dbgen-like generator of only the tables and columns the two queries need, written directly in
DuckDB SQL: every value is a deterministic function of (row key, column salt, seed) via hash(), with
dbgen's uniform distributions, so the standard Q5/Q10 predicates keep their selectivities. Money and
quantity columns are DOUBLE (dbgen: DECIMAL(15,2)) so that both engines hand the UDF float64.

The labels are random in dbgen; to give the fitted models a fixed UDF selectivity, they get a weak,
learnable dependence (§6.4): o_orderpriority is mostly '1-URGENT' for customers with a high
c_acctbal (the top 20 %; the marginal stays uniform), and l_returnflag R-vs-A follows l_quantity > 25.
"""
import os

import joblib
import numpy as np
import pandas as pd

from . import Query
from .common import model_out

TABLES = ["region", "nation", "supplier", "customer", "orders", "lineitem"]

# TPC-H scale factor at benchmark scale 1. SF 1.5 gives 9 M lineitems, ~11 k Q4 UDF rows and
# ~340 k Q5 UDF rows, so one staged pyfun call over all of them takes ~1.5-2 s on one core here.
SF_AT_SCALE_1 = 1.5

NUMERIC_Q4 = ["c_acctbal", "o_totalprice", "l_quantity", "l_extendedprice", "l_discount", "l_tax",
              "s_acctbal"]
CATEGORICAL_Q4 = ["o_orderstatus", "l_returnflag", "l_linestatus", "l_shipinstruct", "l_shipmode",
                  "n_nationkey", "n_regionkey"]
NUMERIC_Q5 = NUMERIC_Q4[:6]
CATEGORICAL_Q5 = ["o_orderstatus", "o_orderpriority", "l_linestatus", "l_shipinstruct", "l_shipmode",
                  "n_nationkey", "n_regionkey"]

PRIORITIES = ["1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW"]
INSTRUCTS = ["DELIVER IN PERSON", "COLLECT COD", "NONE", "TAKE BACK RETURN"]
MODES = ["REG AIR", "AIR", "RAIL", "SHIP", "TRUCK", "MAIL", "FOB"]
# The encoders get the full domains up front (the originals use handle_unknown='error'), so a small
# training sample can never miss a category that the serving data has.
DOMAINS = {"o_orderstatus": ["F", "O", "P"], "l_returnflag": ["A", "N", "R"],
           "l_linestatus": ["F", "O"], "l_shipinstruct": INSTRUCTS, "l_shipmode": MODES,
           "o_orderpriority": PRIORITIES, "n_nationkey": list(range(25)), "n_regionkey": list(range(5))}

REGIONS = ["AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE EAST"]
NATIONS = [("ALGERIA", 0), ("ARGENTINA", 1), ("BRAZIL", 1), ("CANADA", 1), ("EGYPT", 4),
           ("ETHIOPIA", 0), ("FRANCE", 3), ("GERMANY", 3), ("INDIA", 2), ("INDONESIA", 2),
           ("IRAN", 4), ("IRAQ", 4), ("JAPAN", 2), ("JORDAN", 4), ("KENYA", 0), ("MOROCCO", 0),
           ("MOZAMBIQUE", 0), ("PERU", 1), ("CHINA", 2), ("ROMANIA", 3), ("SAUDI ARABIA", 4),
           ("VIETNAM", 2), ("RUSSIA", 3), ("UNITED KINGDOM", 3), ("UNITED STATES", 1)]

MLP_TRAIN_ROWS = 40_000  # the MLP trains at ~8 k rows/s on one core here; the GBDT uses the whole sample
MLP_EPOCHS = 4


def _sizes(scale):
    sf = SF_AT_SCALE_1 * scale
    return {"cust": max(300, round(150_000 * sf)), "ord": max(3_000, round(1_500_000 * sf)),
            "supp": max(50, round(10_000 * sf)), "part": max(1_000, round(200_000 * sf))}


def generate_base(data_dir, scale, seed):
    # Everything is generated in SQL by build_sql (CSV round trips of ~10^7 rows are too slow).
    os.makedirs(data_dir, exist_ok=True)


def build_sql(data_dir, scale, seed):
    n = _sizes(scale)
    salt = [0]

    def u(key):
        """A fresh deterministic U[0,1) column for the row key `key`."""
        salt[0] += 1
        return f"((hash({key}, {int(seed) * 1000 + salt[0]}) % 1000000007) / 1000000007.0)"

    def pick(key, values):
        arr = ", ".join("'" + v + "'" for v in values)
        return f"([{arr}])[1 + CAST(floor({u(key)} * {len(values)}) AS INTEGER)]"

    def text(key, length):
        salt[0] += 1
        return f"substr(md5(CAST({key} AS VARCHAR) || '-{seed}-{salt[0]}'), 1, {length})"

    region_rows = ", ".join(f"({i}, '{r}')" for i, r in enumerate(REGIONS))
    nation_rows = ", ".join(f"({i}, '{name}', {reg})" for i, (name, reg) in enumerate(NATIONS))
    # dbgen: orders only for custkey % 3 != 0; the k-th such key is 3*(k/2) + 1 + k%2.
    n_cust_with_orders = n["cust"] - n["cust"] // 3
    return [
        "DROP TABLE IF EXISTS lineitem", "DROP TABLE IF EXISTS orders", "DROP TABLE IF EXISTS customer",
        "DROP TABLE IF EXISTS supplier", "DROP TABLE IF EXISTS nation", "DROP TABLE IF EXISTS region",
        "DROP TABLE IF EXISTS orders_base",
        "CREATE TABLE region AS SELECT CAST(r_regionkey AS INTEGER) AS r_regionkey, "
        f"CAST(r_name AS VARCHAR) AS r_name FROM (VALUES {region_rows}) AS t(r_regionkey, r_name)",
        "CREATE TABLE nation AS SELECT CAST(n_nationkey AS INTEGER) AS n_nationkey, "
        "CAST(n_name AS VARCHAR) AS n_name, CAST(n_regionkey AS INTEGER) AS n_regionkey "
        f"FROM (VALUES {nation_rows}) AS t(n_nationkey, n_name, n_regionkey)",
        f"""CREATE TABLE supplier AS SELECT
              CAST(i AS INTEGER) AS s_suppkey,
              'Supplier#' || lpad(CAST(i AS VARCHAR), 9, '0') AS s_name,
              CAST(floor({u('i')} * 25) AS INTEGER) AS s_nationkey,
              (floor({u('i')} * 1099999) - 99999) / 100.0 AS s_acctbal
            FROM range(1, {n['supp'] + 1}) AS t(i)""",
        f"""CREATE TABLE customer AS SELECT
              CAST(i AS INTEGER) AS c_custkey,
              'Customer#' || lpad(CAST(i AS VARCHAR), 9, '0') AS c_name,
              {text('i', 20)} AS c_address,
              nk AS c_nationkey,
              CAST(nk + 10 AS VARCHAR) || '-' || CAST(100 + floor({u('i')} * 900) AS INTEGER) || '-'
                || CAST(100 + floor({u('i')} * 900) AS INTEGER) || '-'
                || CAST(1000 + floor({u('i')} * 9000) AS INTEGER) AS c_phone,
              (floor({u('i')} * 1099999) - 99999) / 100.0 AS c_acctbal,
              {text('i * 7', 32)} AS c_comment
            FROM (SELECT i, CAST(floor({u('i')} * 25) AS INTEGER) AS nk
                  FROM range(1, {n['cust'] + 1}) AS t(i)) AS c""",
        # Orders before their lines: o_totalprice and o_orderstatus are aggregates of the lines.
        # Priority: P(1-URGENT) = .6 for c_acctbal > 7800 (top 20 %), .1 otherwise; the other four
        # priorities share the rest evenly, so the marginal is uniform as in dbgen.
        f"""CREATE TABLE orders_base AS SELECT
              CAST(i AS INTEGER) AS o_orderkey, o_custkey,
              CAST(DATE '1992-01-01' + CAST(floor(ud * 2406) AS INTEGER) AS DATE) AS o_orderdate,
              CASE WHEN up < (CASE WHEN c_acctbal > 7800 THEN 0.6 ELSE 0.1 END) THEN '1-URGENT'
                   ELSE (['2-HIGH', '3-MEDIUM', '4-NOT SPECIFIED', '5-LOW'])[1 + CAST(floor(uo * 4) AS INTEGER)]
              END AS o_orderpriority,
              CAST(1 + floor(ul * 7) AS INTEGER) AS n_lines
            FROM (SELECT i, {u('i')} AS ud, {u('i')} AS up, {u('i')} AS uo, {u('i')} AS ul,
                         CAST(3 * (k // 2) + 1 + k % 2 AS INTEGER) AS o_custkey
                  FROM (SELECT i, CAST(floor({u('i')} * {n_cust_with_orders}) AS BIGINT) AS k
                        FROM range(1, {n['ord'] + 1}) AS t(i)) AS a) AS b
            JOIN customer ON c_custkey = o_custkey""",
        # dbgen: shipdate = orderdate + 1..121, receiptdate = shipdate + 1..30; returnflag R/A when
        # received by 1995-06-17 (N after), linestatus O when shipped after it.
        f"""CREATE TABLE lineitem AS SELECT
              l_orderkey, l_linenumber, l_suppkey, l_quantity,
              l_quantity * (90000 + ((l_partkey // 10) % 20001) + 100 * (l_partkey % 1000)) / 100.0
                AS l_extendedprice,
              l_discount, l_tax,
              CASE WHEN receipt > DATE '1995-06-17' THEN 'N'
                   WHEN ur < (CASE WHEN l_quantity > 25 THEN 0.8 ELSE 0.2 END) THEN 'R' ELSE 'A'
              END AS l_returnflag,
              CASE WHEN l_shipdate > DATE '1995-06-17' THEN 'O' ELSE 'F' END AS l_linestatus,
              l_shipdate, l_shipinstruct, l_shipmode
            FROM (SELECT *, CAST(l_shipdate + CAST(1 + floor({u('lk')} * 30) AS INTEGER) AS DATE) AS receipt
                  FROM (SELECT lk, l_orderkey, l_linenumber,
                          CAST(1 + floor({u('lk')} * {n['supp']}) AS INTEGER) AS l_suppkey,
                          CAST(1 + floor({u('lk')} * {n['part']}) AS BIGINT) AS l_partkey,
                          CAST(1 + floor({u('lk')} * 50) AS DOUBLE) AS l_quantity,
                          floor({u('lk')} * 11) / 100.0 AS l_discount,
                          floor({u('lk')} * 9) / 100.0 AS l_tax,
                          CAST(o_orderdate + CAST(1 + floor({u('lk')} * 121) AS INTEGER) AS DATE) AS l_shipdate,
                          {u('lk')} AS ur,
                          {pick('lk', INSTRUCTS)} AS l_shipinstruct,
                          {pick('lk', MODES)} AS l_shipmode
                        FROM (SELECT o_orderkey AS l_orderkey, CAST(ln AS INTEGER) AS l_linenumber,
                                     o_orderkey * 8 + ln AS lk, o_orderdate
                              FROM orders_base JOIN range(1, 8) AS r(ln) ON ln <= n_lines) AS k) AS a) AS b
            ORDER BY l_orderkey, l_linenumber""",
        """CREATE TABLE orders AS SELECT
              o.o_orderkey, o.o_custkey,
              CASE WHEN s.n_open = 0 THEN 'F' WHEN s.n_open = o.n_lines THEN 'O' ELSE 'P' END AS o_orderstatus,
              s.totalprice AS o_totalprice, o.o_orderdate, o.o_orderpriority
            FROM orders_base AS o
            JOIN (SELECT l_orderkey, round(sum(l_extendedprice * (1 + l_tax) * (1 - l_discount)), 2) AS totalprice,
                         sum(CASE WHEN l_linestatus = 'O' THEN 1 ELSE 0 END) AS n_open
                  FROM lineitem GROUP BY l_orderkey) AS s ON s.l_orderkey = o.o_orderkey
            ORDER BY o.o_orderkey""",
        "DROP TABLE orders_base",
    ]


# As the originals (§6.4): the first 1/60 of the lineitems (1 M of 60 M at SF10) joined with the
# first third of the customers. Nation is the customer's, as in Q10 (and Q5, where they coincide).
TRAINING_SQL = {
    "tpch": """SELECT c_acctbal, o_totalprice, l_quantity, l_extendedprice, l_discount, l_tax, s_acctbal,
                      o_orderstatus, o_orderpriority, l_returnflag, l_linestatus, l_shipinstruct, l_shipmode,
                      n_nationkey, n_regionkey
               FROM lineitem
               JOIN orders ON l_orderkey = o_orderkey
               JOIN customer ON o_custkey = c_custkey
               JOIN supplier ON l_suppkey = s_suppkey
               JOIN nation ON c_nationkey = n_nationkey
               WHERE l_orderkey <= (SELECT max(o_orderkey) FROM orders) / 60
                 AND c_custkey <= (SELECT max(c_custkey) FROM customer) / 3
               ORDER BY l_orderkey, l_linenumber""",
}


def _encoder(cols):
    from sklearn.preprocessing import OneHotEncoder
    return OneHotEncoder(categories=[DOMAINS[c] for c in cols], handle_unknown="error")


def _categorical(df, cols):
    # An object matrix of str flags and Python int keys, as np.column_stack builds it in the UDFs.
    return np.column_stack([df[c].to_numpy().astype(object) for c in cols])


def _udf_module(name):
    # The UDF file defines the nn.Module; load it by path, as the runner's layout is not a package.
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "udfs", name + ".py")
    spec = importlib.util.spec_from_file_location("_bench_udf_" + name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _train_q4(df, out, seed):
    import torch
    from sklearn.preprocessing import LabelBinarizer, StandardScaler
    MyModel = _udf_module("q4_staged").MyModel

    df = df.iloc[:MLP_TRAIN_ROWS]
    scaler = StandardScaler().fit(df[NUMERIC_Q4].to_numpy(dtype=np.float64))
    enc = _encoder(CATEGORICAL_Q4).fit(_categorical(df, CATEGORICAL_Q4))
    lb = LabelBinarizer().fit(PRIORITIES)
    x = np.hstack([scaler.transform(df[NUMERIC_Q4].to_numpy(dtype=np.float64)),
                   enc.transform(_categorical(df, CATEGORICAL_Q4)).toarray()])
    y = lb.transform(df["o_orderpriority"].to_numpy())

    # As train_Q5_pytorch_mlp.py: MSE against one-hot labels, Adam, batch 200 (fewer epochs/rows).
    torch.manual_seed(seed)
    model = MyModel(x.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xt = torch.from_numpy(x.astype(np.float32))
    yt = torch.from_numpy(y.astype(np.float32))
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(MLP_EPOCHS):
        perm = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt), 200):
            b = perm[i:i + 200]
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(xt[b]), yt[b])
            loss.backward()
            opt.step()
    joblib.dump(scaler, os.path.join(out, "scaler.pkl"))
    joblib.dump(enc, os.path.join(out, "encoder.pkl"))
    joblib.dump(lb, os.path.join(out, "label_binarizer.pkl"))
    torch.save(model.state_dict(), os.path.join(out, "mlp.pth"))


def _q5_features(df):
    from sklearn.preprocessing import LabelBinarizer, StandardScaler
    scaler = StandardScaler().fit(df[NUMERIC_Q5].to_numpy(dtype=np.float64))
    enc = _encoder(CATEGORICAL_Q5).fit(_categorical(df, CATEGORICAL_Q5))
    lb = LabelBinarizer().fit(["A", "N", "R"])
    x = np.hstack([scaler.transform(df[NUMERIC_Q5].to_numpy(dtype=np.float64)),
                   enc.transform(_categorical(df, CATEGORICAL_Q5)).toarray()])
    y = lb.transform(df["l_returnflag"].to_numpy()).argmax(axis=1)
    return scaler, enc, lb, x, y


def _train_q5(df, out, seed):
    """The original: a LightGBM multiclass GBDT (3 classes, 10 rounds, num_leaves 30, lr 0.05)."""
    import lightgbm as lgb
    scaler, enc, lb, x, y = _q5_features(df)
    # One thread and deterministic=True: the same trees on every run for a given seed.
    params = {"objective": "multiclass", "num_class": 3, "num_leaves": 30, "learning_rate": 0.05,
              "seed": seed, "deterministic": True, "force_row_wise": True, "num_threads": 1,
              "verbose": -1}
    booster = lgb.train(params, lgb.Dataset(x, label=y), num_boost_round=10)
    joblib.dump(scaler, os.path.join(out, "scaler.pkl"))
    joblib.dump(enc, os.path.join(out, "encoder.pkl"))
    joblib.dump(lb, os.path.join(out, "label_binarizer.pkl"))
    booster.save_model(os.path.join(out, "lgb_gbdt_model.txt"))


def _train_q5_debian(df, out, seed):
    import xgboost as xgb
    scaler, enc, lb, x, y = _q5_features(df)
    # LightGBM is not in Debian: the same shape in XGBoost (multiclass, 10 rounds x 3 trees,
    # leaf-wise growth to at most 30 leaves, learning rate 0.05).
    params = {"objective": "multi:softprob", "num_class": 3, "eta": 0.05, "tree_method": "hist",
              "grow_policy": "lossguide", "max_leaves": 30, "max_depth": 0, "seed": seed,
              "nthread": 2}
    booster = xgb.train(params, xgb.DMatrix(x, label=y), num_boost_round=10)
    joblib.dump(scaler, os.path.join(out, "scaler.pkl"))
    joblib.dump(enc, os.path.join(out, "encoder.pkl"))
    joblib.dump(lb, os.path.join(out, "label_binarizer.pkl"))
    booster.save_model(os.path.join(out, "gbdt.json"))


def train(data_dir, model_dir, seed, models="original"):
    df = pd.read_csv(os.path.join(data_dir, "train_tpch.csv"), keep_default_na=False)
    _train_q4(df, model_out(model_dir, "q4"), seed)
    fit_q5 = _train_q5_debian if models == "debian" else _train_q5
    fit_q5(df, model_out(model_dir, "q5", models), seed)


_Q4_ARGS = ("c_acctbal, o_totalprice, l_quantity, l_extendedprice, l_discount, l_tax, s_acctbal, "
            "o_orderstatus, l_returnflag, l_linestatus, l_shipinstruct, l_shipmode, n_nationkey, n_regionkey")
_Q4_FROM = """FROM customer
JOIN orders ON c_custkey = o_custkey
JOIN lineitem ON l_orderkey = o_orderkey
JOIN supplier ON l_suppkey = s_suppkey AND c_nationkey = s_nationkey
JOIN nation ON s_nationkey = n_nationkey
JOIN region ON n_regionkey = r_regionkey
WHERE r_name = 'ASIA' AND o_orderdate >= DATE '1994-01-01' AND o_orderdate < DATE '1995-01-01'"""

_Q5_ARGS = ("c_acctbal, o_totalprice, l_quantity, l_extendedprice, l_discount, l_tax, "
            "o_orderstatus, o_orderpriority, l_linestatus, l_shipinstruct, l_shipmode, n_nationkey, n_regionkey")
_Q5_FROM = """FROM customer
JOIN orders ON c_custkey = o_custkey
JOIN lineitem ON l_orderkey = o_orderkey
JOIN nation ON c_nationkey = n_nationkey
WHERE o_orderdate >= DATE '1993-10-01' AND o_orderdate < DATE '1994-01-01'"""

QUERIES = [
    Query(
        name="Q4", dataset="tpch", udf="q4",
        args="DOUBLE, DOUBLE, DOUBLE, DOUBLE, DOUBLE, DOUBLE, DOUBLE, "
             "VARCHAR, VARCHAR, VARCHAR, VARCHAR, VARCHAR, INTEGER, INTEGER",
        returns="VARCHAR",
        sql=f"""SELECT n_name, sum(l_extendedprice * (1 - l_discount)) AS revenue
{_Q4_FROM}
  AND {{udf}}({_Q4_ARGS}) = '1-URGENT'
GROUP BY n_name
ORDER BY revenue DESC""",
        inputs_sql=f"SELECT {_Q4_ARGS}\n{_Q4_FROM}",
        note="TPC-H Q5 + MLP. dbgen-like synthetic TPC-H at SF 1.5 x scale (9 M lineitems at scale 1, "
             "vs SF10 in the paper), only the needed columns, DECIMAL as DOUBLE, dense order keys. "
             "o_orderpriority depends on c_acctbal so that ~20% of UDF rows are '1-URGENT'. The keys "
             "are passed as INTEGER (DuckDB original: DOUBLE). MLP trained on <= 40 k rows for 4 epochs "
             "(original 334 k rows, 10 epochs); inference in float64.",
    ),
    Query(
        name="Q5", dataset="tpch", udf="q5",
        args="DOUBLE, DOUBLE, DOUBLE, DOUBLE, DOUBLE, DOUBLE, "
             "VARCHAR, VARCHAR, VARCHAR, VARCHAR, VARCHAR, INTEGER, INTEGER",
        returns="VARCHAR",
        sql=f"""SELECT c_custkey, c_name, sum(l_extendedprice * (1 - l_discount)) AS revenue,
       c_acctbal, n_name, c_address, c_phone, c_comment
{_Q5_FROM}
  AND {{udf}}({_Q5_ARGS}) = 'R'
GROUP BY c_custkey, c_name, c_acctbal, c_phone, n_name, c_address, c_comment
ORDER BY revenue DESC, c_custkey
LIMIT 20""",
        inputs_sql=f"SELECT {_Q5_ARGS}\n{_Q5_FROM}",
        note="TPC-H Q10 + GBDT replacing l_returnflag = 'R'. Synthetic TPC-H at SF 1.5 x scale as Q4. "
             "LightGBM multiclass (3 classes, 10 rounds, num_leaves 30, lr 0.05) as the original; "
             "--models debian: XGBoost with the same shape (lossguide max_leaves 30, eta 0.05). R-vs-A depends on l_quantity > 25 so that ~50% of UDF rows are 'R'. "
             "LIMIT 20 as in IMBridge (DuckDB/PG originals have none), with c_custkey as tie-breaker.",
    ),
]
