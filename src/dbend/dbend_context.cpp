#include "imlane/dbend_context.h"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <unordered_map>

#include "imlane/dbend/coordinator_client.h"
#include "imlane/dbend/function_source.h"
#include "imlane/dbend/slot_pool.h"
#include "imlane/lane/batch_layout.h"
#include "imlane/lane/futex.h"

namespace imlane {

namespace {

constexpr int kKillSettleMs = 5000;  // a killed executor's Lanes fail within this

int64_t DeadlineAfterMs(int timeout_ms) { return MonotonicNanos() + static_cast<int64_t>(timeout_ms) * 1000000; }

}  // namespace

// Lock discipline: `mu` guards the function table, every FunctionSlots and Slot field and the
// tickets. It is never held while the coordinator is called: a thread that needs Lanes marks the
// function `acquiring`, calls without the lock, and others wait on `changed`.
struct DBEndContext::Impl {
  Settings settings;
  std::unique_ptr<CoordinatorClient> client;
  std::mutex mu;
  std::condition_variable changed;                                  // a slot was freed, or an acquisition ended
  std::map<std::string, std::unique_ptr<FunctionSlots>> functions;  // the current version of each
  // Versions that were re-registered or dropped while pinned or with batches in flight: kept until
  // their last pin and batch are gone (Sweep).
  std::vector<std::unique_ptr<FunctionSlots>> replaced;
  ExecutorBells bells;
  std::unordered_map<Ticket, Slot*> tickets;
  Ticket next_ticket = 1;

  // The function's slots, acquired from the coordinator on first use.
  Result<FunctionSlots*> Function(const std::string& name, std::unique_lock<std::mutex>& lock);
  // One more Lane per executor for `fn` (every slot is taken).
  Status Grow(FunctionSlots* fn, std::unique_lock<std::mutex>& lock);
  // Gives Lanes back; called without `mu`. Best effort: a failed release only delays reuse.
  void ReleaseLanes(const std::vector<uint64_t>& ids) {
    if (!ids.empty()) client->Release(ids).IgnoreError();
  }
  // Moves a function's current version out of the table once no first acquisition runs for it:
  // later batches acquire the new version, while pinned queries and batches in flight finish on
  // this one. Returns the Lanes to give back now (Sweep).
  std::vector<uint64_t> Retire(const std::string& name, std::unique_lock<std::mutex>& lock);
  // Drops the replaced versions nothing uses any more; returns their Lanes, to give back.
  std::vector<uint64_t> Sweep();
  Result<Slot*> TakeSlot(const std::string& name, FunctionSlots* pinned, const SchedHint& hint);
  Result<OpenBatch> Begin(DBEndContext* owner, const std::string& name, FunctionSlots* pinned, size_t capacity_rows,
                          const SchedHint& hint);

  void Free(Slot* slot);
  Status WaitFinished(Slot* slot, int64_t deadline);
  enum class TicketUse { kLook, kTake, kTakeIfFinished };
  // The slot of a ticket (NotFound for an unknown one); kTake ends the ticket, kTakeIfFinished only
  // when its batch is done (else the result is nullptr).
  Result<Slot*> FindTicket(Ticket ticket, TicketUse use);
  // The timeout policy: the executor of a stuck batch is killed, and the slot is freed once the
  // coordinator has failed its Lane.
  Status Abandon(Slot* slot, int timeout_ms);
  Result<PulledBatch> Collect(DBEndContext* owner, Slot* slot);
};

Result<FunctionSlots*> DBEndContext::Impl::Function(const std::string& name, std::unique_lock<std::mutex>& lock) {
  while (true) {
    auto it = functions.find(name);
    if (it != functions.end()) {
      if (!it->second->slots.empty()) return it->second.get();
      changed.wait(lock);  // another thread is acquiring its first Lanes
      continue;
    }
    auto owned = std::make_unique<FunctionSlots>();
    FunctionSlots* fn = owned.get();
    fn->name = name;
    fn->acquiring = true;
    functions[name] = std::move(owned);
    lock.unlock();
    auto grant =
        client->Acquire(name, settings.executors_per_function, settings.slots_per_executor, settings.lane_bytes);
    lock.lock();
    fn->acquiring = false;
    Result<std::vector<uint64_t>> adopted =
        grant.ok() ? fn->Adopt(grant.MoveValue(), &bells, settings) : Result<std::vector<uint64_t>>(grant.status());
    if (!adopted.ok() || fn->slots.empty()) {
      std::vector<uint64_t> ids = fn->lane_ids;
      functions.erase(name);
      changed.notify_all();
      lock.unlock();
      ReleaseLanes(ids);
      lock.lock();
      if (!adopted.ok()) return adopted.status();
      return Status::Internal("the coordinator granted no Lanes for '", name, "'");
    }
    changed.notify_all();
    return fn;
  }
}

Status DBEndContext::Impl::Grow(FunctionSlots* fn, std::unique_lock<std::mutex>& lock) {
  fn->acquiring = true;
  const std::string name = fn->name;
  lock.unlock();
  auto grant = client->Acquire(name, settings.executors_per_function, 1, settings.lane_bytes);
  lock.lock();
  fn->acquiring = false;  // Retire and Sweep wait for this flag, so `fn` still exists
  changed.notify_all();
  if (!grant.ok()) return grant.status();
  const bool newer = grant->fid != fn->fid;
  IMLANE_ASSIGN_OR_RETURN(std::vector<uint64_t> unused, fn->Adopt(grant.MoveValue(), &bells, settings));
  if (newer && !fn->replaced) {
    // Another client re-registered the function: this version stops growing and new batches
    // acquire the new one.
    std::vector<uint64_t> more = Retire(name, lock);
    unused.insert(unused.end(), more.begin(), more.end());
  }
  if (!unused.empty()) {
    lock.unlock();
    ReleaseLanes(unused);
    lock.lock();
  }
  return Status::OK();
}

std::vector<uint64_t> DBEndContext::Impl::Retire(const std::string& name, std::unique_lock<std::mutex>& lock) {
  while (true) {
    auto it = functions.find(name);
    if (it == functions.end()) return Sweep();
    if (it->second->slots.empty()) {  // its first acquisition is running
      changed.wait(lock);
      continue;
    }
    it->second->replaced = true;
    replaced.push_back(std::move(it->second));
    functions.erase(it);
    changed.notify_all();
    return Sweep();
  }
}

std::vector<uint64_t> DBEndContext::Impl::Sweep() {
  std::vector<uint64_t> ids;
  for (auto it = replaced.begin(); it != replaced.end();) {
    if ((*it)->Idle()) {
      ids.insert(ids.end(), (*it)->lane_ids.begin(), (*it)->lane_ids.end());
      it = replaced.erase(it);
    } else {
      ++it;
    }
  }
  return ids;
}

Result<Slot*> DBEndContext::Impl::FindTicket(Ticket ticket, TicketUse use) {
  std::lock_guard<std::mutex> lock(mu);
  auto it = tickets.find(ticket);
  if (it == tickets.end()) return Status::NotFound("unknown ticket ", ticket);
  Slot* slot = it->second;
  if (use == TicketUse::kTakeIfFinished && !slot->client().Finished()) return static_cast<Slot*>(nullptr);
  // Wait and Pull start waiting: Pull's timeout counts from the first of them.
  if (use != TicketUse::kTakeIfFinished && slot->wait_started_ns == 0) slot->wait_started_ns = MonotonicNanos();
  if (use != TicketUse::kLook) tickets.erase(it);
  return slot;
}

void DBEndContext::Impl::Free(Slot* slot) {
  std::vector<uint64_t> release;
  {
    std::lock_guard<std::mutex> lock(mu);
    slot->client().Reset();
    slot->in_use = false;
    if (slot->function->replaced) release = Sweep();  // may delete the slot
  }
  changed.notify_all();
  ReleaseLanes(release);
}

Status DBEndContext::Impl::WaitFinished(Slot* slot, int64_t deadline) {
  switch (slot->client().WaitFinished(deadline, settings.spin_ns, [&] { return client->Alive(); })) {
    case LaneClient::Wait::kFinished: return Status::OK();
    case LaneClient::Wait::kTimedOut: return Status::TimedOut("timeout");
    case LaneClient::Wait::kPeerGone: break;
  }
  return Status::Unavailable("the coordinator went away");
}

Status DBEndContext::Impl::Abandon(Slot* slot, int timeout_ms) {
  // Read before the slot may be freed (and reused by another thread) below.
  const std::string name = slot->function->name;
  const size_t rows = slot->request_rows;
  {
    std::lock_guard<std::mutex> lock(mu);
    slot->abandoned = true;  // reusable once the executor is replaced and the Lane fails
  }
  const std::string reason = "a batch of '" + name + "' exceeded the timeout of " + std::to_string(timeout_ms) + " ms";
  // Best effort: if the kill request fails the Lane stays abandoned until it settles by itself.
  client->KillExecutor(slot->executor, reason).IgnoreError();
  // Wait for the coordinator to fail this Lane, so that the next batch never lands on the executor
  // being killed and the slot is free again at once.
  if (WaitFinished(slot, DeadlineAfterMs(kKillSettleMs)).ok()) {
    {
      std::lock_guard<std::mutex> lock(mu);
      slot->abandoned = false;
    }
    Free(slot);
  }
  return Status::TimedOut("imlane function '", name, "' did not finish a batch of ", rows, " rows within ", timeout_ms,
                          " ms; its executor is being replaced");
}

Result<PulledBatch> DBEndContext::Impl::Collect(DBEndContext* owner, Slot* slot) {
  auto placement = slot->client().Outcome();
  if (!placement.ok()) {
    Free(slot);
    return placement.status();
  }
  auto view = slot->OpenResult(*placement);
  if (!view.ok()) {
    Free(slot);
    return view.status();
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    slot->function->tuner.Report(slot->request_rows, placement->exec_ns);
  }
  PulledBatch out;
  out.lease_ = SlotLease(owner, slot);
  out.view_ = view.MoveValue();
  out.model_ns_ = placement->exec_ns;
  return out;
}

// ---- DBEndContext ----------------------------------------------------------------------------

DBEndContext::DBEndContext(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

DBEndContext::~DBEndContext() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->functions.clear();
    impl_->replaced.clear();
    impl_->bells.Clear();
  }
  impl_->client.reset();
}

Result<std::unique_ptr<DBEndContext>> DBEndContext::Setup(const Settings& settings) {
  if (settings.slots_per_executor < 1) return Status::InvalidArgument("slots_per_executor must be at least 1");
  if (settings.timeout_ms <= 0) return Status::InvalidArgument("timeout_ms must be positive");
  if (settings.lane_bytes < (1u << 16)) return Status::InvalidArgument("lane_bytes must be at least 64 KiB");
  auto impl = std::make_unique<Impl>();
  impl->settings = settings;
  IMLANE_ASSIGN_OR_RETURN(impl->client, CoordinatorClient::Connect(settings));
  impl->settings.socket_path = impl->client->socket_path();
  return std::unique_ptr<DBEndContext>(new DBEndContext(std::move(impl)));
}

const Settings& DBEndContext::GetSettings() const { return impl_->settings; }

int DBEndContext::embedded_coordinator_pid() const { return impl_->client->embedded_pid(); }

Status DBEndContext::RegisterFunction(const FunctionSpec& spec) {
  IMLANE_ASSIGN_OR_RETURN(ResolvedFunction fn, ResolveFunctionSource(spec));
  IMLANE_ASSIGN_OR_RETURN(RegisteredVersion registered, impl_->client->Register(fn.definition, fn.source_ref));
  std::vector<uint64_t> release;
  {
    std::unique_lock<std::mutex> lock(impl_->mu);
    auto it = impl_->functions.find(spec.name);
    // A new version: our Lanes point at the old one.
    if (it != impl_->functions.end() && it->second->fid != registered.fid) release = impl_->Retire(spec.name, lock);
  }
  impl_->ReleaseLanes(release);
  return Status::OK();
}

Status DBEndContext::DropFunction(const std::string& name) {
  IMLANE_RETURN_NOT_OK(impl_->client->Drop(name));
  std::vector<uint64_t> release;
  {
    std::unique_lock<std::mutex> lock(impl_->mu);
    release = impl_->Retire(name, lock);
  }
  impl_->ReleaseLanes(release);
  return Status::OK();
}

namespace {

FunctionInfo InfoOf(const FunctionSlots* fn) {
  FunctionInfo info;
  info.name = fn->name;
  info.version = fn->version;
  info.arg_types = fn->arg_types;
  info.return_types = fn->return_types;
  info.executors = static_cast<int>(fn->executor_position.size());
  info.slots = static_cast<int>(fn->slots.size());
  return info;
}

}  // namespace

Result<FunctionInfo> DBEndContext::GetFunction(const std::string& name) {
  std::unique_lock<std::mutex> lock(impl_->mu);
  IMLANE_ASSIGN_OR_RETURN(FunctionSlots * fn, impl_->Function(name, lock));
  return InfoOf(fn);
}

FunctionInfo DBEndContext::GetFunction(const FunctionPin& pin) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return InfoOf(pin.fn_);
}

Result<FunctionPin> DBEndContext::Pin(const std::string& name) {
  // A query starts: make sure the version this context holds Lanes for is still the current one
  // (another client may have re-registered or dropped the function since).
  auto current = impl_->client->Lookup(name);
  std::vector<uint64_t> release;
  std::unique_lock<std::mutex> lock(impl_->mu);
  auto held = impl_->functions.find(name);
  const bool stale = held != impl_->functions.end() && !held->second->slots.empty() &&
                     (!current.ok() || held->second->fid != current->fid);
  if (stale && (current.ok() || current.status().code() == StatusCode::kNotFound)) {
    release = impl_->Retire(name, lock);
  }
  if (!release.empty()) {
    lock.unlock();
    impl_->ReleaseLanes(release);
    lock.lock();
  }
  if (!current.ok()) return current.status();
  IMLANE_ASSIGN_OR_RETURN(FunctionSlots * fn, impl_->Function(name, lock));
  fn->pins++;
  return FunctionPin(this, fn);
}

void DBEndContext::Unpin(FunctionSlots* fn) {
  std::vector<uint64_t> release;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    fn->pins--;
    if (fn->replaced) release = impl_->Sweep();
  }
  impl_->ReleaseLanes(release);
}

bool DBEndContext::Connected() const { return impl_->client->Alive(); }

size_t DBEndContext::RecommendedBatchRows(const FunctionPin& pin) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return pin.fn_->tuner.batch_rows();
}

size_t DBEndContext::RecommendedBatchRows(const std::string& name) {
  std::unique_lock<std::mutex> lock(impl_->mu);
  auto fn = impl_->Function(name, lock);
  if (!fn.ok()) return impl_->settings.batch_rows ? impl_->settings.batch_rows : 2048;
  return (*fn)->tuner.batch_rows();
}

Result<Slot*> DBEndContext::Impl::TakeSlot(const std::string& name, FunctionSlots* pinned, const SchedHint& hint) {
  std::unique_lock<std::mutex> lock(mu);
  const int64_t deadline = DeadlineAfterMs(settings.timeout_ms);
  while (true) {
    // Looked up again after every wait: the function may have been re-registered meanwhile.
    FunctionSlots* fn = pinned;
    if (fn == nullptr) {
      IMLANE_ASSIGN_OR_RETURN(fn, Function(name, lock));
    }
    Slot* slot = fn->FindFree(hint);
    if (slot != nullptr) {
      slot->in_use = true;
      return slot;
    }
    const size_t limit = settings.max_inflight > 0 ? static_cast<size_t>(settings.max_inflight)
                                                   : fn->executor_position.size() * settings.slots_per_executor * 4;
    // A replaced version does not grow: its queries finish with the slots it has.
    if (!fn->acquiring && !fn->replaced && !fn->growth_capped &&
        fn->slots.size() + fn->executor_position.size() <= limit) {
      // Every slot is taken (many engine threads, or deep pipelines): grow rather than wait.
      Status grown = Grow(fn, lock);
      if (!grown.ok()) {
        // A coordinator cap on Lane memory ends the growth: the slots this function has are enough to wait for.
        if (grown.code() != StatusCode::kCapacityExceeded || fn->slots.empty()) return grown;
        fn->growth_capped = true;
      }
      continue;
    }
    if (MonotonicNanos() >= deadline) {
      return Status::TimedOut("all ", fn->slots.size(), " in-flight slots of '", name, "' stayed busy for ",
                              settings.timeout_ms, " ms; pull finished tickets before pushing more");
    }
    // Timed waits also let abandoned slots be noticed once their Lane settles.
    changed.wait_for(lock, std::chrono::milliseconds(50));
  }
}

Result<OpenBatch> DBEndContext::Impl::Begin(DBEndContext* owner, const std::string& name, FunctionSlots* pinned,
                                            size_t capacity_rows, const SchedHint& hint) {
  IMLANE_ASSIGN_OR_RETURN(Slot * slot, TakeSlot(name, pinned, hint));
  OpenBatch open;
  open.lease_ = SlotLease(owner, slot);
  open.builder_ = std::make_unique<BatchBuilder>();
  const Lane& lane = slot->lane;
  const uint64_t reserve = BatchLayout::ResultReserve(slot->function->return_types, capacity_rows);
  const uint64_t room = lane.arena_bytes() > reserve ? lane.arena_bytes() - reserve : 0;
  Status st = BatchLayout::Start(open.builder_.get(), lane.region(), lane.region_bytes(), lane.arena_offset(), room,
                                 slot->function->arg_types, capacity_rows);
  if (!st.ok())
    return st.WithContext("function '" + name + "' (lane_bytes " + std::to_string(lane.region_bytes()) + ")");
  return open;
}

Result<OpenBatch> DBEndContext::BeginBatch(const std::string& name, size_t capacity_rows, const SchedHint& hint) {
  return impl_->Begin(this, name, nullptr, capacity_rows, hint);
}

Result<OpenBatch> DBEndContext::BeginBatch(const FunctionPin& pin, size_t capacity_rows, const SchedHint& hint) {
  if (!pin || pin.ctx_ != this) return Status::InvalidArgument("BeginBatch with an empty pin or another context's");
  return impl_->Begin(this, pin.name(), pin.fn_, capacity_rows, hint);
}

Result<Ticket> DBEndContext::Submit(OpenBatch&& batch) {
  if (!batch.lease_) return Status::InvalidArgument("Submit of an empty or already submitted batch");
  IMLANE_ASSIGN_OR_RETURN(uint64_t bytes, batch.builder_->Finish());
  Slot* slot = batch.lease_.Take();  // the ticket owns the slot now
  Ticket ticket;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    slot->request_rows = batch.builder_->num_rows();
    slot->wait_started_ns = 0;
    ticket = impl_->next_ticket++;
    impl_->tickets[ticket] = slot;
  }
  slot->client().PostRequest(slot->function->fid, slot->lane.arena_offset(), bytes, slot->bell);
  return ticket;
}

Result<bool> DBEndContext::Wait(Ticket ticket, int timeout_ms) {
  IMLANE_ASSIGN_OR_RETURN(Slot * slot, impl_->FindTicket(ticket, Impl::TicketUse::kLook));
  Status st = impl_->WaitFinished(slot, DeadlineAfterMs(timeout_ms));
  if (st.code() == StatusCode::kTimedOut) return false;
  IMLANE_RETURN_NOT_OK(st);
  return true;
}

void DBEndContext::Discard(Ticket ticket) {
  auto slot = impl_->FindTicket(ticket, Impl::TicketUse::kTake);
  if (!slot.ok()) return;
  uint64_t lane_id = 0;
  std::string reason;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    (*slot)->abandoned = true;  // FindFree recycles it once its Lane has settled
    if (!(*slot)->client().Finished()) {
      lane_id = (*slot)->lane.id();
      reason = "a batch of '" + (*slot)->function->name + "' (" + std::to_string((*slot)->request_rows) +
               " rows) was discarded by its query while still running";
    }
  }
  impl_->changed.notify_all();
  // Still running: the coordinator recycles the executor unless the batch ends soon, so that no
  // later query (ours or another client's) queues behind a batch nobody waits for. Best effort.
  if (lane_id != 0) impl_->client->Abandon({lane_id}, reason);
}

Result<std::optional<PulledBatch>> DBEndContext::TryPull(Ticket ticket) {
  IMLANE_ASSIGN_OR_RETURN(Slot * slot, impl_->FindTicket(ticket, Impl::TicketUse::kTakeIfFinished));
  if (slot == nullptr) return std::optional<PulledBatch>();
  IMLANE_ASSIGN_OR_RETURN(PulledBatch result, impl_->Collect(this, slot));
  return std::optional<PulledBatch>(std::move(result));
}

Result<PulledBatch> DBEndContext::Pull(Ticket ticket, int timeout_ms) {
  // One puller per ticket: it ends here.
  IMLANE_ASSIGN_OR_RETURN(Slot * slot, impl_->FindTicket(ticket, Impl::TicketUse::kTake));
  const int effective = timeout_ms < 0 ? impl_->settings.timeout_ms : timeout_ms;
  // The timeout counts from the ticket's first wait (FindTicket), so a caller that waited in slices
  // (Wait) and then pulls with its whole timeout gets the stuck batch handled, and reported, as one.
  Status st = impl_->WaitFinished(slot, slot->wait_started_ns + static_cast<int64_t>(effective) * 1000000);
  if (st.code() == StatusCode::kUnavailable) {
    {
      std::lock_guard<std::mutex> lock(impl_->mu);
      slot->abandoned = true;
    }
    return Status::Unavailable("imlane function '", slot->function->name,
                               "': the coordinator went away while a batch was running (its executors stop "
                               "with it); set up a new context to start or join another coordinator");
  }
  if (!st.ok()) return impl_->Abandon(slot, effective);
  return impl_->Collect(this, slot);
}

Status DBEndContext::ExecuteFunction(const std::string& name, const ColumnBatch& in, ColumnBatch* out,
                                     const SchedHint& hint) {
  IMLANE_ASSIGN_OR_RETURN(Ticket t, (Push<ColumnBatch, Column>(name, in, hint)));
  out->columns.clear();
  return Pull<ColumnBatch, Column>(t, &out->columns);
}

Result<std::string> DBEndContext::CoordinatorStatus() { return impl_->client->StatusDocument(); }

Result<int> DBEndContext::ResetContextCache(const std::string& name) { return impl_->client->ResetCache(name); }

void DBEndContext::ReleaseSlot(Slot* slot) { impl_->Free(slot); }

// ---- FunctionPin -----------------------------------------------------------------------------

FunctionPin::FunctionPin(FunctionPin&& other) noexcept : ctx_(other.ctx_), fn_(other.fn_) {
  other.ctx_ = nullptr;
  other.fn_ = nullptr;
}

FunctionPin& FunctionPin::operator=(FunctionPin&& other) noexcept {
  if (this != &other) {
    Reset();
    ctx_ = other.ctx_;
    fn_ = other.fn_;
    other.ctx_ = nullptr;
    other.fn_ = nullptr;
  }
  return *this;
}

FunctionPin::~FunctionPin() { Reset(); }

void FunctionPin::Reset() {
  if (ctx_ != nullptr && fn_ != nullptr) ctx_->Unpin(fn_);
  ctx_ = nullptr;
  fn_ = nullptr;
}

// A pin's version never changes, so these fields are read without the context's lock.
const std::string& FunctionPin::name() const { return fn_->name; }
uint32_t FunctionPin::version() const { return fn_->version; }
const std::vector<TypeId>& FunctionPin::arg_types() const { return fn_->arg_types; }
const std::vector<TypeId>& FunctionPin::return_types() const { return fn_->return_types; }

}  // namespace imlane
