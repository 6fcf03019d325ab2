#include "function/imlane_drop_function.hpp"

#include "duckdb/catalog/catalog.hpp"
#include "duckdb/parser/parsed_data/drop_info.hpp"
#include "function/run_once_table_function.hpp"
#include "imlane_state.hpp"

namespace imlane {
namespace duckdb_integration {

using namespace duckdb;  // NOLINT: DuckDB glue

namespace {

constexpr const char *kName = "imlane_drop_function";

struct DropBindData : public TableFunctionData {
  std::string name;
};

unique_ptr<FunctionData> DropBind(ClientContext &, TableFunctionBindInput &input, vector<LogicalType> &return_types,
                                  vector<string> &names) {
  auto data = make_uniq<DropBindData>();
  data->name = StringArgument(input, 0, kName, "the function name");
  names = {"dropped"};
  return_types = {LogicalType::VARCHAR};
  return std::move(data);
}

void DropExecute(ClientContext &context, TableFunctionInput &input, DataChunk &output) {
  if (!input.global_state->Cast<RunOnceState>().First()) return;
  auto &name = input.bind_data->Cast<DropBindData>().name;
  IMLaneState &state = GetState(context);
  {
    std::lock_guard<std::mutex> lock(state.mu);
    if (!state.functions.count(name)) throw InvalidInputException("%s: no IMLane function '%s'", kName, name);
  }
  auto ctx = state.Context(context);
  if (!ctx.ok()) ThrowStatus(ctx.status());
  Status st = (*ctx)->DropFunction(name);
  if (!st.ok() && st.code() != StatusCode::kNotFound) ThrowStatus(st);
  DropInfo drop;
  drop.type = CatalogType::SCALAR_FUNCTION_ENTRY;
  drop.catalog = SYSTEM_CATALOG;
  drop.schema = DEFAULT_SCHEMA;
  drop.name = name;
  drop.if_not_found = OnEntryNotFound::RETURN_NULL;
  drop.allow_drop_internal = true;  // functions in the system catalog count as internal
  Catalog::GetSystemCatalog(context).DropEntry(context, drop);
  {
    std::lock_guard<std::mutex> lock(state.mu);
    state.functions.erase(name);
    state.batch_rows.erase(name);
    state.side_effects.erase(name);
  }
  output.SetCardinality(1);
  output.SetValue(0, 0, Value(name));
}

}  // namespace

TableFunction IMLaneDropFunction::GetFunction() {
  return TableFunction(kName, {LogicalType::VARCHAR}, DropExecute, DropBind, RunOnceInit);
}

}  // namespace duckdb_integration
}  // namespace imlane
