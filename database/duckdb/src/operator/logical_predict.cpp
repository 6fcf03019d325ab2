#include "operator/logical_predict.hpp"

#include "duckdb/execution/physical_plan_generator.hpp"
#include "operator/physical_predict.hpp"

namespace imlane {
namespace duckdb_integration {

using namespace duckdb;  // NOLINT: DuckDB glue

unique_ptr<LogicalPredict> LogicalPredict::FromProjection(LogicalProjection &proj) {
  auto op = make_uniq<LogicalPredict>();
  op->is_filter = false;
  op->table_index = proj.table_index;
  op->expressions = std::move(proj.expressions);
  op->children = std::move(proj.children);
  op->estimated_cardinality = proj.estimated_cardinality;
  return op;
}

unique_ptr<LogicalPredict> LogicalPredict::FromFilter(vector<unique_ptr<Expression>> predicates,
                                                      vector<idx_t> projection_map, unique_ptr<LogicalOperator> child,
                                                      idx_t cardinality) {
  auto op = make_uniq<LogicalPredict>();
  op->is_filter = true;
  op->num_predicates = predicates.size();
  op->expressions = std::move(predicates);
  op->projection_map = std::move(projection_map);
  op->children.push_back(std::move(child));
  op->estimated_cardinality = cardinality;
  return op;
}

vector<ColumnBinding> LogicalPredict::GetColumnBindings() {
  if (!is_filter) return GenerateColumnBindings(table_index, expressions.size());
  auto bindings = MapBindings(children[0]->GetColumnBindings(), projection_map);
  for (idx_t j = num_predicates; j < expressions.size(); j++) bindings.emplace_back(table_index, j - num_predicates);
  return bindings;
}

vector<idx_t> LogicalPredict::GetTableIndex() const {
  return !is_filter || expressions.size() > num_predicates ? vector<idx_t>{table_index} : vector<idx_t>();
}

ColumnBinding LogicalPredict::Export(Binder &binder, const Expression &call) {
  if (expressions.size() == num_predicates) table_index = binder.GenerateTableIndex();
  idx_t j = num_predicates;
  while (j < expressions.size() && !expressions[j]->Equals(call)) j++;
  if (j == expressions.size()) expressions.push_back(call.Copy());
  return ColumnBinding(table_index, j - num_predicates);
}

string LogicalPredict::GetName() const { return is_filter ? "IMLANE_PREDICT_FILTER" : "IMLANE_PREDICT_PROJECTION"; }

PhysicalOperator &LogicalPredict::CreatePlan(ClientContext &, PhysicalPlanGenerator &planner) {
  auto &child = planner.CreatePlan(*children[0]);
  vector<unique_ptr<Expression>> exprs;
  for (auto &e : expressions) exprs.push_back(e->Copy());
  auto &op = planner.Make<PhysicalPredict>(types, estimated_cardinality, is_filter, std::move(exprs), num_predicates,
                                           projection_map, children[0]->types);
  op.children.push_back(child);
  return op;
}

void LogicalPredict::ResolveTypes() {
  if (is_filter) {
    types = MapTypes(children[0]->types, projection_map);
    for (idx_t j = num_predicates; j < expressions.size(); j++) types.push_back(expressions[j]->return_type);
  } else {
    types.clear();
    for (auto &e : expressions) types.push_back(e->return_type);
  }
}

}  // namespace duckdb_integration
}  // namespace imlane
