#include "operator/physical_predict.hpp"

#include <deque>
#include <map>

#include "duckdb/execution/expression_executor.hpp"
#include "duckdb/planner/expression/bound_conjunction_expression.hpp"
#include "duckdb/planner/expression/bound_function_expression.hpp"
#include "duckdb/planner/expression/bound_reference_expression.hpp"
#include "duckdb/planner/expression_iterator.hpp"
#include "duckdb_table_converter.hpp"
#include "function/imlane_scalar_function.hpp"
#include "function/imlane_settings.hpp"
#include "imlane/batch_accumulator.h"
#include "imlane_state.hpp"
#include "pull_batch.hpp"

namespace imlane {
namespace duckdb_integration {

using namespace duckdb;  // NOLINT: DuckDB glue

PhysicalPredict::PhysicalPredict(PhysicalPlan &plan, vector<LogicalType> types_p, idx_t cardinality, bool is_filter_p,
                                 vector<unique_ptr<Expression>> expressions_p, idx_t num_predicates,
                                 vector<idx_t> projection_map_p, vector<LogicalType> input_types_p)
    : PhysicalOperator(plan, PhysicalOperatorType::EXTENSION, std::move(types_p), cardinality),
      is_filter(is_filter_p),
      projection_map(std::move(projection_map_p)),
      input_types(std::move(input_types_p)) {
  // Each distinct IMLane call becomes an extra column after the input columns; the expressions
  // then read it by reference, so a call shared by several expressions runs once per row.
  for (auto &expr : expressions_p) ExtractCalls(expr);
  if (is_filter) {
    for (idx_t i = num_predicates; i < expressions_p.size(); i++) {
      exported.push_back(expressions_p[i]->Cast<BoundReferenceExpression>().index);
    }
    expressions_p.resize(num_predicates);
  }
  if (is_filter && expressions_p.size() > 1) {
    auto conj = make_uniq<BoundConjunctionExpression>(ExpressionType::CONJUNCTION_AND);
    for (auto &e : expressions_p) conj->children.push_back(std::move(e));
    expressions_p.clear();
    expressions_p.push_back(std::move(conj));
  }
  expressions = std::move(expressions_p);
  extended_types = input_types;
  for (auto &c : calls) extended_types.push_back(c.return_type);
}

void PhysicalPredict::ExtractCalls(unique_ptr<Expression> &expr) {
  if (expr->GetExpressionClass() == ExpressionClass::BOUND_FUNCTION) {
    auto &fn = expr->Cast<BoundFunctionExpression>();
    if (IsIMLaneFunction(fn)) {
      // Equal calls share a column, except VOLATILE ones (side_effects): each is evaluated.
      idx_t k = fn.IsVolatile() ? calls.size() : 0;
      for (; k < calls.size(); k++) {
        if (calls[k].function != IMLaneFunctionName(fn) || calls[k].args.size() != fn.children.size()) continue;
        bool same = true;
        for (idx_t a = 0; a < fn.children.size(); a++) same = same && calls[k].args[a]->Equals(*fn.children[a]);
        if (same) break;
      }
      if (k == calls.size()) {
        PredictCall call;
        call.function = IMLaneFunctionName(fn);
        for (auto &child : fn.children) {
          call.arg_types.push_back(child->return_type);
          call.args.push_back(child->Copy());
        }
        call.return_type = fn.return_type;
        calls.push_back(std::move(call));
      }
      expr = make_uniq<BoundReferenceExpression>(fn.return_type, input_types.size() + k);
      return;
    }
  }
  ExpressionIterator::EnumerateChildren(*expr, [&](unique_ptr<Expression> &child) { ExtractCalls(child); });
}

string PhysicalPredict::GetName() const { return is_filter ? "IMLANE_PREDICT_FILTER" : "IMLANE_PREDICT_PROJECTION"; }

InsertionOrderPreservingMap<string> PhysicalPredict::ParamsToString() const {
  InsertionOrderPreservingMap<string> result;
  string fns;
  for (auto &c : calls) fns += (fns.empty() ? "" : ", ") + c.function;
  result["Functions"] = fns;
  string exprs;
  for (auto &e : expressions) exprs += (exprs.empty() ? "" : "\n") + e->GetName();
  result[is_filter ? "Filter" : "Projections"] = exprs;
  return result;
}

// ---- Operator state ------------------------------------------------------------------------------

namespace {

constexpr size_t kInflightPerThread = 2;  // submitted batches per DuckDB thread before it waits

// One buffered input chunk and, per call, where its rows went: runs of rows in numbered batches.
struct BufferedChunk {
  unique_ptr<DataChunk> input;
  vector<vector<Placement>> placements;  // per call
};

class PredictState : public OperatorState {
 public:
  PredictState(const PhysicalPredict &op, ExecutionContext &context);
  // A query that fails or stops early (LIMIT) leaves batches in flight: give their slots back.
  ~PredictState() override;

  // Buffers a copy of `input` and appends each call's arguments to the call's batches.
  void Consume(DataChunk &input);
  // True when every batch the oldest buffered chunk needs is back; pulls them, waiting if `block`.
  bool FrontReady(bool block);
  // The output of the oldest buffered chunk; drops the results nobody needs any more.
  void EmitFront(DataChunk &out);
  // End of input: submits every partly filled batch (once).
  void Flush();
  // Batches of the busiest call this thread holds: submitted, or back but not yet emitted.
  size_t Inflight() const;

  bool input_consumed = false;  // Execute: the current input chunk is buffered already
  bool has_buffered() const { return !buffered_.empty(); }

 private:
  struct CallState {
    CallState(DBEndContext *ctx, FunctionPin pinned, BatchAccumulatorOptions options)
        : pin(std::move(pinned)), batches(ctx, &pin, std::move(options)) {}
    FunctionPin pin;  // the version this query runs, even if re-registered meanwhile; outlives `batches`
    unique_ptr<ExpressionExecutor> args;
    DataChunk arg_chunk;
    BatchAccumulator<DataChunk, Vector> batches;
    size_t spread_rows = 0;                 // largest batch that still spreads the input; 0 = unknown
    size_t consumed_rows = 0;               // input rows this thread has seen
    std::map<size_t, Ticket> submitted;     // batch -> ticket, not pulled yet
    std::map<size_t, PulledBatch> results;  // batch -> result, still referenced by buffered chunks
  };

  size_t BatchRows(idx_t k);  // BatchAccumulatorOptions::batch_rows of call k
  // Records the tickets `batches` handed out (batches first, first + 1, ...), then checks `st`.
  void Submitted(CallState &c, size_t first, const Status &st);

  const PhysicalPredict &op_;
  std::shared_ptr<DBEndContext> ctx_;  // kept for the query, even if a later statement reconnects
  ClientContext &client_;
  std::vector<size_t> pinned_rows_;  // per call: its function's batch_size, else imlane_batch_size; 0 = tuner
  int timeout_ms_ = 0;
  vector<unique_ptr<CallState>> calls_;
  std::deque<BufferedChunk> buffered_;
  BufferedChunk emitted_;  // the last emitted chunk: the output references its vectors
  unique_ptr<ExpressionExecutor> output_;
  DataChunk extended_;
  SelectionVector sel_;
  vector<Ticket> tickets_;  // scratch: tickets of one Append or Flush
  bool flushed_ = false;
};

void Check(const Status &st) {
  if (!st.ok()) ThrowStatus(st);
}

PredictState::PredictState(const PhysicalPredict &op, ExecutionContext &context) : op_(op), client_(context.client) {
  auto ctx = GetState(client_).Context(client_);
  if (!ctx.ok()) ThrowStatus(ctx.status());
  ctx_ = std::move(*ctx);
  // At least one DuckDB vector per batch: a buffered chunk can only be emitted once every batch
  // holding its rows is back, so a chunk spread over more batches than this thread can have slots
  // would wait forever for a slot (seen with imlane_batch_size = 128: 16 batches per chunk, 8 slots).
  const int64_t setting = IntSetting(client_, "imlane_batch_size", 0);
  for (idx_t k = 0; k < op.calls.size(); k++) {
    const size_t per_function = GetState(client_).PinnedBatchRows(op.calls[k].function);
    const size_t pinned = per_function > 0 ? per_function : static_cast<size_t>(std::max<int64_t>(setting, 0));
    pinned_rows_.push_back(pinned == 0 ? 0 : std::max<size_t>(pinned, STANDARD_VECTOR_SIZE));
  }
  timeout_ms_ = TimeoutMsSetting(client_);
  for (idx_t k = 0; k < op.calls.size(); k++) {
    BatchAccumulatorOptions options;
    options.batch_rows = [this, k] { return BatchRows(k); };
    options.rest_of_engine_batch = true;  // a chunk never spans more than two batches
    auto pin = ctx_->Pin(op.calls[k].function);
    if (!pin.ok()) ThrowStatus(pin.status());
    CheckBoundSignature(*pin, op.calls[k].arg_types);
    auto call = make_uniq<CallState>(ctx_.get(), pin.MoveValue(), std::move(options));
    call->args = make_uniq<ExpressionExecutor>(client_, op.calls[k].args);
    call->arg_chunk.Initialize(client_, op.calls[k].arg_types);
    calls_.push_back(std::move(call));
  }
  output_ = make_uniq<ExpressionExecutor>(client_, op.expressions);
  extended_.Initialize(client_, op.extended_types);
  sel_.Initialize(STANDARD_VECTOR_SIZE);
}

PredictState::~PredictState() {
  for (auto &c : calls_) {
    for (auto &entry : c->submitted) ctx_->Discard(entry.second);
  }
}

// Rows of the next batch: the pinned size, else the tuner's, but never so many that a small input
// ends up in fewer batches than there are executors: at most the input's estimated rows divided by
// the executors serving the function. Without this cap, a tuner that has grown to 8192 rows runs a
// 16,000-row input as one batch on one executor, and 680 expensive rows (a forecast per row) as one.
// DuckDB's estimates after joins can be far too low: once this thread has seen twice the estimate,
// the cap is dropped and the tuner's size stands.
size_t PredictState::BatchRows(idx_t k) {
  if (pinned_rows_[k]) return pinned_rows_[k];
  CallState &c = *calls_[k];
  const size_t rows = ctx_->RecommendedBatchRows(c.pin);
  const idx_t input = op_.children[0].get().estimated_cardinality;
  if (c.spread_rows == 0 && input > 0) {
    const FunctionInfo info = ctx_->GetFunction(c.pin);
    if (info.executors > 0) {
      const size_t executors = static_cast<size_t>(info.executors);
      c.spread_rows = std::max<size_t>(1, (input + executors - 1) / executors);
    }
  }
  if (c.spread_rows == 0 || c.consumed_rows > 2 * input) return rows;
  return std::min(rows, c.spread_rows);
}

void PredictState::Submitted(CallState &c, size_t first, const Status &st) {
  for (size_t i = 0; i < tickets_.size(); i++) c.submitted[first + i] = tickets_[i];
  tickets_.clear();
  Check(st);
}

void PredictState::Consume(DataChunk &input) {
  BufferedChunk buffered;
  buffered.input = make_uniq<DataChunk>();
  buffered.input->Initialize(client_, op_.input_types);
  input.Copy(*buffered.input);
  buffered.placements.resize(calls_.size());
  for (idx_t k = 0; k < calls_.size(); k++) {
    CallState &c = *calls_[k];
    c.arg_chunk.Reset();
    c.args->Execute(*buffered.input, c.arg_chunk);
    c.consumed_rows += c.arg_chunk.size();
    const size_t first = c.batches.next_batch();
    Status st = c.batches.Append(c.arg_chunk, &tickets_, &buffered.placements[k]);
    Submitted(c, first, st);
  }
  buffered_.push_back(std::move(buffered));
}

bool PredictState::FrontReady(bool block) {
  if (buffered_.empty()) return false;
  BufferedChunk &front = buffered_.front();
  for (idx_t k = 0; k < calls_.size(); k++) {
    CallState &c = *calls_[k];
    for (auto &p : front.placements[k]) {
      if (c.results.count(p.batch)) continue;
      auto it = c.submitted.find(p.batch);
      if (it == c.submitted.end()) return false;  // still in the open batch
      const Ticket ticket = it->second;
      if (block) {
        // Until PullBatch returns the ticket stays listed: if it throws (interrupt) before its
        // Pull, the destructor discards the ticket; after a Pull, Discard does nothing.
        PulledBatch result = PullBatch(*ctx_, client_, ticket, timeout_ms_);
        c.submitted.erase(it);
        c.results.emplace(p.batch, std::move(result));
      } else {
        auto r = ctx_->TryPull(ticket);
        if (!r.ok()) ThrowStatus(r.status());
        if (!r->has_value()) return false;
        c.submitted.erase(it);
        c.results.emplace(p.batch, std::move(**r));
      }
    }
  }
  return true;
}

void PredictState::EmitFront(DataChunk &out) {
  BufferedChunk front = std::move(buffered_.front());
  buffered_.pop_front();
  DataChunk &input = *front.input;
  DataChunk &ext = extended_;
  ext.Reset();
  for (idx_t i = 0; i < input.ColumnCount(); i++) ext.data[i].Reference(input.data[i]);
  const idx_t width = input.ColumnCount();
  for (idx_t k = 0; k < calls_.size(); k++) {
    for (auto &p : front.placements[k]) {
      const ColumnView &col = calls_[k]->results.at(p.batch).batch().column(0);
      const Status st = ReadColumnAt(col, p.batch_offset, p.count, &ext.data[width + k], p.input_offset);
      if (!st.ok()) Check(st.WithContext("imlane function '" + op_.calls[k].function + "'"));
    }
  }
  ext.SetCardinality(input.size());
  if (op_.is_filter) {
    const idx_t count = output_->SelectExpression(ext, sel_);
    idx_t m = 0;
    if (op_.projection_map.empty()) {
      for (; m < input.ColumnCount(); m++) out.data[m].Slice(input.data[m], sel_, count);
    } else {
      for (; m < op_.projection_map.size(); m++) out.data[m].Slice(input.data[op_.projection_map[m]], sel_, count);
    }
    for (idx_t j = 0; j < op_.exported.size(); j++) out.data[m + j].Slice(ext.data[op_.exported[j]], sel_, count);
    out.SetCardinality(count);
  } else {
    output_->Execute(ext, out);
  }
  // Results of batches that no buffered chunk refers to any more give their slots back.
  for (idx_t k = 0; k < calls_.size(); k++) {
    size_t keep_from = calls_[k]->batches.next_batch();
    if (!buffered_.empty() && !buffered_.front().placements[k].empty()) {
      keep_from = buffered_.front().placements[k].front().batch;
    }
    auto &results = calls_[k]->results;
    results.erase(results.begin(), results.lower_bound(keep_from));
  }
  emitted_ = std::move(front);
}

void PredictState::Flush() {
  if (flushed_) return;
  flushed_ = true;
  for (auto &c : calls_) {
    const size_t first = c->batches.next_batch();
    Status st = c->batches.Flush(&tickets_);
    Submitted(*c, first, st);
  }
}

size_t PredictState::Inflight() const {
  size_t most = 0;
  for (auto &c : calls_) most = std::max(most, c->submitted.size() + c->results.size());
  return most;
}

}  // namespace

// ---- Execution -----------------------------------------------------------------------------------

unique_ptr<OperatorState> PhysicalPredict::GetOperatorState(ExecutionContext &context) const {
  return make_uniq<PredictState>(*this, context);
}

OperatorResultType PhysicalPredict::Execute(ExecutionContext &, DataChunk &input, DataChunk &chunk,
                                            GlobalOperatorState &, OperatorState &state_p) const {
  auto &state = state_p.Cast<PredictState>();
  if (!state.input_consumed && input.size() > 0) state.Consume(input);
  state.input_consumed = true;
  // Wait only when this thread has enough batches in flight; otherwise take what is ready.
  const bool block = state.Inflight() >= kInflightPerThread;
  if (state.FrontReady(block)) {
    state.EmitFront(chunk);
    if (state.FrontReady(false)) return OperatorResultType::HAVE_MORE_OUTPUT;
  }
  state.input_consumed = false;
  return OperatorResultType::NEED_MORE_INPUT;
}

OperatorFinalizeResultType PhysicalPredict::FinalExecute(ExecutionContext &, DataChunk &chunk, GlobalOperatorState &,
                                                         OperatorState &state_p) const {
  auto &state = state_p.Cast<PredictState>();
  state.Flush();
  if (state.FrontReady(true)) state.EmitFront(chunk);
  return state.has_buffered() ? OperatorFinalizeResultType::HAVE_MORE_OUTPUT : OperatorFinalizeResultType::FINISHED;
}

}  // namespace duckdb_integration
}  // namespace imlane
