#include "optimizer/predict_rewriter.hpp"

#include "duckdb/planner/operator/logical_filter.hpp"
#include "duckdb/planner/operator/logical_projection.hpp"
#include "function/imlane_scalar_function.hpp"
#include "operator/logical_predict.hpp"

namespace imlane {
namespace duckdb_integration {

using namespace duckdb;  // NOLINT: DuckDB glue

bool PredictRewriter::RewriteProjection(unique_ptr<LogicalOperator> &op) {
  if (op->type != LogicalOperatorType::LOGICAL_PROJECTION || !ContainsIMLane(op->expressions)) return false;
  op = LogicalPredict::FromProjection(op->Cast<LogicalProjection>());
  op->ResolveOperatorTypes();
  return true;
}

bool PredictRewriter::RewriteFilter(unique_ptr<LogicalOperator> &op) {
  if (op->type != LogicalOperatorType::LOGICAL_FILTER || !ContainsIMLane(op->expressions)) return false;
  auto &filter = op->Cast<LogicalFilter>();
  filter.SplitPredicates();
  // Cheap predicates first: the model only sees rows that pass them.
  vector<unique_ptr<Expression>> cheap, predict;
  for (auto &e : filter.expressions) (ContainsIMLane(*e) ? predict : cheap).push_back(std::move(e));
  unique_ptr<LogicalOperator> child = std::move(filter.children[0]);
  if (!cheap.empty()) {
    auto pre = make_uniq<LogicalFilter>();
    pre->expressions = std::move(cheap);
    pre->children.push_back(std::move(child));
    pre->ResolveOperatorTypes();
    child = std::move(pre);
  }
  auto cardinality = filter.estimated_cardinality;
  op = LogicalPredict::FromFilter(std::move(predict), filter.projection_map, std::move(child), cardinality);
  op->ResolveOperatorTypes();
  return true;
}

}  // namespace duckdb_integration
}  // namespace imlane
