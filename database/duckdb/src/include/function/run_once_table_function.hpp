// Helpers of the table functions used with CALL (imlane_create_function, imlane_drop_function):
// they act once and return one row, however often DuckDB calls their execute function.
#pragma once

#include <string>

#include "duckdb.hpp"
#include "duckdb/function/table_function.hpp"

namespace imlane {
namespace duckdb_integration {

struct RunOnceState : public duckdb::GlobalTableFunctionState {
  bool done = false;
  // True the first time only.
  bool First() {
    const bool first = !done;
    done = true;
    return first;
  }
};

inline duckdb::unique_ptr<duckdb::GlobalTableFunctionState> RunOnceInit(duckdb::ClientContext &,
                                                                        duckdb::TableFunctionInitInput &) {
  return duckdb::make_uniq<RunOnceState>();
}

// The i-th (constant) argument as a string; `function` and `what` name it in the error for NULL.
inline std::string StringArgument(duckdb::TableFunctionBindInput &input, duckdb::idx_t i, const char *function,
                                  const char *what) {
  if (input.inputs[i].IsNull()) throw duckdb::InvalidInputException("%s: %s must not be NULL", function, what);
  return input.inputs[i].ToString();
}

}  // namespace duckdb_integration
}  // namespace imlane
