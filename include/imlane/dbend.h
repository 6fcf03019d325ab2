// DBEnd: what a database engine links to run IMLane AI functions.
//
//   auto ctx = imlane::DBEndContext::Setup().ValueOrDie();          // connects, or starts a coordinator
//   ctx->RegisterFunction(imlane::FunctionSpec::Make("fraud", "models/fraud.py",
//                                                   "DOUBLE, DOUBLE", "INTEGER").ValueOrDie());
//   imlane::Ticket t = *ctx->Push("fraud", batch);                  // write once into a Lane, post
//   ... produce the next batch meanwhile ...
//   ctx->Pull(t, &result);                                           // blocks (with a timeout)
//
// Thread-safe: any number of engine threads may push and pull at once. Each function starts with
// executors x slots_per_executor in-flight slots and grows up to max_inflight when every slot is
// taken; beyond that Push waits (up to timeout_ms) for a ticket to be pulled.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "imlane/batch.h"
#include "imlane/batch_tuner.h"
#include "imlane/column_batch.h"
#include "imlane/status.h"
#include "imlane/table_converter.h"
#include "imlane/types.h"

namespace imlane {

struct Settings {
  std::string socket_path;              // "": $IMLANE_SOCKET or the per-user default
  bool start_embedded = true;           // start a coordinator when none answers
  int n_executors = 0;                  // embedded coordinator's executors; 0 = usable cores
  int embedded_idle_exit_ms = 0;        // embedded coordinator exits this long after its last client
  int64_t executor_memory_mb = 0;       // embedded coordinator: per-executor memory limit (0: RAM share)
  std::string coordinator_path;         // "": the `imlane` installed next to this library
  int executors_per_function = 0;       // executors serving each function for this client; 0 = all
  int slots_per_executor = 2;           // in-flight batches per executor (one runs, one is written)
  int max_inflight = 0;                 // per function; 0: executors x slots_per_executor x 4
  size_t lane_bytes = 64u << 20;        // shared memory per slot: the largest batch plus its result
  size_t batch_rows = 0;                // 0: adaptive (AdaptiveBatchTuner); otherwise pinned
  int timeout_ms = 60000;               // a batch that takes longer fails; its executor is replaced
  int connect_timeout_ms = 15000;       // to reach (or start) the coordinator
  int64_t spin_ns = 50000;              // busy-wait for a result before sleeping
};

// Where to run a batch. Empty means: the least busy executor.
struct SchedHint {
  int core_id = -1;   // engine thread's core: keeps one engine thread on one executor
  int executor = -1;  // explicit executor index (overrides core_id)
};

struct FunctionSpec {
  std::string name;
  std::string source;  // path to a .py file, or inline Python code
  std::vector<TypeId> arg_types;
  std::vector<TypeId> return_types;
  std::string entry;   // optional: which object in the source to call

  // From SQL-style type lists: Make("f", "f.py", "DOUBLE, VARCHAR", "INTEGER").
  static Result<FunctionSpec> Make(std::string name, std::string source, const std::string& arg_types,
                                   const std::string& return_types, std::string entry = "");
};

struct FunctionInfo {
  std::string name;
  uint32_t version = 0;
  std::vector<TypeId> arg_types;
  std::vector<TypeId> return_types;
  int executors = 0;   // executors serving this context
  int slots = 0;       // in-flight slots of this context
};

using Ticket = uint64_t;

class DBEndContext;

// A finished batch: a validated view of the result inside the Lane (no copy). Its slot stays
// reserved until this object goes away.
class PulledBatch {
 public:
  PulledBatch() = default;
  PulledBatch(PulledBatch&& other) noexcept;
  PulledBatch& operator=(PulledBatch&& other) noexcept;
  PulledBatch(const PulledBatch&) = delete;
  PulledBatch& operator=(const PulledBatch&) = delete;
  ~PulledBatch();

  const BatchView& batch() const { return view_; }
  // Time the executor spent inside the function for this batch.
  uint64_t model_ns() const { return model_ns_; }

 private:
  friend class DBEndContext;
  DBEndContext* owner_ = nullptr;
  void* slot_ = nullptr;
  BatchView view_;
  uint64_t model_ns_ = 0;
};

// A batch being written straight into a slot's Lane; Submit posts it.
class OpenBatch {
 public:
  OpenBatch() = default;
  OpenBatch(OpenBatch&& other) noexcept;
  OpenBatch& operator=(OpenBatch&& other) noexcept;
  OpenBatch(const OpenBatch&) = delete;
  OpenBatch& operator=(const OpenBatch&) = delete;
  ~OpenBatch();  // an unsubmitted batch gives its slot back

  BatchBuilder& builder() { return *builder_; }
  size_t capacity_rows() const { return builder_->capacity_rows(); }
  size_t num_rows() const { return builder_->num_rows(); }

 private:
  friend class DBEndContext;
  DBEndContext* owner_ = nullptr;
  void* slot_ = nullptr;
  std::unique_ptr<BatchBuilder> builder_;
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

  // ---- Scheduling primitives ----
  // Reserves a free slot (waiting up to timeout_ms for one) and starts a batch of up to
  // capacity_rows rows in its Lane.
  Result<OpenBatch> BeginBatch(const std::string& name, size_t capacity_rows, const SchedHint& hint = {});
  Result<Ticket> Submit(OpenBatch&& batch);
  // Never blocks: the result when ready, nullopt while running, an error if it failed.
  Result<std::optional<PulledBatch>> TryPull(Ticket ticket);
  // Blocks until the result is ready or timeout_ms (-1: settings' timeout) has passed.
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
  // The coordinator's `imlane status --json` document.
  Result<std::string> CoordinatorStatus();

  struct Impl;

 private:
  friend class PulledBatch;
  friend class OpenBatch;
  explicit DBEndContext(std::unique_ptr<Impl> impl);
  void ReleaseSlot(void* slot);
  std::unique_ptr<Impl> impl_;
};

}  // namespace imlane
