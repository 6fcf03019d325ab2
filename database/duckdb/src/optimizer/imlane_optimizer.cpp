#include "optimizer/imlane_optimizer.hpp"

#include "duckdb/optimizer/optimizer.hpp"
#include "duckdb/planner/operator/logical_aggregate.hpp"
#include "optimizer/predict_aggregate_hoister.hpp"
#include "optimizer/predict_filter_reuse.hpp"
#include "optimizer/predict_limit_guard.hpp"
#include "optimizer/predict_rewriter.hpp"
#include "optimizer/predict_scan_filter.hpp"

namespace imlane {
namespace duckdb_integration {

using namespace duckdb;  // NOLINT: DuckDB glue

static void Rewrite(Binder &binder, unique_ptr<LogicalOperator> &op) {
  for (auto &child : op->children) Rewrite(binder, child);
  if (op->children.size() == 1 && PredictLimitGuard::LimitInPipeline(*op->children[0])) return;
  if (op->type == LogicalOperatorType::LOGICAL_PROJECTION) {
    PredictFilterReuse::Apply(binder, *op);
    PredictRewriter::RewriteProjection(op);
    return;
  }
  if (op->type == LogicalOperatorType::LOGICAL_AGGREGATE_AND_GROUP_BY) {
    PredictAggregateHoister::Apply(binder, op->Cast<LogicalAggregate>());
    return;
  }
  PredictScanFilter::PullUp(op);  // a scan with IMLane predicates pushed into it becomes filter + scan
  PredictRewriter::RewriteFilter(op);
}

void IMLaneOptimizer::Optimize(OptimizerExtensionInput &input, unique_ptr<LogicalOperator> &plan) {
  Rewrite(input.optimizer.binder, plan);
}

void IMLaneOptimizer::Register(DatabaseInstance &db) {
  OptimizerExtension ext;
  ext.optimize_function = Optimize;
  DBConfig::GetConfig(db).optimizer_extensions.push_back(std::move(ext));
}

}  // namespace duckdb_integration
}  // namespace imlane
