// imlane.duckdb_extension's entry point: DuckDB calls it on `LOAD imlane` (or LOAD '/path/...').
// Loading into a database that already has IMLane (imlane-duckdb, a second LOAD) changes nothing.
#include "duckdb.hpp"
#include "duckdb/main/extension/extension_loader.hpp"
#include "imlane_duckdb.hpp"

extern "C" {
DUCKDB_CPP_EXTENSION_ENTRY(imlane, loader) { imlane::duckdb_integration::LoadIMLane(loader.GetDatabaseInstance()); }
}
