#include "query_runner.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

namespace imlane {
namespace duckdb_integration {

using namespace duckdb;  // NOLINT: DuckDB glue

static unique_ptr<MaterializedQueryResult> RunPending(Connection &con, unique_ptr<SQLStatement> statement) {
  auto pending = con.PendingQuery(std::move(statement), false);
  if (pending->HasError()) return make_uniq<MaterializedQueryResult>(pending->GetErrorObject());
  int64_t idle_us = 0;
  while (true) {
    const PendingExecutionResult r = pending->ExecuteTask();
    if (r == PendingExecutionResult::EXECUTION_ERROR) {
      // The error itself, with its class; Execute() would replace it by "Attempting to execute an
      // unsuccessful or closed pending query result".
      return make_uniq<MaterializedQueryResult>(pending->GetErrorObject());
    }
    if (PendingQueryResult::IsResultReady(r)) break;
    if (r == PendingExecutionResult::NO_TASKS_AVAILABLE || r == PendingExecutionResult::BLOCKED) {
      idle_us = std::min<int64_t>(500, std::max<int64_t>(20, idle_us * 2));
      std::this_thread::sleep_for(std::chrono::microseconds(idle_us));
    } else {
      idle_us = 0;  // a task ran: stay responsive
    }
  }
  auto result = pending->Execute();
  if (result->HasError()) return make_uniq<MaterializedQueryResult>(result->GetErrorObject());
  return unique_ptr_cast<QueryResult, MaterializedQueryResult>(std::move(result));
}

unique_ptr<MaterializedQueryResult> RunQuery(Connection &con, unique_ptr<SQLStatement> statement) {
  try {
    return RunPending(con, std::move(statement));
  } catch (std::exception &e) {  // as Connection::Query: errors are results, never exceptions
    return make_uniq<MaterializedQueryResult>(ErrorData(e));
  }
}

unique_ptr<MaterializedQueryResult> RunQuery(Connection &con, const std::string &sql) {
  vector<unique_ptr<SQLStatement>> statements;
  try {
    statements = con.ExtractStatements(sql);
  } catch (std::exception &e) {
    return make_uniq<MaterializedQueryResult>(ErrorData(e));
  }
  if (statements.empty()) return make_uniq<MaterializedQueryResult>(ErrorData("no statement in the query"));
  unique_ptr<MaterializedQueryResult> last;
  for (auto &statement : statements) {
    last = RunQuery(con, std::move(statement));
    if (last->HasError()) break;
  }
  return last;
}

}  // namespace duckdb_integration
}  // namespace imlane
