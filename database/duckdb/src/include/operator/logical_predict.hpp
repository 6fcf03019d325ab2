// LogicalPredict: a LogicalProjection or LogicalFilter whose expressions call IMLane functions,
// planned into PhysicalPredict (IMLANE_PREDICT_PROJECTION / IMLANE_PREDICT_FILTER).
//
// A projection keeps its table index and expressions. A filter keeps its predicates
// (expressions[0, num_predicates)) and projection map; expressions after the predicates are calls
// it also outputs, after its input columns, under a table index of its own (see Export).
#pragma once

#include "duckdb.hpp"
#include "duckdb/planner/binder.hpp"
#include "duckdb/planner/operator/logical_extension_operator.hpp"
#include "duckdb/planner/operator/logical_projection.hpp"

namespace imlane {
namespace duckdb_integration {

class LogicalPredict : public duckdb::LogicalExtensionOperator {
 public:
  // Takes the expressions and child of `proj`.
  static duckdb::unique_ptr<LogicalPredict> FromProjection(duckdb::LogicalProjection &proj);
  static duckdb::unique_ptr<LogicalPredict> FromFilter(
      duckdb::vector<duckdb::unique_ptr<duckdb::Expression>> predicates, duckdb::vector<duckdb::idx_t> projection_map,
      duckdb::unique_ptr<duckdb::LogicalOperator> child, duckdb::idx_t cardinality);

  duckdb::vector<duckdb::ColumnBinding> GetColumnBindings() override;
  duckdb::vector<duckdb::idx_t> GetTableIndex() const override;
  // Filter: makes the filter output `call` too (it must occur in a predicate); returns its binding.
  duckdb::ColumnBinding Export(duckdb::Binder &binder, const duckdb::Expression &call);
  duckdb::string GetExtensionName() const override { return "imlane"; }
  duckdb::string GetName() const override;
  duckdb::PhysicalOperator &CreatePlan(duckdb::ClientContext &context, duckdb::PhysicalPlanGenerator &planner) override;

  bool is_filter = false;
  duckdb::idx_t table_index = 0;     // projection: its bindings; filter: those of exported calls
  duckdb::idx_t num_predicates = 0;  // filter: expressions[0..num_predicates) are the predicates
  duckdb::vector<duckdb::idx_t> projection_map;

 protected:
  void ResolveTypes() override;
};

}  // namespace duckdb_integration
}  // namespace imlane
