#include "optimizer/predict_filter_reuse.hpp"

#include <functional>

#include "duckdb/planner/expression/bound_columnref_expression.hpp"
#include "duckdb/planner/expression_iterator.hpp"
#include "function/imlane_scalar_function.hpp"
#include "operator/logical_predict.hpp"

namespace imlane {
namespace duckdb_integration {

using namespace duckdb;  // NOLINT: DuckDB glue

static bool ContainsEqual(const Expression &haystack, const Expression &needle) {
  if (haystack.Equals(needle)) return true;
  bool found = false;
  ExpressionIterator::EnumerateChildren(haystack,
                                        [&](const Expression &c) { found = found || ContainsEqual(c, needle); });
  return found;
}

void PredictFilterReuse::Apply(Binder &binder, LogicalOperator &projection) {
  auto &child = projection.children[0];
  if (child->type != LogicalOperatorType::LOGICAL_EXTENSION_OPERATOR) return;
  auto *filter = dynamic_cast<LogicalPredict *>(child.get());
  if (filter == nullptr || !filter->is_filter) return;
  std::function<void(unique_ptr<Expression> &)> reuse = [&](unique_ptr<Expression> &e) {
    // A VOLATILE call (side_effects) is its own evaluation: never the filter's result.
    if (e->GetExpressionClass() == ExpressionClass::BOUND_FUNCTION &&
        IsIMLaneFunction(e->Cast<BoundFunctionExpression>()) && !e->IsVolatile()) {
      for (idx_t p = 0; p < filter->num_predicates; p++) {
        if (ContainsEqual(*filter->expressions[p], *e)) {
          auto type = e->return_type;
          e = make_uniq<BoundColumnRefExpression>(type, filter->Export(binder, *e));
          return;
        }
      }
    }
    ExpressionIterator::EnumerateChildren(*e, reuse);
  };
  for (auto &e : projection.expressions) reuse(e);
  filter->ResolveOperatorTypes();
}

}  // namespace duckdb_integration
}  // namespace imlane
