// CALL imlane_reset_cache() / imlane_reset_cache('name'): empties the executors' inference-context
// caches (the memoised model loaders of holistic UDFs), or only what one function loaded.
#pragma once

#include "duckdb.hpp"
#include "duckdb/function/table_function.hpp"

namespace imlane {
namespace duckdb_integration {

struct IMLaneResetCacheFunction {
  static duckdb::TableFunctionSet GetFunctions();
};

}  // namespace duckdb_integration
}  // namespace imlane
