// CALL imlane_drop_function(name): drops an AI function created with imlane_create_function, from
// the coordinator and from the system catalog. Returns one row: the dropped name.
#pragma once

#include "duckdb.hpp"
#include "duckdb/function/table_function.hpp"

namespace imlane {
namespace duckdb_integration {

struct IMLaneDropFunction {
  static duckdb::TableFunction GetFunction();
};

}  // namespace duckdb_integration
}  // namespace imlane
