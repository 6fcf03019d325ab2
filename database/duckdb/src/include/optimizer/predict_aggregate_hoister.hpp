// IMLane calls inside an aggregate (groups or aggregate arguments: GROUP BY f(x), SUM(f(x))), which
// the aggregate would otherwise evaluate per DuckDB vector, are hoisted into a new projection below
// it, which becomes a prediction projection (LogicalPredict). A ColumnBindingReplacer redirects the
// aggregate's other references to its child through pass-through columns of that projection.
#pragma once

#include "duckdb.hpp"
#include "duckdb/planner/binder.hpp"
#include "duckdb/planner/operator/logical_aggregate.hpp"

namespace imlane {
namespace duckdb_integration {

struct PredictAggregateHoister {
  // True when `aggregate` called IMLane functions and now reads them from a prediction projection.
  static bool Apply(duckdb::Binder &binder, duckdb::LogicalAggregate &aggregate);
};

}  // namespace duckdb_integration
}  // namespace imlane
