// SELECT f(x) ... WHERE f(x) = 1: the projection reads f(x) from the prediction filter below it
// instead of calling the model a second time for every row that passed. The filter outputs the
// call's result as an extra column (LogicalPredict::Export) and the projection's call becomes a
// reference to it.
#pragma once

#include "duckdb.hpp"
#include "duckdb/planner/binder.hpp"
#include "duckdb/planner/logical_operator.hpp"

namespace imlane {
namespace duckdb_integration {

struct PredictFilterReuse {
  // `projection` is a LogicalProjection; does nothing unless its child is a prediction filter.
  static void Apply(duckdb::Binder &binder, duckdb::LogicalOperator &projection);
};

}  // namespace duckdb_integration
}  // namespace imlane
