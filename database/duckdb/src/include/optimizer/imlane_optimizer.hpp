// The optimizer extension that plans IMLane calls into the prediction operator. It runs after
// DuckDB's own optimizers and applies, bottom-up, to each operator:
//   1. PredictLimitGuard: nothing above a streaming LIMIT in the same pipeline;
//   2. PredictFilterReuse: a projection reuses the results of the prediction filter below it;
//   3. PredictRewriter: projections and filters that call IMLane become LogicalPredict;
//   4. PredictAggregateHoister: calls inside an aggregate move into a prediction projection.
#pragma once

#include "duckdb.hpp"
#include "duckdb/optimizer/optimizer_extension.hpp"

namespace imlane {
namespace duckdb_integration {

struct IMLaneOptimizer {
  // Pushed into the database's DBConfig: an extension in the constructor's DBConfig did not run.
  static void Register(duckdb::DatabaseInstance &db);
  static void Optimize(duckdb::OptimizerExtensionInput &input, duckdb::unique_ptr<duckdb::LogicalOperator> &plan);
};

}  // namespace duckdb_integration
}  // namespace imlane
