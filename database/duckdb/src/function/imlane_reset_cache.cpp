#include "function/imlane_reset_cache.hpp"

#include "function/run_once_table_function.hpp"
#include "imlane_state.hpp"

namespace imlane {
namespace duckdb_integration {

using namespace duckdb;  // NOLINT: DuckDB glue

namespace {

constexpr const char *kName = "imlane_reset_cache";

struct ResetBindData : public TableFunctionData {
  std::string name;  // "" = every function's objects
};

unique_ptr<FunctionData> ResetBind(ClientContext &, TableFunctionBindInput &input, vector<LogicalType> &types,
                                   vector<string> &names) {
  auto data = make_uniq<ResetBindData>();
  if (!input.inputs.empty()) data->name = StringArgument(input, 0, kName, "the function name");
  names = {"dropped"};
  types = {LogicalType::BIGINT};
  return std::move(data);
}

void ResetExecute(ClientContext &context, TableFunctionInput &input, DataChunk &output) {
  if (!input.global_state->Cast<RunOnceState>().First()) return;
  auto ctx = GetState(context).Context(context);
  if (!ctx.ok()) ThrowStatus(ctx.status());
  auto dropped = (*ctx)->ResetContextCache(input.bind_data->Cast<ResetBindData>().name);
  if (!dropped.ok()) ThrowStatus(dropped.status());
  output.SetCardinality(1);
  output.SetValue(0, 0, Value::BIGINT(*dropped));
}

}  // namespace

TableFunctionSet IMLaneResetCacheFunction::GetFunctions() {
  TableFunctionSet set(kName);
  set.AddFunction(TableFunction(kName, {}, ResetExecute, ResetBind, RunOnceInit));
  set.AddFunction(TableFunction(kName, {LogicalType::VARCHAR}, ResetExecute, ResetBind, RunOnceInit));
  return set;
}

}  // namespace duckdb_integration
}  // namespace imlane
