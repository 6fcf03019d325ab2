// CALL imlane_drop_function(name [, if_exists := true]): drops an AI function created with
// imlane_create_function, from the coordinator and from the system catalog. Returns one row: the
// dropped name. A name IMLane does not know is an error, unless if_exists: then no row.
#pragma once

#include "duckdb.hpp"
#include "duckdb/function/table_function.hpp"

namespace imlane {
namespace duckdb_integration {

struct IMLaneDropFunction {
  // GetFunction(true): if_exists defaults to true (DROP PYTHON_UDF IF EXISTS: a parser extension's
  // plan passes no named parameters). The catalog holds GetFunction().
  static duckdb::TableFunction GetFunction(bool if_exists = false);
};

}  // namespace duckdb_integration
}  // namespace imlane
