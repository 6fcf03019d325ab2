// CALL imlane_create_function(name, source, arg_types, return_type): registers an AI function with
// the coordinator (which loads its code and runs its one-off initialisation, so broken code fails
// here), then creates its scalar function (function/imlane_scalar_function) in the system catalog.
// Returns one row: name, version, signature, executors.
#pragma once

#include "duckdb.hpp"
#include "duckdb/function/table_function.hpp"

namespace imlane {
namespace duckdb_integration {

struct IMLaneCreateFunction {
  static duckdb::TableFunction GetFunction();
};

}  // namespace duckdb_integration
}  // namespace imlane
