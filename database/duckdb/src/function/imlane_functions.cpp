#include "function/imlane_functions.hpp"

#include <nlohmann/json.hpp>

#include "imlane_state.hpp"

namespace imlane {
namespace duckdb_integration {

using namespace duckdb;  // NOLINT: DuckDB glue

namespace {

struct FunctionsState : public GlobalTableFunctionState {
  vector<vector<Value>> rows;
  idx_t next = 0;
};

unique_ptr<FunctionData> FunctionsBind(ClientContext &, TableFunctionBindInput &, vector<LogicalType> &types,
                                       vector<string> &names) {
  names = {"name",         "version",         "signature",    "source",      "executors",     "batches",
           "rows",         "mean_batch_rows", "busy_s",       "errors",      "null_handling", "exception_handling",
           "side_effects", "cache_hits",      "cache_misses", "cache_bytes", "cache_saved_s"};
  types = {LogicalType::VARCHAR, LogicalType::INTEGER, LogicalType::VARCHAR, LogicalType::VARCHAR, LogicalType::INTEGER,
           LogicalType::BIGINT,  LogicalType::BIGINT,  LogicalType::DOUBLE,  LogicalType::DOUBLE,  LogicalType::BIGINT,
           LogicalType::VARCHAR, LogicalType::VARCHAR, LogicalType::BOOLEAN, LogicalType::BIGINT,  LogicalType::BIGINT,
           LogicalType::BIGINT,  LogicalType::DOUBLE};
  return make_uniq<TableFunctionData>();
}

unique_ptr<GlobalTableFunctionState> FunctionsInit(ClientContext &context, TableFunctionInitInput &) {
  auto result = make_uniq<FunctionsState>();
  IMLaneState &state = GetState(context);
  auto ctx = state.Context(context);
  if (!ctx.ok()) ThrowStatus(ctx.status());
  auto status = (*ctx)->CoordinatorStatus();
  if (!status.ok()) ThrowStatus(status.status());
  auto doc = nlohmann::json::parse(*status);
  for (const auto &f : doc["functions"]) {
    std::string args, rets;
    for (const auto &t : f["arg_types"]) args += (args.empty() ? "" : ", ") + t.get<std::string>();
    for (const auto &t : f["return_types"]) rets += (rets.empty() ? "" : ", ") + t.get<std::string>();
    std::string name = f.value("name", "");
    // side_effects is DuckDB's own: known for the functions this database created, NULL otherwise.
    Value side_effects;
    {
      std::lock_guard<std::mutex> lock(state.mu);
      if (state.functions.count(name)) side_effects = Value::BOOLEAN(state.side_effects.count(name) > 0);
    }
    result->rows.push_back(
        {Value(name), Value::INTEGER(f.value("version", 0)), Value(name + "(" + args + ") -> " + rets),
         Value(f.value("source", "")), Value::INTEGER(f.value("executors_used", 0)),
         Value::BIGINT(f.value("batches", int64_t{0})), Value::BIGINT(f.value("rows", int64_t{0})),
         Value::DOUBLE(f.value("mean_batch_rows", 0.0)), Value::DOUBLE(f.value("busy_s", 0.0)),
         Value::BIGINT(f.value("errors", int64_t{0})), Value(f.value("null_handling", "default")),
         Value(f.value("exception_handling", "default")), side_effects,
         Value::BIGINT(f.value("cache_hits", int64_t{0})), Value::BIGINT(f.value("cache_misses", int64_t{0})),
         Value::BIGINT(f.value("cache_bytes", int64_t{0})), Value::DOUBLE(f.value("cache_saved_s", 0.0))});
  }
  return std::move(result);
}

void FunctionsExecute(ClientContext &, TableFunctionInput &input, DataChunk &output) {
  auto &state = input.global_state->Cast<FunctionsState>();
  idx_t count = 0;
  while (state.next < state.rows.size() && count < STANDARD_VECTOR_SIZE) {
    auto &row = state.rows[state.next++];
    for (idx_t c = 0; c < row.size(); c++) output.SetValue(c, count, row[c]);
    count++;
  }
  output.SetCardinality(count);
}

}  // namespace

TableFunction IMLaneFunctionsFunction::GetFunction() {
  return TableFunction("imlane_functions", {}, FunctionsExecute, FunctionsBind, FunctionsInit);
}

}  // namespace duckdb_integration
}  // namespace imlane
