"""imlane: write AI functions for IMLane, and test them without a database.

An AI function is Python code that a database calls once per batch of rows, with one numpy array
per SQL argument, and that returns one value per row. Two styles work:

    # IMBridge's staged style: pyinitial() once per executor, pyfun() per batch.
    def pyinitial():
        global model
        model = load_model()
    def pyfun(amount, hour):
        return model.predict(np.column_stack([amount, hour]))

    # The class style, with declared SQL types:
    import imlane

    @imlane.function(args=["DOUBLE", "DOUBLE"], returns="INTEGER")
    class Fraud:
        def __init__(self):                 # once per executor: the one-off context
            self.model = load_model()
        def __call__(self, amount, hour):   # once per batch
            return self.model.predict(np.column_stack([amount, hour]))

Register it in DuckDB with
    CALL imlane_create_function('fraud', 'fraud.py', 'DOUBLE, DOUBLE', 'INTEGER');
and test it locally with imlane.run_local (see its docstring).

From DuckDB's Python package (a notebook), with the imlane.duckdb_extension built:

    con = imlane.connect()
    imlane.create_function(con, "fraud", Fraud)   # or a lambda / closure over a fitted model
    con.sql("SELECT fraud(amount, hour) AS f FROM t").df()
"""

from .function import SQL_TYPES, function, signature_of
from .local import LocalFunction, run_local
from .duckdb_api import connect, create_function, drop_function, find_extension, functions, load, status

__all__ = ["function", "run_local", "LocalFunction", "signature_of", "SQL_TYPES", "connect", "load",
           "create_function", "drop_function", "functions", "find_extension", "status"]
__version__ = "0.1.0"
