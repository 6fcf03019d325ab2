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
  bool if_exists = false;  // a name IMLane does not know is no error (and returns no row)
};

// The function_info of GetFunction(true): if_exists defaults to true.
struct DropDefaults : public TableFunctionInfo {
  bool if_exists = true;
};

unique_ptr<FunctionData> DropBind(ClientContext &, TableFunctionBindInput &input, vector<LogicalType> &return_types,
                                  vector<string> &names) {
  auto data = make_uniq<DropBindData>();
  data->name = StringArgument(input, 0, kName, "the function name");
  if (input.info) data->if_exists = input.info->Cast<DropDefaults>().if_exists;
  auto if_exists = input.named_parameters.find("if_exists");
  if (if_exists != input.named_parameters.end() && !if_exists->second.IsNull()) {
    data->if_exists = if_exists->second.GetValue<bool>();
  }
  names = {"dropped"};
  return_types = {LogicalType::VARCHAR};
  return std::move(data);
}

void DropExecute(ClientContext &context, TableFunctionInput &input, DataChunk &output) {
  if (!input.global_state->Cast<RunOnceState>().First()) return;
  auto &data = input.bind_data->Cast<DropBindData>();
  auto &name = data.name;
  IMLaneState &state = GetState(context);
  {
    std::lock_guard<std::mutex> lock(state.mu);
    if (!state.functions.count(name)) {
      if (data.if_exists) return;  // no row: nothing was dropped
      throw InvalidInputException("%s: no IMLane function '%s'", kName, name);
    }
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

TableFunction IMLaneDropFunction::GetFunction(bool if_exists) {
  TableFunction fn(kName, {LogicalType::VARCHAR}, DropExecute, DropBind, RunOnceInit);
  fn.named_parameters["if_exists"] = LogicalType::BOOLEAN;
  if (if_exists) fn.function_info = make_shared_ptr<DropDefaults>();
  return fn;
}

}  // namespace duckdb_integration
}  // namespace imlane
