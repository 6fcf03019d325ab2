#include "function/imlane_functions.hpp"

#include <nlohmann/json.hpp>

#include "imlane/common/messages.h"
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
           "side_effects", "cache_hits",      "cache_misses", "cache_bytes", "cache_saved_s", "backend",
           "actors",       "nodes",           "actor_stats"};
  types = {LogicalType::VARCHAR, LogicalType::INTEGER, LogicalType::VARCHAR, LogicalType::VARCHAR, LogicalType::INTEGER,
           LogicalType::BIGINT,  LogicalType::BIGINT,  LogicalType::DOUBLE,  LogicalType::DOUBLE,  LogicalType::BIGINT,
           LogicalType::VARCHAR, LogicalType::VARCHAR, LogicalType::BOOLEAN, LogicalType::BIGINT,  LogicalType::BIGINT,
           LogicalType::BIGINT,  LogicalType::DOUBLE,  LogicalType::VARCHAR, LogicalType::INTEGER, LogicalType::INTEGER,
           LogicalType::VARCHAR};
  return make_uniq<TableFunctionData>();
}

unique_ptr<GlobalTableFunctionState> FunctionsInit(ClientContext &context, TableFunctionInitInput &) {
  auto result = make_uniq<FunctionsState>();
  IMLaneState &state = GetState(context);
  auto ctx = state.Context(context);
  if (!ctx.ok()) ThrowStatus(ctx.status());
  auto status = (*ctx)->CoordinatorStatus();
  if (!status.ok()) ThrowStatus(status.status());
  // Decoded field by field: a status document of the wrong shape is an error, never an exception.
  auto doc = nlohmann::json::parse(*status, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) ThrowStatus(Status::ProtocolError("the coordinator's status is not JSON"));
  auto functions = DecodeStatusFunctions(doc);
  if (!functions.ok()) ThrowStatus(functions.status().WithContext("coordinator status"));
  for (const auto &f : *functions) {
    std::string args, rets;
    for (const auto &t : f.arg_types) args += (args.empty() ? "" : ", ") + t;
    for (const auto &t : f.return_types) rets += (rets.empty() ? "" : ", ") + t;
    const std::string &name = f.name;
    // side_effects is DuckDB's own: known for the functions this database created, NULL otherwise.
    Value side_effects;
    {
      std::lock_guard<std::mutex> lock(state.mu);
      if (state.functions.count(name)) side_effects = Value::BOOLEAN(state.side_effects.count(name) > 0);
    }
    result->rows.push_back(
        {Value(name), Value::INTEGER(static_cast<int32_t>(f.version)), Value(name + "(" + args + ") -> " + rets),
         Value(f.source), Value::INTEGER(static_cast<int32_t>(f.executors_used)), Value::BIGINT(f.batches),
         Value::BIGINT(f.rows), Value::DOUBLE(f.mean_batch_rows), Value::DOUBLE(f.busy_s), Value::BIGINT(f.errors),
         Value(f.null_handling), Value(f.exception_handling), side_effects, Value::BIGINT(f.cache_hits),
         Value::BIGINT(f.cache_misses), Value::BIGINT(f.cache_bytes), Value::DOUBLE(f.cache_saved_s), Value(f.backend),
         Value::INTEGER(static_cast<int32_t>(f.actors)), Value::INTEGER(static_cast<int32_t>(f.nodes)),
         // One JSON object per actor (node, node_ip, pid, state, batches, rows): json_extract reads it.
         f.backend == "local" ? Value() : Value(f.ray_actors.dump())});
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
