// Runs a query like duckdb::Connection::Query, but lets the calling thread sleep while it has no task.
//
// DuckDB's client thread executes pipeline tasks itself and busy-waits whenever the other threads
// hold all of them. In a prediction query those threads mostly wait for IMLane executors, so the
// spinning client thread takes a core away from the executors (measured: about 40% slower batches
// with 2 executors on 2 cores). This runner steps the query with PendingQueryResult::ExecuteTask and
// backs off (20 us doubling to 0.5 ms) while no task is available. Interrupts, errors and the
// progress bar behave as with Connection::Query. imlane-duckdb uses it; engines embedding DuckDB
// with IMLane should too.
#pragma once

#include <string>

#include "duckdb.hpp"

namespace imlane {
namespace duckdb_integration {

duckdb::unique_ptr<duckdb::MaterializedQueryResult> RunQuery(duckdb::Connection &con,
                                                             duckdb::unique_ptr<duckdb::SQLStatement> statement);
// Every statement of `sql` in turn; returns the last result, or the first error.
duckdb::unique_ptr<duckdb::MaterializedQueryResult> RunQuery(duckdb::Connection &con, const std::string &sql);

}  // namespace duckdb_integration
}  // namespace imlane
