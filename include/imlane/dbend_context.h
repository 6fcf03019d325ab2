// DBEnd: what a database engine links to run IMLane AI functions.
//
//   auto ctx = imlane::DBEndContext::Setup().ValueOrDie();          // connects, or starts a coordinator
//   ctx->RegisterFunction(imlane::FunctionSpec::Make("fraud", "models/fraud.py",
//                                                   "DOUBLE, DOUBLE", "INTEGER").ValueOrDie()).Abort();
//   imlane::Ticket t = *ctx->Push("fraud", batch);                  // write once into a Lane, post
//   ... produce the next batch meanwhile ...
//   imlane::Status st = ctx->Pull(t, &result);                       // blocks (with a timeout)
//
// Thread-safe: any number of engine threads may push and pull at once. Each function starts with
// executors x slots_per_executor in-flight slots and grows up to max_inflight when every slot is
// taken; beyond that Push waits (up to timeout_ms) for a ticket to be pulled. No lock is held
// while the context talks to the coordinator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "imlane/batch_lease.h"
#include "imlane/column_batch.h"
#include "imlane/function_spec.h"
#include "imlane/settings.h"
#include "imlane/status.h"
#include "imlane/table_converter.h"
#include "imlane/types.h"

namespace imlane {

using Ticket = uint64_t;

class DBEndContext;
class FunctionSlots;  // DBEnd-internal: one function version's Lanes in one context

// A query's hold on the version of a function that was current when the query started. Batches
// begun through the pin run that version, its code and its signature, even when the function is
// re-registered or dropped meanwhile, as a running SQL query keeps what it was bound with; queries
// that start later pin the new version. A replaced version's Lanes go back to the coordinator once
// its last pin and batch are gone. Release every pin before its context ends.
class FunctionPin {
 public:
  FunctionPin() = default;
  FunctionPin(FunctionPin&& other) noexcept;
  FunctionPin& operator=(FunctionPin&& other) noexcept;
  FunctionPin(const FunctionPin&) = delete;
  FunctionPin& operator=(const FunctionPin&) = delete;
  ~FunctionPin();

  explicit operator bool() const { return fn_ != nullptr; }
  const std::string& name() const;
  uint32_t version() const;
  const std::vector<TypeId>& arg_types() const;
  const std::vector<TypeId>& return_types() const;

 private:
  friend class DBEndContext;
  FunctionPin(DBEndContext* ctx, FunctionSlots* fn) : ctx_(ctx), fn_(fn) {}
  void Reset();
  DBEndContext* ctx_ = nullptr;
  FunctionSlots* fn_ = nullptr;
};

class DBEndContext {
 public:
  // Connects to the coordinator at settings.socket_path; if none answers and start_embedded is set,
  // starts one (`imlane serve`) that exits once its last client is gone.
  static Result<std::unique_ptr<DBEndContext>> Setup(const Settings& settings = Settings());
  ~DBEndContext();
  DBEndContext(const DBEndContext&) = delete;
  DBEndContext& operator=(const DBEndContext&) = delete;

  const Settings& GetSettings() const;
  // pid of the coordinator this context started, or -1 when it joined a running one.
  int embedded_coordinator_pid() const;

  // Registers (or replaces: a new version) a function; the code is loaded and its one-off
  // initialisation run on an executor before this returns, so broken code fails here.
  Status RegisterFunction(const FunctionSpec& spec);
  Status DropFunction(const std::string& name);
  // Signature and this context's executors/slots for a function (acquiring its Lanes if needed).
  Result<FunctionInfo> GetFunction(const std::string& name);
  // The same for the version a pin holds.
  FunctionInfo GetFunction(const FunctionPin& pin);
  // Pins the function's current version for one query (acquiring its Lanes if needed).
  Result<FunctionPin> Pin(const std::string& name);
  // False once the coordinator this context talks to has gone (killed, or stopped): every later
  // call fails, and an engine sets up a new context (DBEndContext::Setup) to go on.
  bool Connected() const;

  // ---- Scheduling primitives ----
  // Reserves a free slot (waiting up to timeout_ms for one) and starts a batch of up to
  // capacity_rows rows in its Lane.
  Result<OpenBatch> BeginBatch(const std::string& name, size_t capacity_rows, const SchedHint& hint = {});
  // The same for the version a query pinned.
  Result<OpenBatch> BeginBatch(const FunctionPin& pin, size_t capacity_rows, const SchedHint& hint = {});
  Result<Ticket> Submit(OpenBatch&& batch);
  // Never blocks: the result when ready, nullopt while running, an error if it failed.
  Result<std::optional<PulledBatch>> TryPull(Ticket ticket);
  // Blocks until the result is ready or timeout_ms (-1: settings' timeout) has passed since the
  // ticket was first waited for (by Wait or Pull). A batch still running then times out: its
  // executor is killed and replaced.
  Result<PulledBatch> Pull(Ticket ticket, int timeout_ms = -1);
  // Waits up to timeout_ms for a batch to finish without consuming it and without acting on a
  // timeout (Pull kills a stuck executor; Wait lets the caller check for cancellation between waits).
  // True when the result (or its error) is ready.
  Result<bool> Wait(Ticket ticket, int timeout_ms);
  // Gives up a ticket whose result is no longer wanted (e.g. its query failed): its slot is free
  // again as soon as the batch has finished. Never blocks.
  void Discard(Ticket ticket);

  // Push a whole engine batch through its TableConverter.
  template <typename EngineBatch, typename EngineVector = Column>
  Result<Ticket> Push(const std::string& name, const EngineBatch& batch, const SchedHint& hint = {}) {
    using Converter = TableConverter<EngineBatch, EngineVector>;
    const size_t rows = Converter::NumRows(batch);
    IMLANE_ASSIGN_OR_RETURN(OpenBatch open, BeginBatch(name, rows, hint));
    IMLANE_RETURN_NOT_OK(Converter::Write(batch, 0, rows, &open.builder()));
    return Submit(std::move(open));
  }
  // Pull into engine vectors, one per result column.
  template <typename EngineBatch = ColumnBatch, typename EngineVector = Column>
  Status Pull(Ticket ticket, std::vector<EngineVector>* out, int timeout_ms = -1) {
    using Converter = TableConverter<EngineBatch, EngineVector>;
    IMLANE_ASSIGN_OR_RETURN(PulledBatch result, Pull(ticket, timeout_ms));
    const BatchView& view = result.batch();
    out->clear();
    for (size_t c = 0; c < view.num_columns(); c++) {
      out->emplace_back(view.column(c).type());
      IMLANE_RETURN_NOT_OK(Converter::ReadColumn(view.column(c), 0, view.num_rows(), &out->back()));
    }
    return Status::OK();
  }
  // Synchronous: push, then pull.
  Status ExecuteFunction(const std::string& name, const ColumnBatch& in, ColumnBatch* out, const SchedHint& hint = {});

  // Rows the next batch of this function should have: the pinned batch_rows, or the tuner's choice.
  size_t RecommendedBatchRows(const std::string& name);
  size_t RecommendedBatchRows(const FunctionPin& pin);
  // The coordinator's `imlane status --json` document.
  Result<std::string> CoordinatorStatus();
  // Empties the executors' inference-context caches, or only the objects function `name` loaded
  // ("" = all); returns how many objects went. The next call of a holistic function loads again.
  Result<int> ResetContextCache(const std::string& name = "");

 private:
  struct Impl;
  friend class SlotLease;
  friend class FunctionPin;
  explicit DBEndContext(std::unique_ptr<Impl> impl);
  // A lease ends: the slot is free for the next BeginBatch.
  void ReleaseSlot(Slot* slot);
  // A pin ends: a replaced version without pins or batches gives its Lanes back.
  void Unpin(FunctionSlots* fn);
  std::unique_ptr<Impl> impl_;
};

}  // namespace imlane
