#include "function/imlane_create_function.hpp"

#include "duckdb/catalog/catalog.hpp"
#include "duckdb/catalog/catalog_entry/scalar_function_catalog_entry.hpp"
#include "duckdb/parser/parsed_data/create_scalar_function_info.hpp"
#include "function/imlane_scalar_function.hpp"
#include "function/run_once_table_function.hpp"
#include "imlane_state.hpp"

namespace imlane {
namespace duckdb_integration {

using namespace duckdb;  // NOLINT: DuckDB glue

namespace {

constexpr const char *kName = "imlane_create_function";

struct CreateBindData : public TableFunctionData {
  std::string name, source, args, returns;
  std::string entry;       // optional: which object of the source is the function
  int64_t batch_rows = 0;  // optional: pinned rows per batch for this function; 0 = the setting
  NullHandling null_handling = NullHandling::kDefault;
  ExceptionHandling exception_handling = ExceptionHandling::kDefault;
  bool side_effects = false;
  bool context_cache = true;
  Backend backend = Backend::kLocal;  // scale-out: local executors, Ray actors or both
  int replicas = 0;
  int retries = kDefaultRayRetries;
};

// A named VARCHAR option: its value, or `fallback` when absent or NULL.
std::string StringOption(TableFunctionBindInput &input, const char *option, const char *fallback) {
  auto it = input.named_parameters.find(option);
  return it == input.named_parameters.end() || it->second.IsNull() ? fallback : it->second.ToString();
}

// A named BOOLEAN option: its value, or `fallback` when absent or NULL.
bool BoolOption(TableFunctionBindInput &input, const char *option, bool fallback) {
  auto it = input.named_parameters.find(option);
  return it == input.named_parameters.end() || it->second.IsNull() ? fallback : it->second.GetValue<bool>();
}

// A named INTEGER option in [low, high]: its value, or `fallback` when absent or NULL.
int IntOption(TableFunctionBindInput &input, const std::string &fname, const char *option, int fallback, int low,
              int high, const char *meaning) {
  auto it = input.named_parameters.find(option);
  if (it == input.named_parameters.end() || it->second.IsNull()) return fallback;
  const int64_t v = it->second.GetValue<int64_t>();
  if (v < low || v > high) {
    throw InvalidInputException("%s('%s'): %s must be between %d and %d (%s), got %lld", kName, fname, option, low,
                                high, meaning, static_cast<long long>(v));
  }
  return static_cast<int>(v);
}

template <typename T>
T CheckOption(Result<T> parsed, const std::string &name) {
  if (!parsed.ok()) throw InvalidInputException("%s('%s'): %s", kName, name, parsed.status().message());
  return *parsed;
}

unique_ptr<FunctionData> CreateBind(ClientContext &, TableFunctionBindInput &input, vector<LogicalType> &return_types,
                                    vector<string> &names) {
  auto data = make_uniq<CreateBindData>();
  data->name = StringArgument(input, 0, kName, "the function name");
  data->source = StringArgument(input, 1, kName, "the source (a .py path or Python code)");
  data->args = StringArgument(input, 2, kName, "the argument types");
  data->returns = StringArgument(input, 3, kName, "the return type");
  data->entry = StringOption(input, "entry", "");
  auto batch = input.named_parameters.find("batch_size");
  if (batch != input.named_parameters.end() && !batch->second.IsNull()) {
    data->batch_rows = batch->second.GetValue<int64_t>();
    if (data->batch_rows < 0) {
      throw InvalidInputException("%s('%s'): batch_size must be 0 (adaptive) or a positive number of rows, got %lld",
                                  kName, data->name, static_cast<long long>(data->batch_rows));
    }
  }
  data->null_handling = CheckOption(ParseNullHandling(StringOption(input, "null_handling", "default")), data->name);
  data->exception_handling =
      CheckOption(ParseExceptionHandling(StringOption(input, "exception_handling", "default")), data->name);
  data->side_effects = BoolOption(input, "side_effects", false);
  data->context_cache = BoolOption(input, "context_cache", true);
  data->backend = CheckOption(ParseBackend(StringOption(input, "backend", "local")), data->name);
  data->replicas = IntOption(input, data->name, "replicas", 0, 0, kMaxReplicas, "Ray actors; 0: one per CPU");
  data->retries = IntOption(input, data->name, "retries", kDefaultRayRetries, 0, 100,
                            "resends of a batch whose actor died; 0: off");
  names = {"name", "version", "signature", "executors"};
  return_types = {LogicalType::VARCHAR, LogicalType::INTEGER, LogicalType::VARCHAR, LogicalType::INTEGER};
  return std::move(data);
}

void CreateExecute(ClientContext &context, TableFunctionInput &input, DataChunk &output) {
  if (!input.global_state->Cast<RunOnceState>().First()) return;
  auto &data = input.bind_data->Cast<CreateBindData>();
  auto spec = FunctionSpec::Make(data.name, data.source, data.args, data.returns, data.entry);
  if (!spec.ok()) ThrowStatus(spec.status().WithContext(std::string(kName) + "('" + data.name + "')"));
  spec->null_handling = data.null_handling;
  spec->exception_handling = data.exception_handling;
  spec->context_cache = data.context_cache;
  spec->backend = data.backend;
  spec->replicas = data.replicas;
  spec->retries = data.retries;
  if (spec->return_types.size() != 1) {
    throw InvalidInputException("%s('%s'): a SQL function returns exactly one type, got '%s'", kName, data.name,
                                data.returns);
  }
  IMLaneState &state = GetState(context);
  auto &catalog = Catalog::GetSystemCatalog(context);
  {
    std::lock_guard<std::mutex> lock(state.mu);
    auto existing =
        catalog.GetEntry<ScalarFunctionCatalogEntry>(context, DEFAULT_SCHEMA, data.name, OnEntryNotFound::RETURN_NULL);
    if (existing && !state.functions.count(data.name)) {
      throw InvalidInputException("%s: '%s' is already a DuckDB function; choose another name", kName, data.name);
    }
  }
  auto ctx = state.Context(context);
  if (!ctx.ok()) ThrowStatus(ctx.status());
  Status st = (*ctx)->RegisterFunction(*spec);
  if (!st.ok()) ThrowStatus(st);
  auto info = (*ctx)->GetFunction(data.name);
  if (!info.ok()) ThrowStatus(info.status());

  CreateScalarFunctionInfo create(IMLaneScalarFunction::GetFunction(*spec, data.side_effects));
  create.on_conflict = OnCreateConflict::REPLACE_ON_CONFLICT;
  catalog.CreateFunction(context, create);
  {
    std::lock_guard<std::mutex> lock(state.mu);
    state.functions[data.name] = *spec;
    if (data.batch_rows > 0) {
      state.batch_rows[data.name] = static_cast<size_t>(data.batch_rows);
    } else {
      state.batch_rows.erase(data.name);
    }
    if (data.side_effects) {
      state.side_effects.insert(data.name);
    } else {
      state.side_effects.erase(data.name);
    }
  }
  output.SetCardinality(1);
  output.SetValue(0, 0, Value(data.name));
  output.SetValue(1, 0, Value::INTEGER(static_cast<int32_t>(info->version)));
  output.SetValue(
      2, 0,
      Value(data.name + "(" + TypeListToString(spec->arg_types) + ") -> " + TypeListToString(spec->return_types)));
  output.SetValue(3, 0, Value::INTEGER(info->executors));
}

}  // namespace

TableFunction IMLaneCreateFunction::GetFunction() {
  TableFunction fn(kName, {LogicalType::VARCHAR, LogicalType::VARCHAR, LogicalType::VARCHAR, LogicalType::VARCHAR},
                   CreateExecute, CreateBind, RunOnceInit);
  fn.named_parameters["entry"] = LogicalType::VARCHAR;
  fn.named_parameters["batch_size"] = LogicalType::BIGINT;
  fn.named_parameters["null_handling"] = LogicalType::VARCHAR;
  fn.named_parameters["context_cache"] = LogicalType::BOOLEAN;
  fn.named_parameters["exception_handling"] = LogicalType::VARCHAR;
  fn.named_parameters["side_effects"] = LogicalType::BOOLEAN;
  fn.named_parameters["backend"] = LogicalType::VARCHAR;
  fn.named_parameters["replicas"] = LogicalType::INTEGER;
  fn.named_parameters["retries"] = LogicalType::INTEGER;
  return fn;
}

}  // namespace duckdb_integration
}  // namespace imlane
