"""The eight IMBridge prediction queries (Q1-Q8) of ../shared/bench/WORKLOADS.md, re-implemented.

One module per dataset (expedia, flights, creditcard, tpch, tpcxai). Each module defines:

  TABLES: list[str]
      the serving tables it creates (lower-case names, lower-case column names).
  generate_base(data_dir: str, scale: float, seed: int) -> None
      writes the base set as CSV files (header row, ',' separated, no index) into data_dir.
      Deterministic for a given (scale, seed). Runs under Debian's /usr/bin/python3 (numpy, pandas).
  build_sql(data_dir: str, scale: float, seed: int) -> list[str]
      DuckDB statements that create every table in TABLES from those CSV files (read_csv with explicit
      column types), replicating the base set the way the original expand scripts did. Deterministic.
      PostgreSQL gets the same rows: the runner copies each finished table out of DuckDB.
  TRAINING_SQL: dict[str, str]
      name -> DuckDB SELECT whose result the runner exports to <data_dir>/train_<name>.csv after
      build_sql ran (e.g. the joined base set a model is trained on).
  train(data_dir: str, model_dir: str, seed: int, models: str = "original") -> None
      trains the dataset's models from those CSV files and writes every artifact under model_dir
      (common.model_out: model_dir/<query lower-case>/...). models is the model set (run.py --models):
      "original" (the IMBridge frameworks, from PyPI) or "debian" (Debian-only stand-ins, written to
      model_dir/debian/<q>/); only Q1, Q5 and Q8 differ between the two, the other queries ignore it.
  QUERIES: list[Query]

UDF files live in bench/udfs/<q>_staged.py and <q>_holistic.py (q = "q1".."q8"); the Debian-only
variants of Q1, Q5 and Q8 in bench/udfs/debian/ (their artifacts under models/debian/). Both define the
IMBridge staged interface: pyinitial() and pyfun(*columns). The staged file loads every artifact once
in pyinitial(); the holistic file has an empty pyinitial() and loads everything inside pyfun() on
every call. The runner copies them to <out>/udfs/ (<out>/udfs/debian/), next to <out>/models/, so a
UDF finds its artifacts at os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models",
"<q>") (a Debian variant at "..", "..", "models", "debian", "<q>").
"""
from dataclasses import dataclass
from typing import Optional


@dataclass
class Query:
    name: str                 # "Q1"
    dataset: str              # module name in bench/workloads
    udf: str                  # "q1": bench/udfs/q1_staged.py and q1_holistic.py
    args: str                 # SQL argument types, as for imlane_create_function: "DOUBLE, VARCHAR"
    returns: str              # SQL return type: "INTEGER"
    sql: str                  # the prediction query; {udf} stands for the function's name.
                              # Must run unchanged on DuckDB 1.4 and PostgreSQL 15 unless pg_sql is set.
    inputs_sql: str           # SELECT of exactly the UDF's argument expressions, in order, for exactly
                              # the rows the UDF is evaluated on (the `limit` system's input)
    model_bound: bool = True  # the UDF dominates the query's time (checked against the limit)
    pg_sql: Optional[str] = None  # a PostgreSQL spelling of sql, only where the dialects differ
    note: str = ""            # deviations from the original query, for bench/README.md


def all_queries():
    """Q1..Q8 in order."""
    from . import creditcard, expedia, flights, tpch, tpcxai  # noqa: F401  (imported for QUERIES)
    found = []
    for mod in (expedia, flights, creditcard, tpch, tpcxai):
        found.extend(mod.QUERIES)
    return sorted(found, key=lambda q: int(q.name[1:]))


def dataset_module(name):
    import importlib
    return importlib.import_module(f"{__name__}.{name}")
