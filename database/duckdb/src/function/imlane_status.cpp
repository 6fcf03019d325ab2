#include "function/imlane_status.hpp"

#include "function/run_once_table_function.hpp"
#include "imlane_state.hpp"

namespace imlane {
namespace duckdb_integration {

using namespace duckdb;  // NOLINT: DuckDB glue

namespace {

unique_ptr<FunctionData> StatusBind(ClientContext &, TableFunctionBindInput &, vector<LogicalType> &types,
                                    vector<string> &names) {
  names = {"status"};
  types = {LogicalType::VARCHAR};
  return make_uniq<TableFunctionData>();
}

void StatusExecute(ClientContext &context, TableFunctionInput &input, DataChunk &output) {
  if (!input.global_state->Cast<RunOnceState>().First()) return;
  auto ctx = GetState(context).Context(context);
  if (!ctx.ok()) ThrowStatus(ctx.status());
  auto status = (*ctx)->CoordinatorStatus();
  if (!status.ok()) ThrowStatus(status.status());
  output.SetCardinality(1);
  output.SetValue(0, 0, Value(*status));
}

}  // namespace

TableFunction IMLaneStatusFunction::GetFunction() {
  return TableFunction("imlane_status", {}, StatusExecute, StatusBind, RunOnceInit);
}

}  // namespace duckdb_integration
}  // namespace imlane
