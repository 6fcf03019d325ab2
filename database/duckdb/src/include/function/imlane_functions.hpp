// SELECT * FROM imlane_functions(): the coordinator's registry and per-function statistics (name,
// version, signature, source, executors, batches, rows, mean_batch_rows, busy_s, errors).
#pragma once

#include "duckdb.hpp"
#include "duckdb/function/table_function.hpp"

namespace imlane {
namespace duckdb_integration {

struct IMLaneFunctionsFunction {
  static duckdb::TableFunction GetFunction();
};

}  // namespace duckdb_integration
}  // namespace imlane
