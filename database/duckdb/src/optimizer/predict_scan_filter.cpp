#include "optimizer/predict_scan_filter.hpp"

#include <algorithm>

#include "duckdb/planner/expression/bound_columnref_expression.hpp"
#include "duckdb/planner/operator/logical_filter.hpp"
#include "duckdb/planner/operator/logical_get.hpp"
#include "duckdb/planner/table_filter.hpp"
#include "function/imlane_scalar_function.hpp"

namespace imlane {
namespace duckdb_integration {

using namespace duckdb;  // NOLINT: DuckDB glue

bool PredictScanFilter::PullUp(unique_ptr<LogicalOperator> &op) {
  if (op->type != LogicalOperatorType::LOGICAL_GET) return false;
  auto &get = op->Cast<LogicalGet>();
  const auto &column_ids = get.GetColumnIds();
  // A scan that also reads row ids is one side of DuckDB's late materialization (ORDER BY ... LIMIT):
  // left alone, its predicate stays in the scan (taking it out failed there: "Unimplemented type for
  // generate sequence"), as a LIMIT keeps its pipeline on the per-vector path anyway.
  for (auto &id : column_ids) {
    if (id.IsVirtualColumn()) return false;
  }
  const idx_t outputs = get.projection_ids.empty() ? column_ids.size() : get.projection_ids.size();
  vector<unique_ptr<Expression>> pulled;
  auto &filters = get.table_filters.filters;
  for (auto it = filters.begin(); it != filters.end();) {
    // Keyed by the table's column index; the scan reads it at position scan_column of column_ids.
    idx_t scan_column = column_ids.size();
    for (idx_t j = 0; j < column_ids.size(); j++) {
      if (column_ids[j].GetPrimaryIndex() == it->first) scan_column = j;
    }
    if (scan_column == column_ids.size()) {
      ++it;
      continue;
    }
    const LogicalType &type = get.GetColumnType(column_ids[scan_column]);
    // A scan's bindings name column_ids positions (LogicalGet::GetColumnBindings), whether or not
    // projection_ids select them; a column only the filter read is appended to the projection below.
    BoundColumnRefExpression column(type, ColumnBinding(get.table_index, scan_column));
    auto predicate = it->second->ToExpression(column);
    if (!ContainsIMLane(*predicate)) {
      ++it;
      continue;
    }
    if (!get.projection_ids.empty() &&
        std::find(get.projection_ids.begin(), get.projection_ids.end(), scan_column) == get.projection_ids.end()) {
      get.projection_ids.push_back(scan_column);
    }
    pulled.push_back(std::move(predicate));
    it = filters.erase(it);
  }
  if (pulled.empty()) return false;
  auto filter = make_uniq<LogicalFilter>();
  filter->expressions = std::move(pulled);
  if (filters.empty() && !get.projection_ids.empty()) {
    // DuckDB's scan applies projection_ids only while it has filters: without any it returns every
    // column_ids column, in that order. The filter's projection map keeps the ones the scan returned.
    filter->projection_map.assign(get.projection_ids.begin(), get.projection_ids.begin() + outputs);
    get.projection_ids.clear();
  } else {
    const idx_t now = get.projection_ids.empty() ? column_ids.size() : get.projection_ids.size();
    for (idx_t i = 0; now != outputs && i < outputs; i++) filter->projection_map.push_back(i);  // as before
  }
  get.ResolveOperatorTypes();
  filter->children.push_back(std::move(op));
  filter->ResolveOperatorTypes();
  op = std::move(filter);
  return true;
}

}  // namespace duckdb_integration
}  // namespace imlane
