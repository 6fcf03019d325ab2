#include "optimizer/predict_limit_guard.hpp"

namespace imlane {
namespace duckdb_integration {

using namespace duckdb;  // NOLINT: DuckDB glue

bool PredictLimitGuard::LimitInPipeline(LogicalOperator &op) {
  switch (op.type) {
    case LogicalOperatorType::LOGICAL_LIMIT: return true;
    case LogicalOperatorType::LOGICAL_PROJECTION:
    case LogicalOperatorType::LOGICAL_FILTER:
    case LogicalOperatorType::LOGICAL_EXTENSION_OPERATOR:
    case LogicalOperatorType::LOGICAL_COMPARISON_JOIN:  // the probe side continues the pipeline
    case LogicalOperatorType::LOGICAL_DELIM_JOIN:
    case LogicalOperatorType::LOGICAL_ANY_JOIN: return !op.children.empty() && LimitInPipeline(*op.children[0]);
    default: return false;
  }
}

}  // namespace duckdb_integration
}  // namespace imlane
