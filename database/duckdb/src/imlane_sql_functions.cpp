// The SQL surface of IMLane in DuckDB: CALL imlane_create_function / imlane_drop_function,
// SELECT * FROM imlane_functions(), the imlane_* settings, and the scalar function that every
// registered AI function becomes.
#include <nlohmann/json.hpp>

#include "duckdb.hpp"
#include "duckdb/catalog/catalog.hpp"
#include "duckdb/catalog/catalog_entry/scalar_function_catalog_entry.hpp"
#include "duckdb/main/extension/extension_loader.hpp"
#include "duckdb/parser/parsed_data/create_scalar_function_info.hpp"
#include "duckdb/parser/parsed_data/drop_info.hpp"
#include "duckdb/planner/expression/bound_function_expression.hpp"
#include "duckdb_table_converter.hpp"
#include "imlane_duckdb.hpp"
#include "imlane_state.hpp"
#include "prediction_operator.hpp"


namespace imlane {
namespace duckdb_integration {

using namespace duckdb;  // NOLINT: this file is all DuckDB glue

// ---- The scalar function of one AI function ----------------------------------------------------------

struct IMLaneFunctionInfo : public ScalarFunctionInfo {
  explicit IMLaneFunctionInfo(std::string name_p) : name(std::move(name_p)) {}
  std::string name;
};

struct IMLaneBindData : public FunctionData {
  explicit IMLaneBindData(std::string name_p) : name(std::move(name_p)) {}
  std::string name;
  unique_ptr<FunctionData> Copy() const override { return make_uniq<IMLaneBindData>(name); }
  bool Equals(const FunctionData &other) const override { return other.Cast<IMLaneBindData>().name == name; }
};

static unique_ptr<FunctionData> IMLaneScalarBind(ClientContext &context, ScalarFunction &bound,
                                                 vector<unique_ptr<Expression>> &arguments) {
  return make_uniq<IMLaneBindData>(bound.function_info->Cast<IMLaneFunctionInfo>().name);
}

// The fallback path, one DuckDB vector per call. Projections and filters are normally planned
// into the prediction operator instead, which batches beyond the vector size.
static void IMLaneScalarExecute(DataChunk &args, ExpressionState &state, Vector &result) {
  auto &bind = state.expr.Cast<BoundFunctionExpression>().bind_info->Cast<IMLaneBindData>();
  ClientContext &client = state.GetContext();
  auto ctx = GetState(client).Context(client);
  if (!ctx.ok()) ThrowStatus(ctx.status());
  const size_t n = args.size();
  auto open = (*ctx)->BeginBatch(bind.name, n);
  if (!open.ok()) ThrowStatus(open.status());
  Status st = DuckDBConverter::Write(args, 0, n, &open->builder());
  if (!st.ok()) ThrowStatus(st);
  auto ticket = (*ctx)->Submit(std::move(*open));
  if (!ticket.ok()) ThrowStatus(ticket.status());
  auto pulled = (*ctx)->Pull(*ticket, static_cast<int>(IntSetting(client, "imlane_timeout_ms", 60000)));
  if (!pulled.ok()) ThrowStatus(pulled.status());
  st = DuckDBConverter::ReadColumn(pulled->batch().column(0), 0, n, &result);
  if (!st.ok()) ThrowStatus(st);
}

bool IsIMLaneFunction(const BoundFunctionExpression &expr) {
  return expr.bind_info && dynamic_cast<const IMLaneBindData *>(expr.bind_info.get()) != nullptr;
}

const std::string &IMLaneFunctionName(const BoundFunctionExpression &expr) {
  return expr.bind_info->Cast<IMLaneBindData>().name;
}

static ScalarFunction MakeScalarFunction(const SqlFunction &fn) {
  vector<LogicalType> args;
  for (TypeId t : fn.arg_types) args.push_back(DuckDBTypeOf(t));
  ScalarFunction f(fn.name, args, DuckDBTypeOf(fn.return_types[0]), IMLaneScalarExecute, IMLaneScalarBind);
  f.function_info = make_shared_ptr<IMLaneFunctionInfo>(fn.name);
  // NULLs go to Python like any other value (as NaN / None): the model decides.
  f.null_handling = FunctionNullHandling::SPECIAL_HANDLING;
  return f;
}

// ---- CALL imlane_create_function(name, source, arg_types, return_type) ------------------------------

struct RunOnceState : public GlobalTableFunctionState {
  bool done = false;
};

static unique_ptr<GlobalTableFunctionState> RunOnceInit(ClientContext &, TableFunctionInitInput &) {
  return make_uniq<RunOnceState>();
}

struct CreateBindData : public TableFunctionData {
  std::string name, source, args, returns;
};

static std::string StringArg(TableFunctionBindInput &input, idx_t i, const char *what) {
  if (input.inputs[i].IsNull()) throw InvalidInputException("imlane_create_function: %s must not be NULL", what);
  return input.inputs[i].ToString();
}

static unique_ptr<FunctionData> CreateBind(ClientContext &, TableFunctionBindInput &input,
                                           vector<LogicalType> &return_types, vector<string> &names) {
  auto data = make_uniq<CreateBindData>();
  data->name = StringArg(input, 0, "the function name");
  data->source = StringArg(input, 1, "the source (a .py path or Python code)");
  data->args = StringArg(input, 2, "the argument types");
  data->returns = StringArg(input, 3, "the return type");
  names = {"name", "version", "signature", "executors"};
  return_types = {LogicalType::VARCHAR, LogicalType::INTEGER, LogicalType::VARCHAR, LogicalType::INTEGER};
  return std::move(data);
}

static void CreateExecute(ClientContext &context, TableFunctionInput &input, DataChunk &output) {
  auto &once = input.global_state->Cast<RunOnceState>();
  if (once.done) return;
  once.done = true;
  auto &data = input.bind_data->Cast<CreateBindData>();
  auto spec = FunctionSpec::Make(data.name, data.source, data.args, data.returns);
  if (!spec.ok()) ThrowStatus(spec.status().WithContext("imlane_create_function('" + data.name + "')"));
  if (spec->return_types.size() != 1) {
    throw InvalidInputException("imlane_create_function('%s'): a SQL function returns exactly one type, got '%s'",
                                data.name, data.returns);
  }
  IMLaneState &state = GetState(context);
  auto &catalog = Catalog::GetSystemCatalog(context);
  {
    std::lock_guard<std::mutex> lock(state.mu);
    auto existing = catalog.GetEntry<ScalarFunctionCatalogEntry>(context, DEFAULT_SCHEMA, data.name,
                                                                 OnEntryNotFound::RETURN_NULL);
    if (existing && !state.functions.count(data.name)) {
      throw InvalidInputException("imlane_create_function: '%s' is already a DuckDB function; choose another name",
                                  data.name);
    }
  }
  auto ctx = state.Context(context);
  if (!ctx.ok()) ThrowStatus(ctx.status());
  Status st = (*ctx)->RegisterFunction(*spec);
  if (!st.ok()) ThrowStatus(st);
  auto info = (*ctx)->GetFunction(data.name);
  if (!info.ok()) ThrowStatus(info.status());

  SqlFunction fn{data.name, data.source, spec->arg_types, spec->return_types};
  CreateScalarFunctionInfo create(MakeScalarFunction(fn));
  create.on_conflict = OnCreateConflict::REPLACE_ON_CONFLICT;
  catalog.CreateFunction(context, create);
  {
    std::lock_guard<std::mutex> lock(state.mu);
    state.functions[data.name] = fn;
  }
  output.SetCardinality(1);
  output.SetValue(0, 0, Value(data.name));
  output.SetValue(1, 0, Value::INTEGER(static_cast<int32_t>(info->version)));
  output.SetValue(2, 0,
                  Value(data.name + "(" + TypeListToString(spec->arg_types) + ") -> " +
                        TypeListToString(spec->return_types)));
  output.SetValue(3, 0, Value::INTEGER(info->executors));
}

// ---- CALL imlane_drop_function(name) ------------------------------------------------------------

struct NameBindData : public TableFunctionData {
  std::string name;
};

static unique_ptr<FunctionData> DropBind(ClientContext &, TableFunctionBindInput &input,
                                         vector<LogicalType> &return_types, vector<string> &names) {
  auto data = make_uniq<NameBindData>();
  data->name = StringArg(input, 0, "the function name");
  names = {"dropped"};
  return_types = {LogicalType::VARCHAR};
  return std::move(data);
}

static void DropExecute(ClientContext &context, TableFunctionInput &input, DataChunk &output) {
  auto &once = input.global_state->Cast<RunOnceState>();
  if (once.done) return;
  once.done = true;
  auto &name = input.bind_data->Cast<NameBindData>().name;
  IMLaneState &state = GetState(context);
  {
    std::lock_guard<std::mutex> lock(state.mu);
    if (!state.functions.count(name)) throw InvalidInputException("imlane_drop_function: no IMLane function '%s'", name);
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
  }
  output.SetCardinality(1);
  output.SetValue(0, 0, Value(name));
}

// ---- SELECT * FROM imlane_functions() -----------------------------------------------------------

struct FunctionsState : public GlobalTableFunctionState {
  vector<vector<Value>> rows;
  idx_t next = 0;
};

static unique_ptr<FunctionData> FunctionsBind(ClientContext &, TableFunctionBindInput &, vector<LogicalType> &types,
                                              vector<string> &names) {
  names = {"name", "version", "signature", "source", "executors", "batches", "rows", "mean_batch_rows", "busy_s",
           "errors"};
  types = {LogicalType::VARCHAR, LogicalType::INTEGER, LogicalType::VARCHAR, LogicalType::VARCHAR,
           LogicalType::INTEGER, LogicalType::BIGINT,  LogicalType::BIGINT,  LogicalType::DOUBLE,
           LogicalType::DOUBLE,  LogicalType::BIGINT};
  return make_uniq<TableFunctionData>();
}

static unique_ptr<GlobalTableFunctionState> FunctionsInit(ClientContext &context, TableFunctionInitInput &) {
  auto result = make_uniq<FunctionsState>();
  auto ctx = GetState(context).Context(context);
  if (!ctx.ok()) ThrowStatus(ctx.status());
  auto status = (*ctx)->CoordinatorStatus();
  if (!status.ok()) ThrowStatus(status.status());
  auto doc = nlohmann::json::parse(*status);
  for (const auto &f : doc["functions"]) {
    std::string args, rets;
    for (const auto &t : f["arg_types"]) args += (args.empty() ? "" : ", ") + t.get<std::string>();
    for (const auto &t : f["return_types"]) rets += (rets.empty() ? "" : ", ") + t.get<std::string>();
    std::string name = f.value("name", "");
    result->rows.push_back({Value(name), Value::INTEGER(f.value("version", 0)),
                            Value(name + "(" + args + ") -> " + rets), Value(f.value("source", "")),
                            Value::INTEGER(f.value("executors_used", 0)),
                            Value::BIGINT(f.value("batches", int64_t{0})), Value::BIGINT(f.value("rows", int64_t{0})),
                            Value::DOUBLE(f.value("mean_batch_rows", 0.0)), Value::DOUBLE(f.value("busy_s", 0.0)),
                            Value::BIGINT(f.value("errors", int64_t{0}))});
  }
  return std::move(result);
}

static void FunctionsExecute(ClientContext &, TableFunctionInput &input, DataChunk &output) {
  auto &state = input.global_state->Cast<FunctionsState>();
  idx_t count = 0;
  while (state.next < state.rows.size() && count < STANDARD_VECTOR_SIZE) {
    auto &row = state.rows[state.next++];
    for (idx_t c = 0; c < row.size(); c++) output.SetValue(c, count, row[c]);
    count++;
  }
  output.SetCardinality(count);
}

// ---- Loading ---------------------------------------------------------------------------------------

void LoadIMLane(DatabaseInstance &db) {
  auto &config = DBConfig::GetConfig(db);
  if (config.extension_parameters.count("imlane_batch_size")) return;  // already loaded
  config.AddExtensionOption("imlane_executors",
                            "executor processes of a coordinator IMLane starts itself (0 = usable cores); "
                            "takes effect at the first use of IMLane in this database",
                            LogicalType::INTEGER, Value::INTEGER(0));
  config.AddExtensionOption("imlane_batch_size",
                            "rows per batch sent to an executor; 0 = adaptive (tuned per function)",
                            LogicalType::BIGINT, Value::BIGINT(0));
  config.AddExtensionOption("imlane_max_inflight", "batches in flight per function; 0 = executors x 8",
                            LogicalType::INTEGER, Value::INTEGER(0));
  config.AddExtensionOption("imlane_timeout_ms", "a batch that takes longer fails and its executor is replaced",
                            LogicalType::BIGINT, Value::BIGINT(60000));
  config.AddExtensionOption("imlane_socket", "coordinator socket; empty = $IMLANE_SOCKET or the per-user default",
                            LogicalType::VARCHAR, Value(""));
  config.AddExtensionOption("imlane_lane_bytes", "shared memory per in-flight batch (input plus result)",
                            LogicalType::BIGINT, Value::BIGINT(64 << 20));

  ExtensionLoader loader(db, "imlane");
  TableFunction create("imlane_create_function",
                       {LogicalType::VARCHAR, LogicalType::VARCHAR, LogicalType::VARCHAR, LogicalType::VARCHAR},
                       CreateExecute, CreateBind, RunOnceInit);
  loader.RegisterFunction(create);
  TableFunction drop("imlane_drop_function", {LogicalType::VARCHAR}, DropExecute, DropBind, RunOnceInit);
  loader.RegisterFunction(drop);
  TableFunction functions("imlane_functions", {}, FunctionsExecute, FunctionsBind, FunctionsInit);
  loader.RegisterFunction(functions);
  RegisterPredictionOptimizer(db);

}

}  // namespace duckdb_integration
}  // namespace imlane
