"""Do two systems return the same rows? Results are CSV files with a header row; row order is not
compared (a query without ORDER BY may return its rows in any order), values are: floats within a
relative tolerance (sums in a different order, float32 vs float64 output), everything else exactly
after normalising PostgreSQL's and DuckDB's spellings of booleans and NULL.

write_rows writes such a file from columns of a UDF's arguments and results (bench/limit.py and
bench/peers/ray_data.py, whose rows are compared with each other), one spelling per SQL type."""
import csv
import math

REL_TOL = 1e-6
ABS_TOL = 1e-9
_BOOLS = {"t": "true", "f": "false", "true": "true", "false": "false"}


def _cell(text):
    if text in _BOOLS:
        return _BOOLS[text]
    try:
        v = float(text)
    except ValueError:
        return text
    return v if math.isfinite(v) else text


def _sort_key(row):
    # Floats are rounded for ordering only, so that 0.30000000000000004 and 0.3 sort alike.
    return tuple((0, float(f"{c:.6g}"), "") if isinstance(c, float) else (1, 0.0, c) for c in row)


def read_rows(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return [], []
    return rows[0], sorted(([_cell(c) for c in r] for r in rows[1:]), key=_sort_key)


def compare_csv(expected_path, actual_path):
    """None when equal, else a short description of the first difference."""
    _, expected = read_rows(expected_path)
    _, actual = read_rows(actual_path)
    if len(expected) != len(actual):
        return f"{len(actual)} rows instead of {len(expected)}"
    for i, (e, a) in enumerate(zip(expected, actual)):
        if len(e) != len(a):
            return f"row {i}: {len(a)} columns instead of {len(e)}"
        for x, y in zip(e, a):
            if isinstance(x, float) and isinstance(y, float):
                if not math.isclose(x, y, rel_tol=REL_TOL, abs_tol=ABS_TOL):
                    return f"row {i}: {a} instead of {e}"
            elif x != y:
                return f"row {i}: {a} instead of {e}"
    return None


def format_column(values, sql_type):
    """The CSV text of a column of values (a numpy array or a sequence) of SQL type sql_type. Floats
    print as repr (which round-trips), booleans as DuckDB's true/false, dates as YYYY-MM-DD, so two
    writers holding equal values write equal text."""
    items = values.tolist() if hasattr(values, "tolist") else list(values)  # numpy scalars -> Python
    t = sql_type.strip().upper()
    if t in ("DOUBLE", "FLOAT", "REAL"):
        return [repr(float(v)) for v in items]
    if t in ("INTEGER", "BIGINT", "SMALLINT", "TINYINT"):
        return [str(int(v)) for v in items]
    if t == "BOOLEAN":
        return ["true" if v else "false" for v in items]
    return [str(v) for v in items]  # VARCHAR; DATE (datetime.date prints as YYYY-MM-DD)


def write_rows(path, header, columns, types):
    """Writes columns (equal lengths) of the given SQL types as CSV with a header row."""
    if not (len(header) == len(columns) == len(types)):
        raise ValueError(f"write_rows: {len(header)} names, {len(columns)} columns, {len(types)} types")
    text = [format_column(c, t) for c, t in zip(columns, types)]
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")  # as DuckDB writes its CSV files
        w.writerow(header)
        w.writerows(zip(*text))
