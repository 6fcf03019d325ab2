// Replaces a LogicalProjection or LogicalFilter whose expressions call an IMLane function with a
// LogicalPredict. A filter is split first: its predicates without IMLane calls stay in a plain
// filter below, so the model sees only rows that pass them.
#pragma once

#include "duckdb.hpp"
#include "duckdb/planner/logical_operator.hpp"

namespace imlane {
namespace duckdb_integration {

struct PredictRewriter {
  // True when `op` (a projection) called IMLane functions and is now a prediction projection.
  static bool RewriteProjection(duckdb::unique_ptr<duckdb::LogicalOperator> &op);
  // True when `op` (a filter) called IMLane functions and is now a prediction filter.
  static bool RewriteFilter(duckdb::unique_ptr<duckdb::LogicalOperator> &op);
};

}  // namespace duckdb_integration
}  // namespace imlane
