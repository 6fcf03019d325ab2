// Keeps the prediction operator out of pipelines that a streaming LIMIT may stop early.
//
// DuckDB 1.4's pipeline executor skips FinalExecute of the operators after one that ends the
// pipeline early, which would lose the rows the prediction operator holds back until its batch is
// full. Projections and filters whose pipeline contains a LIMIT keep the per-vector scalar path
// (a LIMIT needs few rows anyway).
#pragma once

#include "duckdb.hpp"
#include "duckdb/planner/logical_operator.hpp"

namespace imlane {
namespace duckdb_integration {

struct PredictLimitGuard {
  // True when a LIMIT may stop the pipeline that an operator reading `child` would run in.
  static bool LimitInPipeline(duckdb::LogicalOperator &child);
};

}  // namespace duckdb_integration
}  // namespace imlane
