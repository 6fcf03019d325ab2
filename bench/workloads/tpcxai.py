"""Q6-Q8: TPCx-AI UC03 (Holt-Winters), UC04 (TF-IDF + NB spam), UC07 (SVD rating) (WORKLOADS.md §3, §6.5).

Product, Review and Product_Rating are generated in numpy and loaded from CSV; Order_o and its lines
(ai_lineitem) are generated directly in DuckDB SQL from hash()-based uniforms, like tpch.py. Weekly
sales per (store, department) get an additive yearly (52-week) seasonal pattern through the line
prices, so the Holt-Winters models have something to fit.
"""
import os

import joblib
import numpy as np
import pandas as pd

from . import Query
from .common import model_out, read_csv_sql, zipf

# The TPCx-AI lineitem is called ai_lineitem so that it cannot clash with TPC-H's lineitem.
TABLES = ["product", "order_o", "ai_lineitem", "review", "product_rating"]

N_DEPARTMENTS = 68
N_PRODUCTS = 3_500
N_CUSTOMERS = 100_000
FIRST_DAY = "2019-01-07"
N_DAYS = 7 * 130  # 130 weeks: Holt-Winters with seasonal_periods=52 needs >= 104 per pair

# Scale 1 sizes, chosen so that one staged pyfun call over all UDF rows takes ~1-2 s on one core:
# Q6 sees one row per (store, department) (10 x 68 = 680 forecasts of ~2.5 ms), Q7 one row per
# review, Q8 one row per distinct (user, product) (a Python call per row, ~5 us each).
STORES = 10
ORDERS = 600_000
REVIEWS = 16_000
RATING_USERS = 35_000

VOCABULARY = 100_000
SPAM_SHARE = 0.15
N_FACTORS = 100  # Surprise SVD defaults: 100 factors, 20 epochs, lr 0.005, reg 0.02
SVD_EPOCHS = 20
SVD_LR = 0.005
SVD_REG = 0.02

STOP_WORDS = ["the", "and", "it", "is", "this", "to", "a", "of", "for", "was", "with", "in", "my",
              "very", "but", "not", "on", "they", "you", "have", "so", "would", "are", "that"]
REVIEW_WORDS = ["great", "good", "product", "quality", "price", "works", "love", "bought",
                "recommend", "excellent", "nice", "easy", "use", "well", "fast", "shipping",
                "poor", "bad", "broke", "return", "cheap", "size", "fit", "color"]
SPAM_WORDS = ["free", "click", "offer", "winner", "discount", "cash", "visit", "deal", "bonus",
              "prize", "limited", "guaranteed", "website", "promo", "subscribe", "earn"]


def _sizes(scale):
    return {"stores": max(1, round(STORES * min(scale, 1.0))),
            "orders": max(20_000, round(ORDERS * scale)),
            "reviews": max(200, round(REVIEWS * scale)),
            "users": max(40, round(RATING_USERS * scale))}


def _departments():
    stems = ["home", "garden", "kitchen", "toys", "books", "music", "sports", "outdoor", "beauty",
             "health", "office", "pets", "baby", "auto", "tools", "grocery", "jewelry"]
    kinds = ["essentials", "accessories", "supplies", "deluxe"]
    return [f"{s} {k}" for k in kinds for s in stems][:N_DEPARTMENTS]


def _vocabulary(rng):
    """Common English words first (so stop-word removal matters), then pseudo-words."""
    syllables = np.array([c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"])
    words, seen = list(STOP_WORDS) + REVIEW_WORDS + SPAM_WORDS, set()
    seen.update(words)
    while len(words) < VOCABULARY:
        for w in ("".join(p) for p in syllables[rng.integers(0, len(syllables), (VOCABULARY, 3))]):
            if w not in seen:
                seen.add(w)
                words.append(w)
                if len(words) == VOCABULARY:
                    break
    return np.array(words)


def _reviews(rng, n):
    vocab = _vocabulary(rng)
    spam = rng.random(n) < SPAM_SHARE
    lengths = np.clip(np.round(rng.lognormal(np.log(60), 0.6, n)), 20, 300).astype(int)
    # Ham and spam draw from Zipf over two different orderings of the same vocabulary, which
    # share the head (stop words) but differ elsewhere; spam also pushes the spam words up.
    ham_order = np.arange(VOCABULARY)
    spam_order = np.concatenate([np.arange(len(STOP_WORDS)),
                                 len(STOP_WORDS) + rng.permutation(VOCABULARY - len(STOP_WORDS))])
    spam_ids = np.array([np.where(vocab == w)[0][0] for w in SPAM_WORDS])
    tokens = zipf(rng, VOCABULARY, 1.05, lengths.sum())
    texts, pos = [], 0
    for i in range(n):
        t = tokens[pos:pos + lengths[i]]
        pos += lengths[i]
        if spam[i]:
            t = spam_order[t]
            marks = rng.random(len(t)) < 0.08
            t[marks] = spam_ids[rng.integers(0, len(spam_ids), marks.sum())]
        else:
            t = ham_order[t]
        texts.append(" ".join(vocab[t]))
    return pd.DataFrame({"id": np.arange(1, n + 1), "text": texts, "spam": spam.astype(int)})


def _ratings(rng, n_users):
    """5-20 products per user (Zipf over products, so a few pairs repeat), ratings skewed to 4-5."""
    per_user = rng.integers(5, 21, n_users)
    users = np.repeat(np.arange(1, n_users + 1), per_user)
    products = 1 + zipf(rng, N_PRODUCTS, 0.8, len(users))
    u_bias = rng.normal(0, 0.5, n_users + 1)
    p_bias = rng.normal(0, 0.5, N_PRODUCTS + 1)
    u_vec = rng.normal(0, 0.5, (n_users + 1, 3))
    p_vec = rng.normal(0, 0.5, (N_PRODUCTS + 1, 3))
    score = (3.9 + u_bias[users] + p_bias[products] + (u_vec[users] * p_vec[products]).sum(axis=1)
             + rng.normal(0, 0.5, len(users)))
    rating = np.clip(np.round(score), 1, 5).astype(int)
    return pd.DataFrame({"userid": users, "productid": products, "rating": rating})


def generate_base(data_dir, scale, seed):
    os.makedirs(data_dir, exist_ok=True)
    n = _sizes(scale)
    rng = np.random.default_rng(seed)
    depts = np.array(_departments())
    # The first 68 products cover every department, so that every (store, department) pair sells.
    dept_of = np.concatenate([np.arange(N_DEPARTMENTS),
                              zipf(rng, N_DEPARTMENTS, 0.7, N_PRODUCTS - N_DEPARTMENTS)])
    adjectives = np.array(["small", "large", "classic", "modern", "premium", "basic", "eco", "smart"])
    pd.DataFrame({
        "p_product_id": np.arange(1, N_PRODUCTS + 1),
        "name": [f"{adjectives[rng.integers(0, 8)]} {depts[d].split()[0]} item {i + 1}"
                 for i, d in enumerate(dept_of)],
        "department": depts[dept_of],
    }).to_csv(os.path.join(data_dir, "product.csv"), index=False)
    _reviews(rng, n["reviews"]).to_csv(os.path.join(data_dir, "review.csv"), index=False)
    _ratings(rng, n["users"]).to_csv(os.path.join(data_dir, "product_rating.csv"), index=False)


def _read_csv(data_dir, name, cols):
    return read_csv_sql(os.path.join(data_dir, f"{name}.csv"), cols)


def build_sql(data_dir, scale, seed):
    n = _sizes(scale)
    salt = [0]

    def u(key):
        salt[0] += 1
        return f"((hash({key}, {int(seed) * 1000 + 500 + salt[0]}) % 1000000007) / 1000000007.0)"

    return [
        "DROP TABLE IF EXISTS product", "DROP TABLE IF EXISTS order_o", "DROP TABLE IF EXISTS ai_lineitem",
        "DROP TABLE IF EXISTS review", "DROP TABLE IF EXISTS product_rating",
        "CREATE TABLE product AS SELECT * FROM "
        + _read_csv(data_dir, "product", {"p_product_id": "INTEGER", "name": "VARCHAR", "department": "VARCHAR"}),
        "CREATE TABLE review AS SELECT * FROM "
        + _read_csv(data_dir, "review", {"id": "INTEGER", "text": "VARCHAR", "spam": "INTEGER"}),
        "CREATE TABLE product_rating AS SELECT * FROM "
        + _read_csv(data_dir, "product_rating", {"userid": "INTEGER", "productid": "INTEGER", "rating": "INTEGER"}),
        f"""CREATE TABLE order_o AS SELECT
              CAST(i AS INTEGER) AS o_order_id,
              CAST(1 + floor({u('i')} * {N_CUSTOMERS}) AS INTEGER) AS o_customer_sk,
              dayname(d) AS weekday, d AS o_date,
              CAST(1 + floor({u('i')} * {n['stores']}) AS INTEGER) AS store
            FROM (SELECT i, CAST(DATE '{FIRST_DAY}' + CAST(floor({u('i')} * {N_DAYS}) AS INTEGER) AS DATE) AS d
                  FROM range(1, {n['orders'] + 1}) AS t(i)) AS o
            ORDER BY o_order_id""",
        # ~5 lines per order; products log-uniform (Zipf-like); quantity geometric in 1..10; price
        # log-normal (median $15) times a yearly seasonal factor whose phase depends on the department.
        f"""CREATE TABLE ai_lineitem AS SELECT
              li_order_id, li_product_id, quantity,
              round(base_price * (1 + 0.5 * sin(2 * pi() * dayofyear(o_date) / 365.25
                                                 + (hash(department) % 628) / 100.0)), 2) AS price
            FROM (SELECT o_order_id AS li_order_id, o_date,
                    CAST(least({N_PRODUCTS}, floor(exp({u('lk')} * ln({N_PRODUCTS + 1})))) AS INTEGER) AS li_product_id,
                    CAST(least(10, 1 + floor(ln(1 - {u('lk')}) / ln(0.6))) AS INTEGER) AS quantity,
                    15 * exp(0.6 * sqrt(-2 * ln(1 - {u('lk')})) * cos(2 * pi() * {u('lk')})) AS base_price
                  FROM (SELECT *, CAST(o_order_id AS BIGINT) * 16 + ln AS lk FROM order_o
                        JOIN range(1, 10) AS r(ln) ON ln <= 1 + floor({u('o_order_id')} * 9)) AS k) AS l
            JOIN product ON p_product_id = li_product_id
            ORDER BY li_order_id""",
    ]


TRAINING_SQL = {
    # UC03: weekly sales per (store, department); the week is the Monday starting it.
    "uc03": """SELECT store, department, CAST(date_trunc('week', o_date) AS DATE) AS week,
                      sum(quantity * price) AS weekly_sales
               FROM order_o
               JOIN ai_lineitem ON o_order_id = li_order_id
               JOIN product ON li_product_id = p_product_id
               GROUP BY store, department, week
               ORDER BY store, department, week""",
    # UC04: TPCx-AI trains on a separate training set; here every other review.
    "uc04": "SELECT text, spam FROM review WHERE id % 2 = 0 ORDER BY id",
    "uc07": "SELECT userid, productid, rating FROM product_rating ORDER BY userid, productid",
}


def _train_q6(data_dir, out, seed):
    import warnings

    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    df = pd.read_csv(os.path.join(data_dir, "train_uc03.csv"), parse_dates=["week"], keep_default_na=False)
    weeks = pd.date_range(df["week"].min(), df["week"].max(), freq="W-MON")
    models = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings on the sparser pairs
        for (store, dept), g in df.groupby(["store", "department"], sort=True):
            # Weeks without sales count as 0, so that every pair has the full >= 104 weeks.
            y = g.set_index("week")["weekly_sales"].reindex(weeks, fill_value=0.0).astype(float)
            y.index.freq = "W-MON"
            models[(int(store), str(dept))] = ExponentialSmoothing(
                y, seasonal="add", seasonal_periods=52).fit()
    joblib.dump({"models": models, "ts_max": weeks.max()}, os.path.join(out, "uc03.joblib"))


def _train_q7(data_dir, out, seed):
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import Pipeline

    df = pd.read_csv(os.path.join(data_dir, "train_uc04.csv"), keep_default_na=False).drop_duplicates()
    pipe = Pipeline([
        ("vect", CountVectorizer(stop_words="english", ngram_range=(1, 2), decode_error="replace")),
        ("tfidf", TfidfTransformer()),
        ("clf", MultinomialNB()),
    ]).fit(df["text"], df["spam"])
    joblib.dump(pipe, os.path.join(out, "uc04.joblib"))


def _scatter_add(target, idx, values):
    """target[idx] += values, summing repeated indices (np.add.at is ~10x slower)."""
    order = np.argsort(idx, kind="stable")
    sorted_idx = idx[order]
    starts = np.concatenate([[0], np.flatnonzero(sorted_idx[1:] != sorted_idx[:-1]) + 1])
    target[sorted_idx[starts]] += np.add.reduceat(values[order], starts, axis=0)


def _train_q8(data_dir, out, seed):
    """The original: surprise.SVD() with its defaults, fit on the full trainset of (user, product,
    rating) on the default 1-5 scale; random_state makes the factors' initialisation reproducible."""
    import surprise
    df = pd.read_csv(os.path.join(data_dir, "train_uc07.csv"))
    data = surprise.Dataset.load_from_df(df[["userid", "productid", "rating"]],
                                         surprise.Reader(rating_scale=(1, 5)))
    model = surprise.SVD(random_state=seed).fit(data.build_full_trainset())
    joblib.dump(model, os.path.join(out, "uc07_svd.joblib"))


def _train_q8_debian(data_dir, out, seed):
    """Biased SVD as Surprise's SVD(), fitted by shuffled mini-batch SGD with summed per-rating
    updates (per-rating SGD in Python would take minutes); the artifact holds the raw-to-inner id
    maps, as a Surprise trainset does."""
    df = pd.read_csv(os.path.join(data_dir, "train_uc07.csv"))
    users, u_idx = np.unique(df["userid"].to_numpy(), return_inverse=True)
    items, i_idx = np.unique(df["productid"].to_numpy(), return_inverse=True)
    r = df["rating"].to_numpy(dtype=np.float64)
    rng = np.random.default_rng(seed)
    mu = r.mean()
    bu, bi = np.zeros(len(users)), np.zeros(len(items))
    pu = rng.normal(0, 0.1, (len(users), N_FACTORS))
    qi = rng.normal(0, 0.1, (len(items), N_FACTORS))
    batch = 512
    for _ in range(SVD_EPOCHS):
        order = rng.permutation(len(r))
        for s in range(0, len(r), batch):
            b = order[s:s + batch]
            u, i = u_idx[b], i_idx[b]
            err = r[b] - (mu + bu[u] + bi[i] + (pu[u] * qi[i]).sum(axis=1))
            gu = SVD_LR * (err[:, None] * qi[i] - SVD_REG * pu[u])
            gi = SVD_LR * (err[:, None] * pu[u] - SVD_REG * qi[i])
            _scatter_add(bu, u, SVD_LR * (err - SVD_REG * bu[u]))
            _scatter_add(bi, i, SVD_LR * (err - SVD_REG * bi[i]))
            _scatter_add(pu, u, gu)
            _scatter_add(qi, i, gi)
    joblib.dump({"mu": float(mu), "bu": bu, "bi": bi, "pu": pu, "qi": qi,
                 "uid": {int(x): k for k, x in enumerate(users)},
                 "iid": {int(x): k for k, x in enumerate(items)}},
                os.path.join(out, "uc07.joblib"))


def train(data_dir, model_dir, seed, models="original"):
    _train_q6(data_dir, model_out(model_dir, "q6"), seed)
    _train_q7(data_dir, model_out(model_dir, "q7"), seed)
    fit_q8 = _train_q8_debian if models == "debian" else _train_q8
    fit_q8(data_dir, model_out(model_dir, "q8", models), seed)


_Q6_INNER = """SELECT store, department
FROM order_o
JOIN ai_lineitem ON o_order_id = li_order_id
JOIN product ON li_product_id = p_product_id
GROUP BY store, department"""

_Q8_DEDUP = "SELECT userid, productid FROM product_rating GROUP BY userid, productid"

QUERIES = [
    Query(
        name="Q6", dataset="tpcxai", udf="q6", args="INTEGER, VARCHAR", returns="VARCHAR",
        sql=f"""SELECT store, department, {{udf}}(store, department) AS forecast
FROM ({_Q6_INNER}) AS sd""",
        inputs_sql=f"SELECT store, department\nFROM ({_Q6_INNER}) AS sd",
        note="TPCx-AI UC03. Synthetic: 10 x scale stores (>= 1) x 68 departments = 680 pairs at scale 1, "
             "600 k orders x scale (>= 20 k; ~2.7 M at SF10), ~5 lines per order, 130 weeks; the lineitem "
             "table is named ai_lineitem and the order date o_date (DATE). One Holt-Winters model per "
             "pair, stored as a plain dict (not a UseCase03Model object). The UDF returns "
             "'store|department|first forecast week|52 weekly forecasts (1 decimal, ';'-separated)' "
             "instead of str(dict).",
    ),
    Query(
        name="Q7", dataset="tpcxai", udf="q7", args="VARCHAR", returns="INTEGER",
        sql="SELECT id, {udf}(text) AS spam FROM review",
        inputs_sql="SELECT text\nFROM review",
        note="TPCx-AI UC04. Synthetic reviews (16 k x scale, >= 200; 20-300 Zipf tokens over a 10^5-word "
             "vocabulary, 15% spam from a shifted distribution); the pipeline is trained on the even ids. "
             "The table keeps the spam label column.",
    ),
    Query(
        name="Q8", dataset="tpcxai", udf="q8", args="INTEGER, INTEGER", returns="DOUBLE",
        sql=f"""SELECT userid, productid, score, r
FROM (SELECT userid, productid, score,
             rank() OVER (PARTITION BY userid ORDER BY score) AS r
      FROM (SELECT userid, productid, {{udf}}(userid, productid) AS score
            FROM ({_Q8_DEDUP}) AS d) AS s) AS ranked
WHERE r <= 10""",
        inputs_sql=f"SELECT userid, productid\nFROM ({_Q8_DEDUP}) AS d",
        note="TPCx-AI UC07. Synthetic ratings: 35 k x scale users (>= 40) x 5-20 products "
             "(~425 k distinct pairs at scale 1 vs ~75-80 k in the paper, so that the per-row Python loop "
             "takes > 0.5 s). surprise.SVD() with its defaults (random_state = seed), one "
             "predict(u, i).est per row as the original, stored with joblib. --models debian: a NumPy "
             "biased SVD (100 factors, Surprise's defaults, fitted by mini-batch SGD) predicting "
             "mu + b_u + b_i + q_i.p_u clipped to 1-5, once per row in a Python loop. Ranking ascending as the SQL original (TPCx-AI/EvaDB keep "
             "the top 10 descending).",
    ),
]
