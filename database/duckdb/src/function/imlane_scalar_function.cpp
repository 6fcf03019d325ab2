#include "function/imlane_scalar_function.hpp"

#include "duckdb/execution/expression_executor_state.hpp"
#include "duckdb/planner/expression_iterator.hpp"
#include "duckdb_table_converter.hpp"
#include "function/imlane_settings.hpp"
#include "imlane_state.hpp"
#include "pull_batch.hpp"

namespace imlane {
namespace duckdb_integration {

using namespace duckdb;  // NOLINT: DuckDB glue

namespace {

// Per thread and query: the context and the function version the query started with.
struct ScalarCallState : public FunctionLocalState {
  std::shared_ptr<DBEndContext> ctx;
  FunctionPin pin;  // after ctx: released before it
};

unique_ptr<FunctionLocalState> InitScalarCall(ExpressionState &state, const BoundFunctionExpression &expr,
                                              FunctionData *) {
  ClientContext &client = state.GetContext();
  auto ctx = GetState(client).Context(client);
  if (!ctx.ok()) ThrowStatus(ctx.status());
  auto pin = (*ctx)->Pin(IMLaneFunctionName(expr));
  if (!pin.ok()) ThrowStatus(pin.status());
  CheckBoundSignature(*pin, expr.function.arguments);
  auto out = make_uniq<ScalarCallState>();
  out->ctx = std::move(*ctx);
  out->pin = pin.MoveValue();
  return std::move(out);
}

}  // namespace

static void IMLaneScalarExecute(DataChunk &args, ExpressionState &state, Vector &result) {
  const std::string &name = IMLaneFunctionName(state.expr.Cast<BoundFunctionExpression>());
  ClientContext &client = state.GetContext();
  auto &call = ExecuteFunctionState::GetFunctionState(state)->Cast<ScalarCallState>();
  DBEndContext *ctx = call.ctx.get();
  const size_t n = args.size();
  auto open = ctx->BeginBatch(call.pin, n);
  if (!open.ok()) ThrowStatus(open.status());
  Status st = DuckDBConverter::Write(args, 0, n, &open->builder());
  if (!st.ok()) ThrowStatus(st);
  auto ticket = ctx->Submit(std::move(*open));
  if (!ticket.ok()) ThrowStatus(ticket.status());
  PulledBatch pulled = PullBatch(*ctx, client, *ticket, TimeoutMsSetting(client));
  st = DuckDBConverter::ReadColumn(pulled.batch().column(0), 0, n, &result);
  if (!st.ok()) ThrowStatus(st.WithContext("imlane function '" + name + "'"));
}

ScalarFunction IMLaneScalarFunction::GetFunction(const FunctionSpec &spec, bool side_effects) {
  vector<LogicalType> args;
  for (TypeId t : spec.arg_types) args.push_back(DuckDBTypeOf(t));
  ScalarFunction f(spec.name, args, DuckDBTypeOf(spec.return_types[0]), IMLaneScalarExecute);
  f.init_local_state = InitScalarCall;
  f.function_info = make_shared_ptr<IMLaneFunctionInfo>(spec.name);
  // The executor skips rows with NULL arguments itself ('default', for every engine); telling DuckDB
  // too lets its binder fold a call with a constant NULL argument to NULL. 'special': NULLs go to
  // Python like any other value (as NaN / None): the model decides.
  f.null_handling = spec.null_handling == NullHandling::kDefault ? FunctionNullHandling::DEFAULT_NULL_HANDLING
                                                                 : FunctionNullHandling::SPECIAL_HANDLING;
  // CONSISTENT (DuckDB's default) otherwise, as before: same arguments, same result.
  if (side_effects) f.stability = FunctionStability::VOLATILE;
  return f;
}

bool IsIMLaneFunction(const BoundFunctionExpression &expr) {
  return expr.function.function_info &&
         dynamic_cast<const IMLaneFunctionInfo *>(expr.function.function_info.get()) != nullptr;
}

const std::string &IMLaneFunctionName(const BoundFunctionExpression &expr) {
  return expr.function.function_info->Cast<IMLaneFunctionInfo>().name;
}

bool ContainsIMLane(const Expression &expr) {
  if (expr.GetExpressionClass() == ExpressionClass::BOUND_FUNCTION &&
      IsIMLaneFunction(expr.Cast<BoundFunctionExpression>())) {
    return true;
  }
  bool found = false;
  ExpressionIterator::EnumerateChildren(expr, [&](const Expression &child) { found = found || ContainsIMLane(child); });
  return found;
}

bool ContainsIMLane(const vector<unique_ptr<Expression>> &exprs) {
  for (auto &e : exprs) {
    if (ContainsIMLane(*e)) return true;
  }
  return false;
}

}  // namespace duckdb_integration
}  // namespace imlane
