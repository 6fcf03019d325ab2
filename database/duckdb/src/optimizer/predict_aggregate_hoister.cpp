#include "optimizer/predict_aggregate_hoister.hpp"

#include <functional>

#include "duckdb/optimizer/column_binding_replacer.hpp"
#include "duckdb/planner/expression/bound_columnref_expression.hpp"
#include "duckdb/planner/expression_iterator.hpp"
#include "duckdb/planner/operator/logical_projection.hpp"
#include "function/imlane_scalar_function.hpp"
#include "operator/logical_predict.hpp"

namespace imlane {
namespace duckdb_integration {

using namespace duckdb;  // NOLINT: DuckDB glue

// Moves the IMLane calls inside `targets` (expressions of `op`, which reads its only child) into a
// new prediction projection between `op` and its child.
static void HoistIntoProjection(Binder &binder, LogicalOperator &op, const vector<unique_ptr<Expression> *> &targets) {
  auto &child = op.children[0];
  child->ResolveOperatorTypes();
  auto bindings = child->GetColumnBindings();
  const idx_t index = binder.GenerateTableIndex();
  vector<unique_ptr<Expression>> select;
  ColumnBindingReplacer replacer;
  for (idx_t i = 0; i < bindings.size(); i++) {
    select.push_back(make_uniq<BoundColumnRefExpression>(child->types[i], bindings[i]));
    replacer.replacement_bindings.emplace_back(bindings[i], ColumnBinding(index, i));
  }
  const idx_t width = select.size();
  std::function<void(unique_ptr<Expression> &)> hoist = [&](unique_ptr<Expression> &e) {
    if (e->GetExpressionClass() == ExpressionClass::BOUND_FUNCTION &&
        IsIMLaneFunction(e->Cast<BoundFunctionExpression>())) {
      idx_t pos = e->IsVolatile() ? select.size() : width;  // VOLATILE calls are never shared
      while (pos < select.size() && !select[pos]->Equals(*e)) pos++;
      if (pos == select.size()) select.push_back(e->Copy());
      e = make_uniq<BoundColumnRefExpression>(e->return_type, ColumnBinding(index, pos));
      return;
    }
    ExpressionIterator::EnumerateChildren(*e, hoist);
  };
  for (auto *t : targets) hoist(*t);
  auto projection = make_uniq<LogicalProjection>(index, std::move(select));
  projection->children.push_back(std::move(child));
  replacer.stop_operator = projection.get();
  op.children[0] = std::move(projection);
  // What `op` read from its child it now reads through the projection's pass-through columns.
  replacer.VisitOperator(op);
  op.children[0]->ResolveOperatorTypes();
  op.children[0] = LogicalPredict::FromProjection(op.children[0]->Cast<LogicalProjection>());
  op.children[0]->ResolveOperatorTypes();
  op.ResolveOperatorTypes();
}

bool PredictAggregateHoister::Apply(Binder &binder, LogicalAggregate &aggregate) {
  vector<unique_ptr<Expression> *> targets;
  for (auto &g : aggregate.groups) {
    if (ContainsIMLane(*g)) targets.push_back(&g);
  }
  for (auto &e : aggregate.expressions) {
    if (ContainsIMLane(*e)) targets.push_back(&e);
  }
  if (targets.empty()) return false;
  HoistIntoProjection(binder, aggregate, targets);
  return true;
}

}  // namespace duckdb_integration
}  // namespace imlane
