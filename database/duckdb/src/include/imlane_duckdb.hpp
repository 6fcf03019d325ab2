// IMLane for DuckDB, the entry point (imlane_duckdb.cpp): registers the SQL surface
// (imlane_create_function, imlane_drop_function, imlane_functions(), the imlane_* settings; see
// function/) and the optimizer extension that plans the prediction operator (optimizer/, operator/)
// into a database.
//
//   duckdb::DuckDB db("file.db");
//   imlane::duckdb_integration::LoadIMLane(*db.instance);
//   duckdb::Connection con(db);
//   con.Query("CALL imlane_create_function('fraud', 'fraud.py', 'DOUBLE, DOUBLE', 'INTEGER')");
//   con.Query("SELECT count(*) FROM t WHERE fraud(a, b) = 1");
#pragma once

namespace duckdb {
class DatabaseInstance;
}  // namespace duckdb

namespace imlane {
namespace duckdb_integration {

// Idempotent: loading twice into the same database does nothing the second time.
void LoadIMLane(duckdb::DatabaseInstance &db);

}  // namespace duckdb_integration
}  // namespace imlane
