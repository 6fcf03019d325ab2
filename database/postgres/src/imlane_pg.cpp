// The extension's module: GUCs, the backend's DBEndContext, the SQL functions of imlane--*.sql and
// imlane_call, the C function behind every registered AI function (one row per call; the batching
// CustomScan of batch_scan.cpp takes over where the planner lets it).
#include "imlane_pg.h"

extern "C" {
#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

PG_MODULE_MAGIC;

void _PG_init(void);
PGDLLEXPORT Datum imlane_create_function(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum imlane_drop_function(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum imlane_functions(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum imlane_status(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum imlane_reset_cache(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum imlane_call(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(imlane_create_function);
PG_FUNCTION_INFO_V1(imlane_drop_function);
PG_FUNCTION_INFO_V1(imlane_functions);
PG_FUNCTION_INFO_V1(imlane_status);
PG_FUNCTION_INFO_V1(imlane_reset_cache);
PG_FUNCTION_INFO_V1(imlane_call);
}

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <unordered_map>

namespace imlane {
namespace pg {

int guc_batch_size = 0;
int guc_timeout_ms = 60000;
int guc_inflight_batches = 4;
int guc_cancel_grace_ms = 1000;
bool guc_enable_batching = true;

namespace {

int guc_executors = 0;
int guc_max_inflight = 0;
int guc_lane_mb = 64;
int guc_idle_exit_ms = 300000;
char* guc_socket = nullptr;
char* guc_coordinator = nullptr;
char* guc_python_env = nullptr;

constexpr int kSliceMs = 50;  // how often a waiting backend looks at its interrupts

// One per backend process (and per parallel worker): PostgreSQL runs a process per connection.
std::unique_ptr<DBEndContext> g_ctx;
// The context of a coordinator that went away, kept until the next reconnect: a statement that
// was running on it may still hold it (it fails cleanly on its next batch).
std::unique_ptr<DBEndContext> g_lost_ctx;
std::unordered_map<std::string, FnMeta> g_functions;
uint64_t g_generation = 1;  // of g_ctx: what this backend knew of an earlier coordinator is stale

void CloseContext(int, Datum) {
  g_functions.clear();
  g_ctx.reset();  // the coordinator sees the client go (and may exit after imlane.idle_exit_ms)
  g_lost_ctx.reset();
}

// A row of imlane_registry, strings palloc'd in the caller's memory context.
struct RegistryRow {
  bool found = false;
  char* source = nullptr;
  char* arg_types = nullptr;
  char* return_type = nullptr;
  char* entry = nullptr;
  char* null_handling = nullptr;
  char* exception_handling = nullptr;
  int64 batch_size = 0;
  Oid sql_function = InvalidOid;
};

// The registry table, schema-qualified (the extension's schema).
char* RegistryTable() {
  static char* table = nullptr;  // per backend; the schema of an installed extension does not change
  if (table) return table;
  MemoryContext outer = CurrentMemoryContext;
  SPI_connect();
  if (SPI_execute("SELECT n.nspname FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n "
                  "ON n.oid = e.extnamespace WHERE e.extname = 'imlane'",
                  true, 1) != SPI_OK_SELECT ||
      SPI_processed != 1) {
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("imlane: the extension is not installed in this database "
                                                              "(CREATE EXTENSION imlane)")));
  }
  char* schema = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
  char* name = MemoryContextStrdup(TopMemoryContext, psprintf("%s.imlane_registry", quote_identifier(schema)));
  SPI_finish();
  MemoryContextSwitchTo(outer);
  table = name;
  return table;
}

// Plain C: SPI may raise errors.
RegistryRow ReadRegistry(const char* name) {
  RegistryRow row;
  MemoryContext outer = CurrentMemoryContext;
  char* sql = psprintf(
      "SELECT source, arg_types, return_type, entry, null_handling, exception_handling, batch_size, "
      "sql_function::oid FROM %s WHERE name = $1",
      RegistryTable());
  Oid argtypes[1] = {TEXTOID};
  Datum values[1] = {CStringGetTextDatum(name)};
  SPI_connect();
  if (SPI_execute_with_args(sql, 1, argtypes, values, nullptr, true, 1) != SPI_OK_SELECT) {
    elog(ERROR, "imlane: reading imlane_registry failed");
  }
  if (SPI_processed == 1) {
    HeapTuple tup = SPI_tuptable->vals[0];
    TupleDesc desc = SPI_tuptable->tupdesc;
    auto str = [&](int col) { return MemoryContextStrdup(outer, SPI_getvalue(tup, desc, col)); };
    row.found = true;
    row.source = str(1);
    row.arg_types = str(2);
    row.return_type = str(3);
    row.entry = str(4);
    row.null_handling = str(5);
    row.exception_handling = str(6);
    bool isnull;
    row.batch_size = DatumGetInt64(SPI_getbinval(tup, desc, 7, &isnull));
    Datum fn = SPI_getbinval(tup, desc, 8, &isnull);
    row.sql_function = isnull ? InvalidOid : DatumGetObjectId(fn);
  }
  SPI_finish();
  return row;
}

// Drops the SQL function a registration made, unless it has gone already (DROP FUNCTION by hand).
void DropSqlFunction(Oid fn) {
  if (!OidIsValid(fn) || !SearchSysCacheExists1(PROCOID, ObjectIdGetDatum(fn))) return;
  char* sql = psprintf("DROP FUNCTION IF EXISTS %s", format_procedure_qualified(fn));
  SPI_connect();
  int rc = SPI_execute(sql, false, 0);
  if (rc != SPI_OK_UTILITY) elog(ERROR, "imlane: \"%s\" failed: %s", sql, SPI_result_code_string(rc));
  SPI_finish();
}

void RunSql(const char* sql, int expected) {
  SPI_connect();
  int rc = SPI_execute(sql, false, 0);
  if (rc != expected) elog(ERROR, "imlane: \"%s\" failed: %s", sql, SPI_result_code_string(rc));
  SPI_finish();
}

Result<FunctionSpec> SpecOf(const char* name, const RegistryRow& row) {
  IMLANE_ASSIGN_OR_RETURN(FunctionSpec spec,
                          FunctionSpec::Make(name, row.source, row.arg_types, row.return_type, row.entry));
  IMLANE_ASSIGN_OR_RETURN(spec.null_handling, ParseNullHandling(row.null_handling));
  IMLANE_ASSIGN_OR_RETURN(spec.exception_handling, ParseExceptionHandling(row.exception_handling));
  if (spec.return_types.size() != 1) {
    return Status::InvalidArgument("a SQL function returns exactly one type, got '", row.return_type, "'");
  }
  return spec;
}

// Registers with the coordinator; on success fills *info. C++ only: returns an error text.
char* Register(DBEndContext* ctx, const char* name, const RegistryRow& row, FunctionInfo* info) {
  auto spec = SpecOf(name, row);
  if (!spec.ok()) return ErrorText(spec.status(), name);
  Status st = ctx->RegisterFunction(*spec);
  if (!st.ok()) return ErrorText(st, name);
  auto got = ctx->GetFunction(name);
  if (!got.ok()) return ErrorText(got.status(), name);
  *info = *got;
  return nullptr;
}

// Known to the coordinator? NotFound leaves *known false without an error.
char* Known(DBEndContext* ctx, const char* name, FunctionInfo* info, bool* known) {
  auto got = ctx->GetFunction(name);
  *known = got.ok();
  if (got.ok()) {
    *info = *got;
    return nullptr;
  }
  return got.status().code() == StatusCode::kNotFound ? nullptr : ErrorText(got.status(), name);
}

char* Remember(const char* name, const FunctionInfo& info, int64 batch_size) {
  if (info.return_types.size() != 1) return psprintf("imlane function \"%s\" does not return one column", name);
  FnMeta& m = g_functions[name];
  m.generation = g_generation;
  m.name = name;
  m.arg_types = info.arg_types;
  m.return_type = info.return_types[0];
  m.batch_rows = batch_size > 0 ? static_cast<size_t>(batch_size) : 0;
  return nullptr;
}

void Forget(const char* name) { g_functions.erase(name); }

const FnMeta* Find(const char* name) {
  auto it = g_functions.find(name);
  if (it == g_functions.end()) return nullptr;
  // Known to a coordinator that has gone: the lookup connects again and registers it there.
  if (it->second.generation != g_generation || !g_ctx || !g_ctx->Connected()) return nullptr;
  return &it->second;
}

char* StatusJson(DBEndContext* ctx, char** json) {
  auto doc = ctx->CoordinatorStatus();
  if (!doc.ok()) return ErrorText(doc.status(), "imlane_status");
  *json = pstrdup(doc->c_str());
  return nullptr;
}

char* ResetCache(DBEndContext* ctx, const char* name, int* dropped) {
  auto n = ctx->ResetContextCache(name);
  if (!n.ok()) return ErrorText(n.status(), *name ? name : "imlane_reset_cache");
  *dropped = *n;
  return nullptr;
}

char* DropFromCoordinator(DBEndContext* ctx, const char* name) {
  Status st = ctx->DropFunction(name);
  if (!st.ok() && st.code() != StatusCode::kNotFound) return ErrorText(st, name);
  return nullptr;
}

struct FunctionRow {
  char* text[6];    // name, signature, source, null_handling, exception_handling, (unused)
  int64 ints[7];    // version, executors, executors_loaded, loads, batches, rows, errors
  double reals[2];  // mean_batch_rows, busy_s
};

// Parses the status document's "functions" into palloc'd rows.
char* ParseFunctions(const char* json, FunctionRow** rows, int* n) {
  auto doc = nlohmann::json::parse(json, nullptr, false);
  if (doc.is_discarded() || !doc.contains("functions")) return pstrdup("imlane: the coordinator's status is not JSON");
  const auto& fns = doc["functions"];
  *n = static_cast<int>(fns.size());
  *rows = static_cast<FunctionRow*>(palloc0(sizeof(FunctionRow) * std::max(1, *n)));
  int i = 0;
  for (const auto& f : fns) {
    std::string args, rets;
    for (const auto& t : f.value("arg_types", nlohmann::json::array()))
      args += (args.empty() ? "" : ", ") + t.get<std::string>();
    for (const auto& t : f.value("return_types", nlohmann::json::array()))
      rets += (rets.empty() ? "" : ", ") + t.get<std::string>();
    const std::string name = f.value("name", "");
    FunctionRow& r = (*rows)[i++];
    r.text[0] = pstrdup(name.c_str());
    r.text[1] = pstrdup((name + "(" + args + ") -> " + rets).c_str());
    r.text[2] = pstrdup(f.value("source", "").c_str());
    r.text[3] = pstrdup(f.value("null_handling", "default").c_str());
    r.text[4] = pstrdup(f.value("exception_handling", "default").c_str());
    r.ints[0] = f.value("version", 0);
    r.ints[1] = f.value("executors_used", 0);
    r.ints[2] = f.value("executors_loaded", 0);
    r.ints[3] = f.value("loads", int64_t{0});
    r.ints[4] = f.value("batches", int64_t{0});
    r.ints[5] = f.value("rows", int64_t{0});
    r.ints[6] = f.value("errors", int64_t{0});
    r.reals[0] = f.value("mean_batch_rows", 0.0);
    r.reals[1] = f.value("busy_s", 0.0);
  }
  return nullptr;
}

char* TextArg(FunctionCallInfo fcinfo, int i, const char* what) {
  if (PG_ARGISNULL(i)) {
    ereport(ERROR,
            (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("imlane_create_function: %s must not be NULL", what)));
  }
  return text_to_cstring(PG_GETARG_TEXT_PP(i));
}

// The shared library's path as PostgreSQL knows it (probin of the calling function), so the SQL
// functions created later point at the same file, wherever the extension was installed.
char* LibraryPath(Oid fn_oid) {
  HeapTuple tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn_oid));
  if (!HeapTupleIsValid(tup)) elog(ERROR, "imlane: cache lookup failed for function %u", fn_oid);
  bool isnull;
  Datum bin = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_probin, &isnull);
  char* path = isnull ? pstrdup("$libdir/imlane") : TextDatumGetCString(bin);
  ReleaseSysCache(tup);
  return path;
}

// "a0 double precision, a1 text" for a Lane type list given as SQL text. C++ only.
char* SqlSignature(const char* arg_types, const char* return_type, char** sql_args, char** sql_ret) {
  auto args = ParseTypeList(arg_types);
  if (!args.ok()) return ErrorText(args.status(), "imlane_create_function");
  auto ret = ParseTypeList(return_type);
  if (!ret.ok()) return ErrorText(ret.status(), "imlane_create_function");
  if (ret->size() != 1)
    return psprintf("imlane_create_function: a SQL function returns exactly one type, got '%s'", return_type);
  std::string s;
  for (size_t i = 0; i < args->size(); i++) {
    s += (i ? ", " : "") + std::string(PgTypeName((*args)[i]));
  }
  *sql_args = pstrdup(s.c_str());
  *sql_ret = pstrdup(PgTypeName((*ret)[0]));
  return nullptr;
}

char* SignatureText(const char* name, const FunctionInfo& info) {
  return psprintf("%s(%s) -> %s", name, TypeListToString(info.arg_types).c_str(),
                  TypeListToString(info.return_types).c_str());
}

// The row-at-a-time call. C++ only; see imlane_call.
ErrorData* RowCall(const FnMeta* fn, FunctionCallInfo fcinfo, Datum* result, bool* isnull, char** err) {
  DBEndContext* ctx = Context(err);
  if (ctx == nullptr) return nullptr;
  const char* name = fn->name.c_str();
  if (static_cast<size_t>(PG_NARGS()) != fn->arg_types.size()) {
    *err = psprintf("imlane function \"%s\" takes %zu arguments, the SQL function passed %d (re-create it)", name,
                    fn->arg_types.size(), PG_NARGS());
    return nullptr;
  }
  Ticket ticket;
  {
    auto open = ctx->BeginBatch(fn->name, 1);
    if (!open.ok()) {
      *err = ErrorText(open.status(), name);
      return nullptr;
    }
    for (size_t i = 0; i < fn->arg_types.size(); i++) {
      Status st =
          AppendDatum(&open->builder().column(i), fn->arg_types[i], fcinfo->args[i].value, fcinfo->args[i].isnull);
      if (!st.ok()) {
        *err = ErrorText(st, name);
        return nullptr;
      }
    }
    auto t = ctx->Submit(std::move(*open));
    if (!t.ok()) {
      *err = ErrorText(t.status(), name);
      return nullptr;
    }
    ticket = *t;
  }
  if (ErrorData* ed = WaitForTicket(ctx, ticket, err, name)) {
    StopTickets(ctx, {ticket});
    return ed;
  }
  if (*err) return nullptr;
  auto pulled = ctx->Pull(ticket, guc_timeout_ms);
  if (!pulled.ok()) {
    *err = ErrorText(pulled.status(), name);
    return nullptr;
  }
  *result = ReadDatum(pulled->batch().column(0), 0, isnull, name, err);
  return nullptr;
}

}  // namespace

// The SQL functions' way to the context and the status document: an ERROR when they cannot be had.
static DBEndContext* ContextOrError() {
  char* err = nullptr;
  DBEndContext* ctx = Context(&err);
  if (ctx == nullptr) ereport(ERROR, (errcode(ERRCODE_CONNECTION_FAILURE), errmsg("%s", err)));
  return ctx;
}

static char* StatusJsonOrError(DBEndContext* ctx) {
  char* json = nullptr;
  if (char* err = StatusJson(ctx, &json)) ereport(ERROR, (errcode(ERRCODE_CONNECTION_FAILURE), errmsg("%s", err)));
  return json;
}

char* ErrorText(const Status& st, const char* function) {
  std::string s = st.ToString();
  if (st.code() == StatusCode::kTimedOut) s += " (imlane.timeout_ms = " + std::to_string(guc_timeout_ms) + ")";
  return psprintf("imlane function \"%s\": %s", function, s.c_str());
}

DBEndContext* Context(char** err) {
  if (g_ctx && g_ctx->Connected()) return g_ctx.get();
  if (g_ctx) {
    // The coordinator went away (killed or restarted): connect again (or start one). The new one
    // knows none of our functions: marking what this backend knew as stale makes each function's
    // next lookup register it again from imlane_registry. (Not cleared: a running scan holds them.)
    g_generation++;
    g_lost_ctx = std::move(g_ctx);
  }
  Settings s;
  s.socket_path = guc_socket ? guc_socket : "";
  s.coordinator_path = guc_coordinator ? guc_coordinator : "";
  s.python_env = guc_python_env ? guc_python_env : "";
  s.n_executors = guc_executors;
  s.max_inflight = guc_max_inflight;
  s.timeout_ms = guc_timeout_ms;
  s.lane_bytes = static_cast<size_t>(guc_lane_mb) << 20;
  s.embedded_idle_exit_ms = guc_idle_exit_ms;
  auto ctx = DBEndContext::Setup(s);
  if (!ctx.ok()) {
    *err = psprintf("imlane: cannot reach or start the coordinator (imlane.socket = '%s'): %s", s.socket_path.c_str(),
                    ctx.status().ToString().c_str());
    return nullptr;
  }
  g_ctx = std::move(*ctx);
  return g_ctx.get();
}

namespace {

const FnMeta* LookupByName(const char* name, char** err) {
  if (const FnMeta* m = Find(name)) return m;
  DBEndContext* ctx = Context(err);
  if (ctx == nullptr) return nullptr;
  RegistryRow row = ReadRegistry(name);
  FunctionInfo info;
  bool known = false;
  if ((*err = Known(ctx, name, &info, &known)) != nullptr) return nullptr;
  if (!known) {
    if (!row.found) {
      *err = psprintf("imlane function \"%s\" is not registered (imlane_create_function)", name);
      return nullptr;
    }
    if ((*err = Register(ctx, name, row, &info)) != nullptr) return nullptr;
  }
  if ((*err = Remember(name, info, row.found ? row.batch_size : 0)) != nullptr) return nullptr;
  return Find(name);
}

// Does the SQL function `sql_fn` pass and take what the Lane signature says? A mismatch means the
// function was re-created (by another session) since this backend looked it up, or by hand.
bool MatchesSql(const FnMeta& fn, Oid sql_fn) {
  HeapTuple tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(sql_fn));
  if (!HeapTupleIsValid(tup)) return false;
  auto* proc = reinterpret_cast<Form_pg_proc>(GETSTRUCT(tup));
  bool ok = proc->pronargs == static_cast<int>(fn.arg_types.size()) && proc->prorettype == PgTypeOf(fn.return_type);
  for (int i = 0; ok && i < proc->pronargs; i++) ok = proc->proargtypes.values[i] == PgTypeOf(fn.arg_types[i]);
  ReleaseSysCache(tup);
  return ok;
}

}  // namespace

const FnMeta* LookupFunction(const char* name, Oid sql_fn, char** err) {
  const FnMeta* fn = LookupByName(name, err);
  if (fn == nullptr || MatchesSql(*fn, sql_fn)) return fn;
  Forget(name);  // what this backend knew is stale: ask again
  fn = LookupByName(name, err);
  if (fn == nullptr || MatchesSql(*fn, sql_fn)) return fn;
  *err = psprintf(
      "imlane function \"%s\": the SQL function %s does not match its registered signature; re-create it "
      "with imlane_create_function",
      name, format_procedure(sql_fn));
  return nullptr;
}

size_t BatchRows(DBEndContext* ctx, const FnMeta& fn) {
  if (guc_batch_size > 0) return static_cast<size_t>(guc_batch_size);
  if (fn.batch_rows > 0) return fn.batch_rows;
  return ctx->RecommendedBatchRows(fn.name);
}

ErrorData* CatchInterrupts() {
  if (!INTERRUPTS_PENDING_CONDITION()) return nullptr;
  MemoryContext mcx = CurrentMemoryContext;
  ErrorData* volatile caught = nullptr;
  PG_TRY();
  { CHECK_FOR_INTERRUPTS(); }
  PG_CATCH();
  {
    MemoryContextSwitchTo(mcx);
    caught = CopyErrorData();
    FlushErrorState();
  }
  PG_END_TRY();
  return caught;
}

ErrorData* WaitForTicket(DBEndContext* ctx, Ticket ticket, char** err, const char* function) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(guc_timeout_ms, 0));
  while (Clock::now() < deadline) {
    {
      auto ready = ctx->Wait(ticket, kSliceMs);
      if (!ready.ok()) {
        *err = ErrorText(ready.status(), function);
        return nullptr;
      }
      if (*ready) return nullptr;
    }
    if (ErrorData* ed = CatchInterrupts()) return ed;  // the caller stops the ticket (StopTickets)
  }
  return nullptr;
}

void StopTickets(DBEndContext* ctx, const std::vector<Ticket>& tickets) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(guc_cancel_grace_ms, 0));
  for (Ticket t : tickets) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left > 0) ctx->Wait(t, static_cast<int>(left)).status().IgnoreError();
    // Finished: the result is dropped. Still running past the grace: Pull's timeout replaces the
    // executor, so a hung function does not keep it after its statement is gone.
    ctx->Pull(t, 1).status().IgnoreError();
  }
}

bool IsIMLaneCall(Oid funcid, std::string* name) {
  HeapTuple tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcid));
  if (!HeapTupleIsValid(tup)) return false;
  auto* proc = reinterpret_cast<Form_pg_proc>(GETSTRUCT(tup));
  bool match = false;
  if (proc->prolang == ClanguageId) {
    bool isnull;
    Datum src = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_prosrc, &isnull);
    if (!isnull) {
      char* s = TextDatumGetCString(src);
      match = strcmp(s, "imlane_call") == 0;
      pfree(s);
    }
    if (match && name) *name = NameStr(proc->proname);
  }
  ReleaseSysCache(tup);
  return match;
}

}  // namespace pg
}  // namespace imlane

using namespace imlane::pg;  // NOLINT: PostgreSQL entry points below
using imlane::DBEndContext;
using imlane::FunctionInfo;

void _PG_init(void) {
  DefineCustomIntVariable("imlane.batch_size", "Rows per batch sent to an executor; 0 = adaptive (tuned per function).",
                          nullptr, &guc_batch_size, 0, 0, INT_MAX, PGC_USERSET, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("imlane.timeout_ms", "A batch that takes longer fails and its executor is replaced.", nullptr,
                          &guc_timeout_ms, 60000, 1, INT_MAX, PGC_USERSET, GUC_UNIT_MS, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("imlane.inflight_batches", "Batches a batching scan keeps in flight per function.", nullptr,
                          &guc_inflight_batches, 4, 1, 1024, PGC_USERSET, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("imlane.cancel_grace_ms",
                          "After a cancel or statement_timeout, batches still running this long are stopped by "
                          "replacing their executor.",
                          nullptr, &guc_cancel_grace_ms, 1000, 0, INT_MAX, PGC_USERSET, GUC_UNIT_MS, nullptr, nullptr,
                          nullptr);
  DefineCustomBoolVariable("imlane.enable_batching",
                           "Run IMLane calls of table scans in batches (off: one row per call).", nullptr,
                           &guc_enable_batching, true, PGC_USERSET, 0, nullptr, nullptr, nullptr);
  // The rest configure the backend's DBEndContext, set up at its first IMLane call.
  DefineCustomStringVariable("imlane.socket",
                             "Coordinator socket; empty = $IMLANE_SOCKET or the server user's default. "
                             "Takes effect at a backend's first IMLane call.",
                             nullptr, &guc_socket, "", PGC_USERSET, 0, nullptr, nullptr, nullptr);
  DefineCustomStringVariable("imlane.coordinator",
                             "The imlane binary to start when no coordinator answers; empty = "
                             "the one installed next to libimlane_dbend.",
                             nullptr, &guc_coordinator, "", PGC_SUSET, 0, nullptr, nullptr, nullptr);
  DefineCustomStringVariable("imlane.python_env",
                             "Virtualenv (Python 3.11) the executors of a coordinator a backend starts import "
                             "from; empty = Debian's Python.",
                             nullptr, &guc_python_env, "", PGC_SUSET, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("imlane.executors", "Executors of a coordinator a backend starts (0 = usable cores).",
                          nullptr, &guc_executors, 0, 0, 1024, PGC_SUSET, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("imlane.max_inflight", "Batches in flight per function and backend; 0 = executors x 8.",
                          nullptr, &guc_max_inflight, 0, 0, 65536, PGC_USERSET, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("imlane.lane_mb", "Shared memory per in-flight batch (input plus result), in MB.", nullptr,
                          &guc_lane_mb, 64, 1, 4096, PGC_SUSET, 0, nullptr, nullptr, nullptr);
  // Backends come and go; a coordinator that outlives them keeps its executors (and models) warm.
  DefineCustomIntVariable("imlane.idle_exit_ms",
                          "A coordinator a backend starts exits this long after its last client.", nullptr,
                          &guc_idle_exit_ms, 300000, 0, INT_MAX, PGC_SUSET, GUC_UNIT_MS, nullptr, nullptr, nullptr);
  MarkGUCPrefixReserved("imlane");
  on_proc_exit(CloseContext, 0);
  InstallBatchScan();
}

Datum imlane_create_function(PG_FUNCTION_ARGS) {
  char* name = TextArg(fcinfo, 0, "the function name");
  RegistryRow row;
  row.found = true;
  row.source = TextArg(fcinfo, 1, "the source (a .py path or Python code)");
  row.arg_types = TextArg(fcinfo, 2, "the argument types");
  row.return_type = TextArg(fcinfo, 3, "the return type");
  row.entry = PG_ARGISNULL(4) ? pstrdup("") : text_to_cstring(PG_GETARG_TEXT_PP(4));
  row.batch_size = PG_ARGISNULL(5) ? 0 : PG_GETARG_INT64(5);
  row.null_handling = PG_ARGISNULL(6) ? pstrdup("default") : text_to_cstring(PG_GETARG_TEXT_PP(6));
  row.exception_handling = PG_ARGISNULL(7) ? pstrdup("default") : text_to_cstring(PG_GETARG_TEXT_PP(7));
  if (row.batch_size < 0) {
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("imlane_create_function('%s'): batch_size must be 0 (adaptive) or a positive number of rows",
                           name)));
  }
  char *sql_args = nullptr, *sql_ret = nullptr;
  if (char* err = SqlSignature(row.arg_types, row.return_type, &sql_args, &sql_ret)) {
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("%s", err)));
  }
  TupleDesc desc;
  if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE) elog(ERROR, "imlane: record type expected");

  char* err = nullptr;
  DBEndContext* ctx = ContextOrError();
  // The coordinator first: broken code (a syntax error, a failing pyinitial) fails here, before
  // anything is created in the catalog.
  Forget(name);
  FunctionInfo* info = new FunctionInfo();  // freed below; palloc cannot hold a C++ object
  err = Register(ctx, name, row, info);
  if (err) {
    delete info;
    ereport(ERROR, (errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION), errmsg("%s", err)));
  }
  const int32 version = static_cast<int32>(info->version);
  const int32 executors = info->executors;
  char* signature = SignatureText(name, *info);
  delete info;

  // The SQL function: replaces the one an earlier registration made (its types may differ).
  RegistryRow old = ReadRegistry(name);
  if (old.found) DropSqlFunction(old.sql_function);
  // PARALLEL SAFE: every worker opens its own context. STRICT unless the function wants NULLs
  // (the executor would skip those rows anyway). A high cost keeps cheap predicates first.
  const bool strict = strcmp(row.null_handling, "special") != 0;
  RunSql(psprintf("CREATE OR REPLACE FUNCTION %s(%s) RETURNS %s AS %s, 'imlane_call' LANGUAGE C STABLE "
                  "PARALLEL SAFE %s COST 1000",
                  quote_identifier(name), sql_args, sql_ret, quote_literal_cstr(LibraryPath(fcinfo->flinfo->fn_oid)),
                  strict ? "STRICT" : "CALLED ON NULL INPUT"),
         SPI_OK_UTILITY);
  {
    char* sql = psprintf(
        "INSERT INTO %s AS r (name, source, arg_types, return_type, entry, null_handling, exception_handling, "
        "batch_size, sql_function) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::regprocedure) "
        "ON CONFLICT (name) DO UPDATE SET source = EXCLUDED.source, arg_types = EXCLUDED.arg_types, "
        "return_type = EXCLUDED.return_type, entry = EXCLUDED.entry, null_handling = EXCLUDED.null_handling, "
        "exception_handling = EXCLUDED.exception_handling, batch_size = EXCLUDED.batch_size, "
        "sql_function = EXCLUDED.sql_function",
        RegistryTable());
    Oid types[9] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID, TEXTOID};
    Datum values[9] = {CStringGetTextDatum(name),
                       CStringGetTextDatum(row.source),
                       CStringGetTextDatum(row.arg_types),
                       CStringGetTextDatum(row.return_type),
                       CStringGetTextDatum(row.entry),
                       CStringGetTextDatum(row.null_handling),
                       CStringGetTextDatum(row.exception_handling),
                       Int64GetDatum(row.batch_size),
                       CStringGetTextDatum(psprintf("%s(%s)", quote_identifier(name), sql_args))};
    SPI_connect();
    int rc = SPI_execute_with_args(sql, 9, types, values, nullptr, false, 0);
    if (rc != SPI_OK_INSERT) elog(ERROR, "imlane: writing imlane_registry failed: %s", SPI_result_code_string(rc));
    SPI_finish();
  }

  Datum out[4] = {CStringGetTextDatum(name), Int32GetDatum(version), CStringGetTextDatum(signature),
                  Int32GetDatum(executors)};
  bool nulls[4] = {false, false, false, false};
  PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), out, nulls)));
}

Datum imlane_drop_function(PG_FUNCTION_ARGS) {
  char* name = text_to_cstring(PG_GETARG_TEXT_PP(0));
  RegistryRow row = ReadRegistry(name);
  if (row.found) {
    DropSqlFunction(row.sql_function);
    RunSql(psprintf("DELETE FROM %s WHERE name = %s", RegistryTable(), quote_literal_cstr(name)), SPI_OK_DELETE);
  }
  Forget(name);
  char* err = nullptr;
  DBEndContext* ctx = ContextOrError();
  if ((err = DropFromCoordinator(ctx, name)) != nullptr) {
    ereport(ERROR, (errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION), errmsg("%s", err)));
  }
  PG_RETURN_BOOL(row.found);
}

Datum imlane_status(PG_FUNCTION_ARGS) { PG_RETURN_TEXT_P(cstring_to_text(StatusJsonOrError(ContextOrError()))); }

Datum imlane_reset_cache(PG_FUNCTION_ARGS) {
  char* name = text_to_cstring(PG_GETARG_TEXT_PP(0));
  char* err = nullptr;
  DBEndContext* ctx = ContextOrError();
  int dropped = 0;
  if ((err = ResetCache(ctx, name, &dropped)) != nullptr) {
    ereport(ERROR, (errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION), errmsg("%s", err)));
  }
  PG_RETURN_INT32(dropped);
}

Datum imlane_functions(PG_FUNCTION_ARGS) {
  auto* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  InitMaterializedSRF(fcinfo, 0);
  char* err = nullptr;
  DBEndContext* ctx = ContextOrError();
  char* json = StatusJsonOrError(ctx);
  FunctionRow* rows = nullptr;
  int n = 0;
  if ((err = ParseFunctions(json, &rows, &n)) != nullptr) ereport(ERROR, (errmsg("%s", err)));
  for (int i = 0; i < n; i++) {
    const FunctionRow& r = rows[i];
    Datum v[14] = {CStringGetTextDatum(r.text[0]),
                   Int32GetDatum(static_cast<int32>(r.ints[0])),
                   CStringGetTextDatum(r.text[1]),
                   CStringGetTextDatum(r.text[2]),
                   Int32GetDatum(static_cast<int32>(r.ints[1])),
                   Int32GetDatum(static_cast<int32>(r.ints[2])),
                   Int64GetDatum(r.ints[3]),
                   Int64GetDatum(r.ints[4]),
                   Int64GetDatum(r.ints[5]),
                   Float8GetDatum(r.reals[0]),
                   Float8GetDatum(r.reals[1]),
                   Int64GetDatum(r.ints[6]),
                   CStringGetTextDatum(r.text[3]),
                   CStringGetTextDatum(r.text[4])};
    bool nulls[14] = {};
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, nulls);
  }
  return static_cast<Datum>(0);
}

// Behind every SQL function imlane_create_function makes: dispatches by the function's name.
Datum imlane_call(PG_FUNCTION_ARGS) {
  struct CallCache {
    char name[NAMEDATALEN];
  };
  auto* cache = static_cast<CallCache*>(fcinfo->flinfo->fn_extra);
  if (cache == nullptr) {
    cache = static_cast<CallCache*>(MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(CallCache)));
    char* proname = get_func_name(fcinfo->flinfo->fn_oid);
    if (proname == nullptr) elog(ERROR, "imlane: cache lookup failed for function %u", fcinfo->flinfo->fn_oid);
    strlcpy(cache->name, proname, NAMEDATALEN);
    fcinfo->flinfo->fn_extra = cache;
  }
  char* err = nullptr;
  const FnMeta* fn = LookupFunction(cache->name, fcinfo->flinfo->fn_oid, &err);
  if (fn == nullptr) ereport(ERROR, (errcode(ERRCODE_UNDEFINED_FUNCTION), errmsg("%s", err)));
  Datum result = static_cast<Datum>(0);
  bool isnull = false;
  ErrorData* interrupted = RowCall(fn, fcinfo, &result, &isnull, &err);
  if (interrupted) ReThrowError(interrupted);
  if (err) ereport(ERROR, (errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION), errmsg("%s", err)));
  if (isnull) PG_RETURN_NULL();
  return result;
}
