#include "prediction_operator.hpp"

#include <chrono>
#include <deque>
#include <map>
#include <optional>

#include "duckdb/execution/expression_executor.hpp"
#include "duckdb/execution/physical_operator.hpp"
#include "duckdb/execution/physical_plan_generator.hpp"
#include "duckdb/optimizer/column_binding_replacer.hpp"
#include "duckdb/optimizer/optimizer.hpp"
#include "duckdb/optimizer/optimizer_extension.hpp"
#include "duckdb/planner/binder.hpp"
#include "duckdb/planner/expression/bound_columnref_expression.hpp"
#include "duckdb/planner/operator/logical_aggregate.hpp"
#include "duckdb/planner/expression/bound_conjunction_expression.hpp"
#include "duckdb/planner/expression/bound_reference_expression.hpp"
#include "duckdb/planner/expression_iterator.hpp"
#include "duckdb/planner/operator/logical_extension_operator.hpp"
#include "duckdb/planner/operator/logical_filter.hpp"
#include "duckdb/planner/operator/logical_projection.hpp"
#include "duckdb_table_converter.hpp"
#include "imlane_state.hpp"

namespace imlane {
namespace duckdb_integration {

using namespace duckdb;  // NOLINT: DuckDB glue

namespace {

constexpr size_t kInflightPerThread = 2;  // submitted batches per DuckDB thread before it waits

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

// One distinct IMLane call of the operator: its function, argument expressions, result type.
struct PredictCall {
  std::string function;
  vector<unique_ptr<Expression>> args;
  vector<LogicalType> arg_types;
  LogicalType return_type;
};

// ---- Physical operator ---------------------------------------------------------------------------

class PhysicalPredict : public PhysicalOperator {
 public:
  // For a filter, expressions[num_predicates..] are calls whose results the filter also outputs
  // (after the input columns), so that the projection above reuses them instead of calling again.
  PhysicalPredict(PhysicalPlan &plan, vector<LogicalType> types, idx_t cardinality, bool is_filter,
                  vector<unique_ptr<Expression>> expressions, idx_t num_predicates, vector<idx_t> projection_map,
                  vector<LogicalType> input_types)
      : PhysicalOperator(plan, PhysicalOperatorType::EXTENSION, std::move(types), cardinality),
        is_filter_(is_filter), projection_map_(std::move(projection_map)), input_types_(std::move(input_types)) {
    // Each distinct IMLane call becomes an extra column after the input columns; the expressions
    // then read it by reference, so a call shared by several expressions runs once per row.
    for (auto &expr : expressions) Extract(expr);
    if (is_filter_) {
      for (idx_t i = num_predicates; i < expressions.size(); i++) {
        exported_.push_back(expressions[i]->Cast<BoundReferenceExpression>().index);
      }
      expressions.resize(num_predicates);
    }
    if (is_filter_ && expressions.size() > 1) {
      auto conj = make_uniq<BoundConjunctionExpression>(ExpressionType::CONJUNCTION_AND);
      for (auto &e : expressions) conj->children.push_back(std::move(e));
      expressions.clear();
      expressions.push_back(std::move(conj));
    }
    expressions_ = std::move(expressions);
    extended_types_ = input_types_;
    for (auto &c : calls_) extended_types_.push_back(c.return_type);
  }

  string GetName() const override { return is_filter_ ? "IMLANE_PREDICT_FILTER" : "IMLANE_PREDICT_PROJECTION"; }

  InsertionOrderPreservingMap<string> ParamsToString() const override {
    InsertionOrderPreservingMap<string> result;
    string fns;
    for (auto &c : calls_) fns += (fns.empty() ? "" : ", ") + c.function;
    result["Functions"] = fns;
    string exprs;
    for (auto &e : expressions_) exprs += (exprs.empty() ? "" : "\n") + e->GetName();
    result[is_filter_ ? "Filter" : "Projections"] = exprs;
    return result;
  }

  bool ParallelOperator() const override { return true; }
  bool RequiresFinalExecute() const override { return true; }
  // Results leave in input order per thread, but later than their input arrived.
  OrderPreservationType OperatorOrder() const override { return OrderPreservationType::NO_ORDER; }
  // DuckDB 1.4's planner never asks OperatorOrder() when it picks the sink: PreserveInsertionOrder()
  // (OrderPreservationRecursive) only reads SourceOrder() of operators whose IsSource() is true.
  // Without this, with threads > 1 it picks a batch-index sink (PhysicalBatchCollector,
  // PhysicalBatchInsert, PhysicalBatchCopyToFile, PhysicalLimit), and since the pipeline executor
  // gives every thread's FinalExecute output the pipeline's maximum batch index, those sinks fail
  // on the duplicate ("batch index ... is present in both collections"). Declaring NO_ORDER here
  // makes it pick the parallel unordered sinks instead. Nothing else in DuckDB 1.4 reads IsSource()
  // of a non-join operator: pipeline sources are chosen by structure (a leaf or a sink), never by
  // IsSource(), so GetData is never called on this operator.
  bool IsSource() const override { return true; }
  OrderPreservationType SourceOrder() const override { return OrderPreservationType::NO_ORDER; }

  unique_ptr<OperatorState> GetOperatorState(ExecutionContext &context) const override;
  OperatorResultType Execute(ExecutionContext &context, DataChunk &input, DataChunk &chunk, GlobalOperatorState &gstate,
                             OperatorState &state) const override;
  OperatorFinalizeResultType FinalExecute(ExecutionContext &context, DataChunk &chunk, GlobalOperatorState &gstate,
                                          OperatorState &state) const override;

  bool is_filter_;
  vector<idx_t> projection_map_;
  vector<LogicalType> input_types_;
  vector<LogicalType> extended_types_;
  vector<PredictCall> calls_;
  vector<unique_ptr<Expression>> expressions_;
  vector<idx_t> exported_;  // filter: extended-chunk columns also output after the input columns

 private:
  void Extract(unique_ptr<Expression> &expr) {
    if (expr->GetExpressionClass() == ExpressionClass::BOUND_FUNCTION) {
      auto &fn = expr->Cast<BoundFunctionExpression>();
      if (IsIMLaneFunction(fn)) {
        idx_t k = 0;
        for (; k < calls_.size(); k++) {
          if (calls_[k].function != IMLaneFunctionName(fn) || calls_[k].args.size() != fn.children.size()) continue;
          bool same = true;
          for (idx_t a = 0; a < fn.children.size(); a++) same = same && calls_[k].args[a]->Equals(*fn.children[a]);
          if (same) break;
        }
        if (k == calls_.size()) {
          PredictCall call;
          call.function = IMLaneFunctionName(fn);
          for (auto &child : fn.children) {
            call.arg_types.push_back(child->return_type);
            call.args.push_back(child->Copy());
          }
          call.return_type = fn.return_type;
          calls_.push_back(std::move(call));
        }
        expr = make_uniq<BoundReferenceExpression>(fn.return_type, input_types_.size() + k);
        return;
      }
    }
    ExpressionIterator::EnumerateChildren(*expr, [&](unique_ptr<Expression> &child) { Extract(child); });
  }
};

// Where the rows of one buffered input chunk went, for one call: a run of rows in one batch.
struct Segment {
  size_t batch;         // sequence number of the batch (per call, per thread)
  size_t batch_offset;  // first row inside that batch
  size_t count;
  size_t chunk_offset;  // first row inside the input chunk
};

struct CallState {
  unique_ptr<ExpressionExecutor> args;
  DataChunk arg_chunk;
  std::optional<OpenBatch> open;
  size_t next_batch = 0;                      // sequence number of the open (or next) batch
  size_t spread_rows = 0;                     // largest batch that still spreads the input; 0 = unknown
  size_t consumed_rows = 0;                   // input rows this thread has seen
  std::map<size_t, Ticket> submitted;         // batch -> ticket, not pulled yet
  std::map<size_t, PulledBatch> results;      // batch -> result, still referenced by buffered chunks
};

struct BufferedChunk {
  unique_ptr<DataChunk> input;
  vector<vector<Segment>> segments;  // per call
};

class PredictState : public OperatorState {
 public:
  ~PredictState() override {
    // A query that fails or stops early (LIMIT) leaves batches in flight: give their slots back.
    for (auto &c : calls) {
      for (auto &[batch, ticket] : c->submitted) ctx->Discard(ticket);
    }
  }
  DBEndContext *ctx = nullptr;
  ClientContext *client = nullptr;
  size_t pinned_rows = 0;
  int timeout_ms = 60000;
  vector<unique_ptr<CallState>> calls;
  std::deque<BufferedChunk> buffered;
  BufferedChunk emitted;  // the last emitted chunk: the output references its vectors
  unique_ptr<ExpressionExecutor> output;
  DataChunk extended;
  SelectionVector sel;
  bool input_consumed = false;
  bool flushed = false;
};

void Check(const Status &st) {
  if (!st.ok()) ThrowStatus(st);
}

unique_ptr<OperatorState> PhysicalPredict::GetOperatorState(ExecutionContext &context) const {
  auto state = make_uniq<PredictState>();
  ClientContext &client = context.client;
  auto ctx = GetState(client).Context(client);
  if (!ctx.ok()) ThrowStatus(ctx.status());
  state->ctx = *ctx;
  state->client = &client;
  // At least one DuckDB vector per batch: a buffered chunk can only be emitted once every batch
  // holding its rows is back, so a chunk spread over more batches than this thread can have slots
  // would wait forever for a slot (seen with imlane_batch_size = 128: 16 batches per chunk, 8 slots).
  const int64_t pinned = IntSetting(client, "imlane_batch_size", 0);
  state->pinned_rows = pinned <= 0 ? 0 : std::max<size_t>(static_cast<size_t>(pinned), STANDARD_VECTOR_SIZE);
  state->timeout_ms = static_cast<int>(IntSetting(client, "imlane_timeout_ms", 60000));
  for (idx_t k = 0; k < calls_.size(); k++) {
    auto call = make_uniq<CallState>();
    call->args = make_uniq<ExpressionExecutor>(client, calls_[k].args);
    call->arg_chunk.Initialize(client, calls_[k].arg_types);
    state->calls.push_back(std::move(call));
  }
  state->output = make_uniq<ExpressionExecutor>(client, expressions_);
  state->extended.Initialize(client, extended_types_);
  state->sel.Initialize(STANDARD_VECTOR_SIZE);
  return std::move(state);
}

void Submit(PredictState &s, CallState &c) {
  auto ticket = s.ctx->Submit(std::move(*c.open));
  c.open.reset();
  if (!ticket.ok()) ThrowStatus(ticket.status());
  c.submitted[c.next_batch++] = *ticket;
}

// Rows of the next batch: the pinned size, else the tuner's, but never so many that a small input
// ends up in fewer batches than there are executors: at most the input's estimated rows divided by
// the executors serving the function. Without this cap, a tuner that has grown to 8192 rows runs a
// 16,000-row input as one batch on one executor, and 680 expensive rows (a forecast per row) as one.
// DuckDB's estimates after joins can be far too low: once this thread has seen twice the estimate,
// the cap is dropped and the tuner's size stands.
size_t BatchRows(const PhysicalPredict &op, PredictState &s, CallState &c, const std::string &name) {
  if (s.pinned_rows) return s.pinned_rows;
  const size_t rows = s.ctx->RecommendedBatchRows(name);
  const idx_t input = op.children[0].get().estimated_cardinality;
  if (c.spread_rows == 0 && input > 0) {
    auto info = s.ctx->GetFunction(name);  // executors are known once the first batch took a slot
    if (info.ok() && info->executors > 0) {
      const size_t executors = static_cast<size_t>(info->executors);
      c.spread_rows = std::max<size_t>(1, (input + executors - 1) / executors);
    }
  }
  if (c.spread_rows == 0 || c.consumed_rows > 2 * input) return rows;
  return std::min(rows, c.spread_rows);
}

// Evaluates the call's arguments for `input` and appends them to the open batch(es).
void Consume(const PhysicalPredict &op, PredictState &s, idx_t k, DataChunk &input, BufferedChunk &buffered) {
  CallState &c = *s.calls[k];
  const std::string &name = op.calls_[k].function;
  c.arg_chunk.Reset();
  c.args->Execute(input, c.arg_chunk);
  const size_t n = input.size();
  c.consumed_rows += n;
  size_t offset = 0;
  while (offset < n) {
    if (!c.open) {
      size_t rows = BatchRows(op, s, c, name);
      // A batch begun inside a chunk takes the rest of it: a chunk never spans more than two
      // batches, whatever the size, so its rows never need more slots than a thread can hold.
      if (offset > 0) rows = std::max(rows, n - offset);
      auto open = s.ctx->BeginBatch(name, rows);
      if (!open.ok()) ThrowStatus(open.status());
      c.open.emplace(std::move(*open));
    }
    const size_t before = c.open->num_rows();
    const size_t take = std::min(n - offset, c.open->capacity_rows() - before);
    Status st = DuckDBConverter::Write(c.arg_chunk, offset, take, &c.open->builder());
    if (st.code() == StatusCode::kCapacityExceeded && before > 0) {
      c.open->builder().Truncate(before);  // long strings filled the Lane: ship what fits
      Submit(s, c);
      continue;
    }
    Check(st);
    buffered.segments[k].push_back(Segment{c.next_batch, before, take, offset});
    offset += take;
    if (c.open->num_rows() == c.open->capacity_rows()) Submit(s, c);
  }
}

// True when every batch the front chunk needs has been submitted; pulls them (blocking or not).
bool FrontReady(PredictState &s, bool block) {
  if (s.buffered.empty()) return false;
  BufferedChunk &front = s.buffered.front();
  for (idx_t k = 0; k < s.calls.size(); k++) {
    CallState &c = *s.calls[k];
    for (auto &seg : front.segments[k]) {
      if (c.results.count(seg.batch)) continue;
      auto it = c.submitted.find(seg.batch);
      if (it == c.submitted.end()) return false;  // still in the open batch
      if (block) {
        // Wait in short slices so that an interrupted query stops at once; its batches are
        // discarded (the executors stay). Only a batch past imlane_timeout_ms kills its executor.
        const auto start = std::chrono::steady_clock::now();
        while (true) {
          auto ready = s.ctx->Wait(it->second, 50);
          if (!ready.ok()) ThrowStatus(ready.status());
          if (*ready) break;
          if (s.client->interrupted) throw InterruptException();
          if (std::chrono::steady_clock::now() - start > std::chrono::milliseconds(s.timeout_ms)) break;
        }
        auto r = s.ctx->Pull(it->second, 0);
        if (!r.ok()) ThrowStatus(r.status());
        c.results.emplace(seg.batch, std::move(*r));
      } else {
        auto r = s.ctx->TryPull(it->second);
        if (!r.ok()) ThrowStatus(r.status());
        if (!r->has_value()) return false;
        c.results.emplace(seg.batch, std::move(**r));
      }
      c.submitted.erase(it);
    }
  }
  return true;
}

// Produces the output of the front chunk and drops results nobody needs any more.
void EmitFront(const PhysicalPredict &op, PredictState &s, DataChunk &out) {
  BufferedChunk front = std::move(s.buffered.front());
  s.buffered.pop_front();
  DataChunk &input = *front.input;
  const idx_t n = input.size();
  DataChunk &ext = s.extended;
  ext.Reset();
  for (idx_t i = 0; i < input.ColumnCount(); i++) ext.data[i].Reference(input.data[i]);
  const idx_t width = input.ColumnCount();
  for (idx_t k = 0; k < s.calls.size(); k++) {
    for (auto &seg : front.segments[k]) {
      const ColumnView &col = s.calls[k]->results.at(seg.batch).batch().column(0);
      Check(ReadColumnAt(col, seg.batch_offset, seg.count, &ext.data[width + k], seg.chunk_offset));
    }
  }
  ext.SetCardinality(n);
  if (op.is_filter_) {
    idx_t count = s.output->SelectExpression(ext, s.sel);
    idx_t m = 0;
    if (op.projection_map_.empty()) {
      for (; m < input.ColumnCount(); m++) out.data[m].Slice(input.data[m], s.sel, count);
    } else {
      for (; m < op.projection_map_.size(); m++) out.data[m].Slice(input.data[op.projection_map_[m]], s.sel, count);
    }
    for (idx_t j = 0; j < op.exported_.size(); j++) out.data[m + j].Slice(ext.data[op.exported_[j]], s.sel, count);
    out.SetCardinality(count);
  } else {
    s.output->Execute(ext, out);
  }
  // Results of batches that no buffered chunk refers to any more give their slots back.
  for (idx_t k = 0; k < s.calls.size(); k++) {
    size_t keep_from = s.calls[k]->next_batch;
    if (!s.buffered.empty() && !s.buffered.front().segments[k].empty()) {
      keep_from = s.buffered.front().segments[k].front().batch;
    }
    auto &results = s.calls[k]->results;
    results.erase(results.begin(), results.lower_bound(keep_from));
  }
  s.emitted = std::move(front);
}

size_t Inflight(const PredictState &s) {
  size_t most = 0;
  for (auto &c : s.calls) most = std::max(most, c->submitted.size() + c->results.size());
  return most;
}

OperatorResultType PhysicalPredict::Execute(ExecutionContext &context, DataChunk &input, DataChunk &chunk,
                                            GlobalOperatorState &, OperatorState &state_p) const {
  auto &s = state_p.Cast<PredictState>();
  if (!s.input_consumed && input.size() > 0) {
    BufferedChunk buffered;
    buffered.input = make_uniq<DataChunk>();
    buffered.input->Initialize(context.client, input_types_);
    input.Copy(*buffered.input);
    buffered.segments.resize(calls_.size());
    for (idx_t k = 0; k < calls_.size(); k++) Consume(*this, s, k, *buffered.input, buffered);
    s.buffered.push_back(std::move(buffered));
  }
  s.input_consumed = true;
  // Wait only when this thread has enough batches in flight; otherwise take what is ready.
  const bool block = Inflight(s) >= kInflightPerThread;
  if (FrontReady(s, block)) {
    EmitFront(*this, s, chunk);
    if (FrontReady(s, false)) return OperatorResultType::HAVE_MORE_OUTPUT;
  }
  s.input_consumed = false;
  return OperatorResultType::NEED_MORE_INPUT;
}

OperatorFinalizeResultType PhysicalPredict::FinalExecute(ExecutionContext &, DataChunk &chunk, GlobalOperatorState &,
                                                         OperatorState &state_p) const {
  auto &s = state_p.Cast<PredictState>();
  if (!s.flushed) {
    for (auto &c : s.calls) {
      if (c->open && c->open->num_rows() > 0) {
        Submit(s, *c);
      } else {
        c->open.reset();
      }
    }
    s.flushed = true;
  }
  if (FrontReady(s, true)) EmitFront(*this, s, chunk);
  return s.buffered.empty() ? OperatorFinalizeResultType::FINISHED : OperatorFinalizeResultType::HAVE_MORE_OUTPUT;
}

// ---- Logical operator and optimizer ---------------------------------------------------------------

class LogicalPredict : public LogicalExtensionOperator {
 public:
  static unique_ptr<LogicalPredict> FromProjection(LogicalProjection &proj) {
    auto op = make_uniq<LogicalPredict>();
    op->is_filter = false;
    op->table_index = proj.table_index;
    op->expressions = std::move(proj.expressions);
    op->children = std::move(proj.children);
    op->estimated_cardinality = proj.estimated_cardinality;
    return op;
  }
  static unique_ptr<LogicalPredict> FromFilter(vector<unique_ptr<Expression>> predicates, vector<idx_t> projection_map,
                                               unique_ptr<LogicalOperator> child, idx_t cardinality) {
    auto op = make_uniq<LogicalPredict>();
    op->is_filter = true;
    op->num_predicates = predicates.size();
    op->expressions = std::move(predicates);
    op->projection_map = std::move(projection_map);
    op->children.push_back(std::move(child));
    op->estimated_cardinality = cardinality;
    return op;
  }

  vector<ColumnBinding> GetColumnBindings() override {
    if (!is_filter) return GenerateColumnBindings(table_index, expressions.size());
    auto bindings = MapBindings(children[0]->GetColumnBindings(), projection_map);
    for (idx_t j = num_predicates; j < expressions.size(); j++) bindings.emplace_back(table_index, j - num_predicates);
    return bindings;
  }
  vector<idx_t> GetTableIndex() const override {
    return !is_filter || expressions.size() > num_predicates ? vector<idx_t>{table_index} : vector<idx_t>();
  }
  // Filter: makes the filter output `call` too (it must occur in a predicate); returns its binding.
  ColumnBinding Export(Binder &binder, const Expression &call) {
    if (expressions.size() == num_predicates) table_index = binder.GenerateTableIndex();
    idx_t j = num_predicates;
    while (j < expressions.size() && !expressions[j]->Equals(call)) j++;
    if (j == expressions.size()) expressions.push_back(call.Copy());
    return ColumnBinding(table_index, j - num_predicates);
  }
  string GetExtensionName() const override { return "imlane"; }
  string GetName() const override { return is_filter ? "IMLANE_PREDICT_FILTER" : "IMLANE_PREDICT_PROJECTION"; }

  PhysicalOperator &CreatePlan(ClientContext &context, PhysicalPlanGenerator &planner) override {
    auto &child = planner.CreatePlan(*children[0]);
    vector<unique_ptr<Expression>> exprs;
    for (auto &e : expressions) exprs.push_back(e->Copy());
    auto &op = planner.Make<PhysicalPredict>(types, estimated_cardinality, is_filter, std::move(exprs), num_predicates,
                                            projection_map, children[0]->types);
    op.children.push_back(child);
    return op;
  }

  bool is_filter = false;
  idx_t table_index = 0;      // projection: its bindings; filter: those of exported calls
  idx_t num_predicates = 0;   // filter: expressions[0..num_predicates) are the predicates
  vector<idx_t> projection_map;

 protected:
  void ResolveTypes() override {
    if (is_filter) {
      types = MapTypes(children[0]->types, projection_map);
      for (idx_t j = num_predicates; j < expressions.size(); j++) types.push_back(expressions[j]->return_type);
    } else {
      types.clear();
      for (auto &e : expressions) types.push_back(e->return_type);
    }
  }
};

// Moves the IMLane calls inside `targets` (expressions of `op`, which reads its only child) into a
// new projection between `op` and its child, so that the prediction operator can batch them: e.g.
// SUM(f(x)) or GROUP BY f(x), which an aggregate would otherwise evaluate per DuckDB vector.
void HoistIntoProjection(Binder &binder, LogicalOperator &op, vector<unique_ptr<Expression> *> targets) {
  auto &child = op.children[0];
  child->ResolveOperatorTypes();
  auto bindings = child->GetColumnBindings();
  const idx_t index = binder.GenerateTableIndex();
  vector<unique_ptr<Expression>> select;
  ColumnBindingReplacer replacer;
  for (idx_t i = 0; i < bindings.size(); i++) {
    select.push_back(make_uniq<BoundColumnRefExpression>(child->types[i], bindings[i]));
    replacer.replacement_bindings.emplace_back(bindings[i], ColumnBinding(index, i));
  }
  const idx_t width = select.size();
  std::function<void(unique_ptr<Expression> &)> hoist = [&](unique_ptr<Expression> &e) {
    if (e->GetExpressionClass() == ExpressionClass::BOUND_FUNCTION &&
        IsIMLaneFunction(e->Cast<BoundFunctionExpression>())) {
      idx_t pos = width;
      while (pos < select.size() && !select[pos]->Equals(*e)) pos++;
      if (pos == select.size()) select.push_back(e->Copy());
      e = make_uniq<BoundColumnRefExpression>(e->return_type, ColumnBinding(index, pos));
      return;
    }
    ExpressionIterator::EnumerateChildren(*e, hoist);
  };
  for (auto *t : targets) hoist(*t);
  auto projection = make_uniq<LogicalProjection>(index, std::move(select));
  projection->children.push_back(std::move(child));
  replacer.stop_operator = projection.get();
  op.children[0] = std::move(projection);
  // What `op` read from its child it now reads through the projection's pass-through columns.
  replacer.VisitOperator(op);
  op.children[0]->ResolveOperatorTypes();
  op.children[0] = LogicalPredict::FromProjection(op.children[0]->Cast<LogicalProjection>());
  op.children[0]->ResolveOperatorTypes();
  op.ResolveOperatorTypes();
}

bool ContainsEqual(const Expression &haystack, const Expression &needle) {
  if (haystack.Equals(needle)) return true;
  bool found = false;
  ExpressionIterator::EnumerateChildren(haystack, [&](const Expression &c) { found = found || ContainsEqual(c, needle); });
  return found;
}

// SELECT f(x) ... WHERE f(x) = 1: the projection reads f(x) from the prediction filter below it
// instead of calling the model a second time for every row that passed.
void ReuseFilterResults(Binder &binder, LogicalOperator &projection) {
  auto &child = projection.children[0];
  if (child->type != LogicalOperatorType::LOGICAL_EXTENSION_OPERATOR) return;
  auto *filter = dynamic_cast<LogicalPredict *>(child.get());
  if (filter == nullptr || !filter->is_filter) return;
  std::function<void(unique_ptr<Expression> &)> reuse = [&](unique_ptr<Expression> &e) {
    if (e->GetExpressionClass() == ExpressionClass::BOUND_FUNCTION && IsIMLaneFunction(e->Cast<BoundFunctionExpression>())) {
      for (idx_t p = 0; p < filter->num_predicates; p++) {
        if (ContainsEqual(*filter->expressions[p], *e)) {
          auto type = e->return_type;
          e = make_uniq<BoundColumnRefExpression>(type, filter->Export(binder, *e));
          return;
        }
      }
    }
    ExpressionIterator::EnumerateChildren(*e, reuse);
  };
  for (auto &e : projection.expressions) reuse(e);
  filter->ResolveOperatorTypes();
}

// True when a LIMIT may stop the pipeline that `op` would run in. DuckDB 1.4 skips FinalExecute
// of later operators when an operator ends its pipeline early, so the prediction operator, which
// holds rows back until its batch is full, must not sit above a streaming LIMIT; those calls stay
// on the per-vector path (a LIMIT needs few rows anyway).
bool LimitInPipeline(LogicalOperator &op) {
  switch (op.type) {
  case LogicalOperatorType::LOGICAL_LIMIT:
    return true;
  case LogicalOperatorType::LOGICAL_PROJECTION:
  case LogicalOperatorType::LOGICAL_FILTER:
  case LogicalOperatorType::LOGICAL_EXTENSION_OPERATOR:
  case LogicalOperatorType::LOGICAL_COMPARISON_JOIN:  // the probe side continues the pipeline
  case LogicalOperatorType::LOGICAL_DELIM_JOIN:
  case LogicalOperatorType::LOGICAL_ANY_JOIN:
    return !op.children.empty() && LimitInPipeline(*op.children[0]);
  default:
    return false;
  }
}

void Rewrite(Binder &binder, unique_ptr<LogicalOperator> &op) {
  for (auto &child : op->children) Rewrite(binder, child);
  if (op->children.size() == 1 && LimitInPipeline(*op->children[0])) return;
  if (op->type == LogicalOperatorType::LOGICAL_PROJECTION) ReuseFilterResults(binder, *op);
  if (op->type == LogicalOperatorType::LOGICAL_PROJECTION && ContainsIMLane(op->expressions)) {
    op = LogicalPredict::FromProjection(op->Cast<LogicalProjection>());
    op->ResolveOperatorTypes();
    return;
  }
  if (op->type == LogicalOperatorType::LOGICAL_AGGREGATE_AND_GROUP_BY) {
    auto &agg = op->Cast<LogicalAggregate>();
    vector<unique_ptr<Expression> *> targets;
    for (auto &g : agg.groups) {
      if (ContainsIMLane(*g)) targets.push_back(&g);
    }
    for (auto &e : agg.expressions) {
      if (ContainsIMLane(*e)) targets.push_back(&e);
    }
    if (!targets.empty()) HoistIntoProjection(binder, agg, std::move(targets));
    return;
  }
  if (op->type == LogicalOperatorType::LOGICAL_FILTER && ContainsIMLane(op->expressions)) {
    auto &filter = op->Cast<LogicalFilter>();
    filter.SplitPredicates();
    // Cheap predicates first: the model only sees rows that pass them.
    vector<unique_ptr<Expression>> cheap, predict;
    for (auto &e : filter.expressions) (ContainsIMLane(*e) ? predict : cheap).push_back(std::move(e));
    unique_ptr<LogicalOperator> child = std::move(filter.children[0]);
    if (!cheap.empty()) {
      auto pre = make_uniq<LogicalFilter>();
      pre->expressions = std::move(cheap);
      pre->children.push_back(std::move(child));
      pre->ResolveOperatorTypes();
      child = std::move(pre);
    }
    auto cardinality = filter.estimated_cardinality;
    op = LogicalPredict::FromFilter(std::move(predict), filter.projection_map, std::move(child), cardinality);
    op->ResolveOperatorTypes();
  }
}

void Optimize(OptimizerExtensionInput &input, unique_ptr<LogicalOperator> &plan) { Rewrite(input.optimizer.binder, plan); }

}  // namespace

void RegisterPredictionOptimizer(DatabaseInstance &db) {
  OptimizerExtension ext;
  ext.optimize_function = Optimize;
  // Pushed after the database exists: an extension in the constructor's DBConfig did not run.
  DBConfig::GetConfig(db).optimizer_extensions.push_back(std::move(ext));
}

}  // namespace duckdb_integration
}  // namespace imlane
