// SELECT status FROM imlane_status(): the coordinator's status document (`imlane status --json`:
// executors, Lanes, functions) as one JSON value, for tools such as imlane.status() in Python.
#pragma once

#include "duckdb.hpp"
#include "duckdb/function/table_function.hpp"

namespace imlane {
namespace duckdb_integration {

struct IMLaneStatusFunction {
  static duckdb::TableFunction GetFunction();
};

}  // namespace duckdb_integration
}  // namespace imlane
