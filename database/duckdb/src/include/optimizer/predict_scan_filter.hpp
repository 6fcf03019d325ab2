// Takes IMLane predicates back out of a table scan into a filter above it, which the rewriter then
// turns into a prediction filter.
//
// DuckDB 1.4 pushes a non-volatile single-column predicate such as `WHERE fraud(a) > 0.5` into the
// scan as an ExpressionFilter. The scan then evaluates it one vector at a time on the scanning
// thread, so a table scanned by one thread (up to a row group, 122,880 rows) kept one executor busy
// while the others idled: half the speed of the same function in the SELECT list on two executors.
#pragma once

#include "duckdb.hpp"
#include "duckdb/planner/logical_operator.hpp"

namespace imlane {
namespace duckdb_integration {

struct PredictScanFilter {
  // When `op` is a table scan with pushed-down filters calling IMLane functions: moves those filters
  // into a LogicalFilter over the scan (adding the column to the scan's output if only the filter
  // read it, hidden again by the filter's projection map) and returns true; `op` is the filter.
  static bool PullUp(duckdb::unique_ptr<duckdb::LogicalOperator> &op);
};

}  // namespace duckdb_integration
}  // namespace imlane
