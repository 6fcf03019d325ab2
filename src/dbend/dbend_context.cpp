#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <unordered_map>

#include "imlane/common/system.h"
#include "imlane/dbend.h"
#include "imlane/dbend/coordinator_client.h"
#include "imlane/lane/batch_format.h"
#include "imlane/lane/futex.h"
#include "imlane/lane/lane.h"

namespace imlane {

namespace {

constexpr int64_t kSleepSliceNs = 100 * 1000 * 1000;  // re-check deadlines this often while waiting
constexpr int kKillSettleMs = 5000;                   // a killed executor's Lanes fail within this

bool Finished(LaneState s) { return s == LaneState::kDone || s == LaneState::kError || s == LaneState::kFailed; }

int64_t DeadlineAfterMs(int timeout_ms) { return MonotonicNanos() + static_cast<int64_t>(timeout_ms) * 1000000; }

}  // namespace

struct FunctionState;

struct Slot {
  std::unique_ptr<Lane> lane;
  int executor = -1;
  ExecutorBell* bell = nullptr;
  FunctionState* function = nullptr;
  bool in_use = false;      // reserved by an OpenBatch, a ticket or a PulledBatch
  bool abandoned = false;   // its batch timed out; free again once the Lane has settled
  Ticket ticket = 0;
  size_t request_rows = 0;
  uint64_t seq = 0;
};

struct FunctionState {
  std::string name;
  uint32_t fid = 0;
  uint32_t version = 0;
  std::vector<TypeId> arg_types;
  std::vector<TypeId> return_types;
  std::vector<std::unique_ptr<Slot>> slots;
  std::vector<uint64_t> lane_ids;
  std::map<int, int> executor_position;  // executor index -> 0..n-1, for core hints
  AdaptiveBatchTuner tuner;
};

struct DBEndContext::Impl {
  Settings settings;
  std::unique_ptr<CoordinatorClient> client;
  std::mutex mu;
  std::condition_variable slot_freed;
  std::map<std::string, std::unique_ptr<FunctionState>> functions;
  std::map<int, SharedRegion> bells;  // executor index -> its bell, mapped once
  std::unordered_map<Ticket, Slot*> tickets;
  Ticket next_ticket = 1;

  // Lanes for `name`, acquired from the coordinator on first use. Called with `mu` held.
  Result<FunctionState*> Function(const std::string& name);
  // Asks the coordinator for more Lanes (slots_per_executor on each executor) and adds them.
  Status AddLanes(FunctionState* fn, int slots_per_executor);
  Status AddLanesUnguarded(FunctionState* fn, int slots_per_executor);
  Slot* FreeSlot(FunctionState* fn, const SchedHint& hint);
  void Free(Slot* slot);
  Status WaitFinished(Slot* slot, int64_t deadline);
  enum class TicketUse { kLook, kTake, kTakeIfFinished };
  // The slot of a ticket (NotFound for an unknown one); kTake ends the ticket, kTakeIfFinished only
  // when its batch is done (else the result is nullptr). Takes `mu`.
  Result<Slot*> FindTicket(Ticket ticket, TicketUse use);
  // Gives a function's Lanes back to the coordinator unless a batch is in flight (then they stay
  // until the context ends). Called with `mu` held.
  void ReleaseIfIdle(std::map<std::string, std::unique_ptr<FunctionState>>::iterator it);
  Result<PulledBatch> Collect(DBEndContext* owner, Slot* slot);
};

Result<FunctionState*> DBEndContext::Impl::Function(const std::string& name) {
  auto it = functions.find(name);
  if (it != functions.end()) return it->second.get();
  auto fn = std::make_unique<FunctionState>();
  fn->name = name;
  IMLANE_RETURN_NOT_OK(AddLanes(fn.get(), settings.slots_per_executor));
  AdaptiveBatchTuner::Options topt;
  topt.pinned_rows = settings.batch_rows;
  // The tuner never asks for more rows than half a Lane holds (room for the result).
  size_t smallest = SIZE_MAX;
  for (const auto& s : fn->slots) smallest = std::min<size_t>(smallest, s->lane->arena_bytes());
  uint64_t per_row = BatchBuilder::RequiredBytes(fn->arg_types, 1024, 0) / 1024 + 16;
  topt.max_rows = std::max<size_t>(topt.min_rows, std::min<size_t>(topt.max_rows, smallest / 2 / per_row));
  fn->tuner = AdaptiveBatchTuner(topt);
  FunctionState* raw = fn.get();
  functions[name] = std::move(fn);
  return raw;
}

Status DBEndContext::Impl::AddLanes(FunctionState* fn, int slots_per_executor) {
  try {
    return AddLanesUnguarded(fn, slots_per_executor);
  } catch (const std::exception& e) {
    return Status::ProtocolError(std::string("malformed reply from the coordinator: ") + e.what());
  }
}

Status DBEndContext::Impl::AddLanesUnguarded(FunctionState* fn, int slots_per_executor) {
  json req = {{"op", "acquire"},
              {"name", fn->name},
              {"executors", settings.executors_per_function},
              {"slots_per_executor", slots_per_executor},
              {"lane_bytes", settings.lane_bytes}};
  json reply;
  std::vector<UniqueFd> fds;
  IMLANE_RETURN_NOT_OK(client->Call(req, &reply, &fds));
  const json& lanes = reply["lanes"];
  const json& executors = reply["executors"];
  if (fds.size() != lanes.size() + executors.size()) {
    return Status::ProtocolError("coordinator sent " + std::to_string(fds.size()) + " descriptors for " +
                                 std::to_string(lanes.size()) + " Lanes and " + std::to_string(executors.size()) +
                                 " executors");
  }
  if (fn->slots.empty()) {
    fn->fid = IntegerOr<uint32_t>(reply, "fid", 0);
    fn->version = IntegerOr<uint32_t>(reply, "version", 0);
    IMLANE_ASSIGN_OR_RETURN(fn->arg_types, TypesFromJson(reply["arg_types"]));
    IMLANE_ASSIGN_OR_RETURN(fn->return_types, TypesFromJson(reply["return_types"]));
  } else if (IntegerOr<uint32_t>(reply, "fid", 0) != fn->fid) {
    // Replaced meanwhile: keep serving the version this context started with; give these back.
    std::vector<uint64_t> ids;
    for (const auto& l : lanes) ids.push_back(IntegerOr<uint64_t>(l, "lane_id", 0));
    json ignored;
    client->Call(json{{"op", "release"}, {"lane_ids", ids}}, &ignored);
    return Status::OK();
  }
  for (size_t i = 0; i < executors.size(); i++) {
    int index = IntegerOr<int>(executors[i], "index", -1);
    fn->executor_position.emplace(index, static_cast<int>(fn->executor_position.size()));
    UniqueFd& fd = fds[lanes.size() + i];
    if (bells.count(index)) continue;  // same executor, same bell
    IMLANE_ASSIGN_OR_RETURN(SharedRegion bell, SharedRegion::Attach(fd.Release()));
    if (bell.size() < sizeof(ExecutorBell) || reinterpret_cast<ExecutorBell*>(bell.data())->magic != kBellMagic) {
      return Status::ProtocolError("received a bad executor bell");
    }
    bell.CloseFd();
    bells[index] = std::move(bell);
  }
  for (size_t i = 0; i < lanes.size(); i++) {
    IMLANE_ASSIGN_OR_RETURN(Lane lane, Lane::Attach(fds[i].Release()));
    lane.CloseFd();
    auto slot = std::make_unique<Slot>();
    slot->executor = IntegerOr<int>(lanes[i], "executor", -1);
    if (!bells.count(slot->executor)) return Status::ProtocolError("Lane for an executor without a bell");
    slot->bell = reinterpret_cast<ExecutorBell*>(bells[slot->executor].data());
    slot->function = fn;
    slot->lane = std::make_unique<Lane>(std::move(lane));
    fn->lane_ids.push_back(IntegerOr<uint64_t>(lanes[i], "lane_id", 0));
    fn->slots.push_back(std::move(slot));
  }
  return Status::OK();
}

Slot* DBEndContext::Impl::FreeSlot(FunctionState* fn, const SchedHint& hint) {
  int preferred = -1;
  if (hint.executor >= 0) {
    preferred = hint.executor;
  } else if (hint.core_id >= 0 && !fn->executor_position.empty()) {
    int pos = hint.core_id % static_cast<int>(fn->executor_position.size());
    for (const auto& [index, p] : fn->executor_position) {
      if (p == pos) preferred = index;
    }
  }
  std::map<int, int> busy;
  for (auto& s : fn->slots) {
    if (s->abandoned && Finished(s->lane->state())) {
      // A timed-out batch has settled (finished late, or its executor was replaced): reuse.
      s->abandoned = false;
      s->in_use = false;
      s->lane->header()->state.store(static_cast<uint32_t>(LaneState::kIdle), std::memory_order_release);
    }
    busy[s->executor] += s->in_use;
  }
  Slot* best = nullptr;
  for (auto& s : fn->slots) {
    if (s->in_use) continue;
    if (s->executor == preferred) return s.get();
    if (best == nullptr || busy[s->executor] < busy[best->executor]) best = s.get();
  }
  return best;
}

void DBEndContext::Impl::ReleaseIfIdle(std::map<std::string, std::unique_ptr<FunctionState>>::iterator it) {
  for (auto& s : it->second->slots) {
    if (s->in_use) return;
  }
  json ignored;
  client->Call(json{{"op", "release"}, {"lane_ids", it->second->lane_ids}}, &ignored);
  functions.erase(it);
}

Result<Slot*> DBEndContext::Impl::FindTicket(Ticket ticket, TicketUse use) {
  std::lock_guard<std::mutex> lock(mu);
  auto it = tickets.find(ticket);
  if (it == tickets.end()) return Status::NotFound("unknown ticket " + std::to_string(ticket));
  Slot* slot = it->second;
  if (use == TicketUse::kTakeIfFinished && !Finished(slot->lane->state())) return static_cast<Slot*>(nullptr);
  if (use != TicketUse::kLook) tickets.erase(it);
  return slot;
}

void DBEndContext::Impl::Free(Slot* slot) {
  {
    std::lock_guard<std::mutex> lock(mu);
    slot->lane->header()->state.store(static_cast<uint32_t>(LaneState::kIdle), std::memory_order_release);
    slot->in_use = false;
    slot->ticket = 0;
  }
  slot_freed.notify_all();
}

Status DBEndContext::Impl::WaitFinished(Slot* slot, int64_t deadline) {
  LaneHeader* h = slot->lane->header();
  if (SpinUntil([&] { return Finished(slot->lane->state()); }, settings.spin_ns)) return Status::OK();
  while (true) {
    uint32_t cur = h->state.load(std::memory_order_seq_cst);
    if (Finished(static_cast<LaneState>(cur))) return Status::OK();
    int64_t left = deadline - MonotonicNanos();
    if (left <= 0) return Status::TimedOut("timeout");
    // Without a coordinator nobody would fail this Lane if its executor died with it.
    if (!client->Alive()) return Status::Unavailable("the coordinator went away");
    h->client_waiting.store(1, std::memory_order_seq_cst);
    cur = h->state.load(std::memory_order_seq_cst);
    if (!Finished(static_cast<LaneState>(cur))) FutexWait(&h->state, cur, std::min(left, kSleepSliceNs));
    h->client_waiting.store(0, std::memory_order_relaxed);
  }
}

Result<PulledBatch> DBEndContext::Impl::Collect(DBEndContext* owner, Slot* slot) {
  Lane* lane = slot->lane.get();
  LaneHeader* h = lane->header();
  FunctionState* fn = slot->function;
  LaneState state = lane->state();
  if (state != LaneState::kDone) {
    int code = h->error_code;
    if (code <= 0 || code > static_cast<int>(StatusCode::kInternal)) code = static_cast<int>(StatusCode::kInternal);
    std::string message = lane->ReadMessage();
    Free(slot);
    return Status(static_cast<StatusCode>(code), message);
  }
  // The executor's response is checked like any input from another process.
  Status bad;
  if (h->response_seq_low != static_cast<uint32_t>(slot->seq)) {
    bad = Status::ProtocolError("response sequence number does not match the request");
  }
  Result<BatchView> view = bad.ok() ? BatchView::Open(lane->region(), lane->region_bytes(), h->response_offset,
                                                      h->response_bytes)
                                    : Result<BatchView>(bad);
  if (view.ok()) {
    if (view->num_rows() != slot->request_rows || view->num_columns() != fn->return_types.size()) {
      view = Status::ProtocolError("result of '" + fn->name + "' has " + std::to_string(view->num_rows()) + " rows x " +
                                   std::to_string(view->num_columns()) + " columns, expected " +
                                   std::to_string(slot->request_rows) + " x " + std::to_string(fn->return_types.size()));
    } else {
      for (size_t c = 0; c < view->num_columns(); c++) {
        if (view->column(c).type() != fn->return_types[c]) {
          view = Status::ProtocolError("result column " + std::to_string(c) + " of '" + fn->name + "' has the wrong type");
          break;
        }
      }
    }
  }
  if (!view.ok()) {
    Free(slot);
    return view.status();
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    fn->tuner.Report(slot->request_rows, h->exec_ns);
  }
  PulledBatch out;
  out.owner_ = owner;
  out.slot_ = slot;
  out.view_ = view.MoveValue();
  out.model_ns_ = h->exec_ns;
  return out;
}

// ---- DBEndContext ----------------------------------------------------------------------------

DBEndContext::DBEndContext(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

DBEndContext::~DBEndContext() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->functions.clear();
    impl_->bells.clear();
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

Result<FunctionSpec> FunctionSpec::Make(std::string name, std::string source, const std::string& arg_types,
                                        const std::string& return_types, std::string entry) {
  FunctionSpec spec;
  spec.name = std::move(name);
  spec.source = std::move(source);
  spec.entry = std::move(entry);
  IMLANE_ASSIGN_OR_RETURN(spec.arg_types, ParseTypeList(arg_types));
  IMLANE_ASSIGN_OR_RETURN(spec.return_types, ParseTypeList(return_types));
  return spec;
}

Status DBEndContext::RegisterFunction(const FunctionSpec& spec) {
  // A source without a line break that names a .py file, or an existing file, is a path; anything
  // else is code. Paths are read here, by the engine's process, relative to its working directory.
  std::string code = spec.source, filename = "<inline:" + spec.name + ">", source_ref = "<inline>";
  const bool one_line = spec.source.find('\n') == std::string::npos;
  const bool looks_like_path = one_line && (spec.source.size() > 3 && spec.source.rfind(".py") == spec.source.size() - 3);
  if (one_line && (looks_like_path || FileExists(spec.source))) {
    struct stat st;
    if (stat(spec.source.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return Status::NotFound("cannot register function '" + spec.name + "': source file '" + spec.source +
                              "' does not exist");
    }
    IMLANE_ASSIGN_OR_RETURN(code, ReadFile(spec.source));
    char resolved[4096];
    filename = realpath(spec.source.c_str(), resolved) ? resolved : spec.source;
    source_ref = filename;
  }
  json req = {{"op", "register"},
              {"name", spec.name},
              {"source", code},
              {"filename", filename},
              {"source_ref", source_ref},
              {"entry", spec.entry},
              {"arg_types", TypesToJson(spec.arg_types)},
              {"return_types", TypesToJson(spec.return_types)}};
  json reply;
  IMLANE_RETURN_NOT_OK(impl_->client->Call(req, &reply));
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->functions.find(spec.name);
  if (it != impl_->functions.end() && it->second->fid != IntegerOr<uint32_t>(reply, "fid", 0)) {
    impl_->ReleaseIfIdle(it);  // a new version: our Lanes point at the old one
  }
  return Status::OK();
}

Status DBEndContext::DropFunction(const std::string& name) {
  json reply;
  IMLANE_RETURN_NOT_OK(impl_->client->Call(json{{"op", "drop"}, {"name", name}}, &reply));
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->functions.find(name);
  if (it != impl_->functions.end()) impl_->ReleaseIfIdle(it);
  return Status::OK();
}

Result<FunctionInfo> DBEndContext::GetFunction(const std::string& name) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  IMLANE_ASSIGN_OR_RETURN(FunctionState * fn, impl_->Function(name));
  FunctionInfo info;
  info.name = fn->name;
  info.version = fn->version;
  info.arg_types = fn->arg_types;
  info.return_types = fn->return_types;
  info.executors = static_cast<int>(fn->executor_position.size());
  info.slots = static_cast<int>(fn->slots.size());
  return info;
}

size_t DBEndContext::RecommendedBatchRows(const std::string& name) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto fn = impl_->Function(name);
  if (!fn.ok()) return impl_->settings.batch_rows ? impl_->settings.batch_rows : 2048;
  return (*fn)->tuner.batch_rows();
}

Result<OpenBatch> DBEndContext::BeginBatch(const std::string& name, size_t capacity_rows, const SchedHint& hint) {
  Slot* slot = nullptr;
  {
    std::unique_lock<std::mutex> lock(impl_->mu);
    IMLANE_ASSIGN_OR_RETURN(FunctionState * fn, impl_->Function(name));
    const int64_t deadline = DeadlineAfterMs(impl_->settings.timeout_ms);
    const size_t limit = impl_->settings.max_inflight > 0
                             ? static_cast<size_t>(impl_->settings.max_inflight)
                             : fn->executor_position.size() * impl_->settings.slots_per_executor * 4;
    while ((slot = impl_->FreeSlot(fn, hint)) == nullptr) {
      if (fn->slots.size() + fn->executor_position.size() <= limit) {
        // Every slot is taken (many engine threads, or deep pipelines): grow rather than wait.
        IMLANE_RETURN_NOT_OK(impl_->AddLanes(fn, 1));
        continue;
      }
      if (MonotonicNanos() >= deadline) {
        return Status::TimedOut("all " + std::to_string(fn->slots.size()) + " in-flight slots of '" + name +
                                "' stayed busy for " + std::to_string(impl_->settings.timeout_ms) +
                                " ms; pull finished tickets before pushing more");
      }
      // Timed waits also let abandoned slots be noticed once their Lane settles.
      impl_->slot_freed.wait_for(lock, std::chrono::milliseconds(50));
    }
    slot->in_use = true;
  }
  FunctionState* fn = slot->function;
  Lane* lane = slot->lane.get();
  OpenBatch open;
  open.owner_ = this;
  open.slot_ = slot;
  open.builder_ = std::make_unique<BatchBuilder>();
  // Leave room behind the request for the fixed-width part of the result.
  uint64_t result_room = BatchBuilder::RequiredBytes(fn->return_types, capacity_rows, 0) + kBufferAlignment;
  uint64_t room = lane->arena_bytes() > result_room ? lane->arena_bytes() - result_room : 0;
  Status st = open.builder_->Start(lane->region(), lane->region_bytes(), lane->arena_offset(), room, fn->arg_types,
                                   capacity_rows);
  if (!st.ok()) {
    return st.WithContext("function '" + name + "' (lane_bytes " + std::to_string(lane->region_bytes()) + ")");
  }
  return open;
}

Result<Ticket> DBEndContext::Submit(OpenBatch&& batch) {
  if (batch.slot_ == nullptr) return Status::InvalidArgument("Submit of an empty or already submitted batch");
  auto* slot = static_cast<Slot*>(batch.slot_);
  IMLANE_ASSIGN_OR_RETURN(uint64_t bytes, batch.builder_->Finish());
  LaneHeader* h = slot->lane->header();
  Ticket ticket;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    ticket = impl_->next_ticket++;
    impl_->tickets[ticket] = slot;
    slot->ticket = ticket;
  }
  slot->request_rows = batch.builder_->num_rows();
  slot->seq++;
  h->seq = slot->seq;
  h->function_id = slot->function->fid;
  h->request_offset = slot->lane->arena_offset();
  h->request_bytes = bytes;
  h->error_code = 0;
  h->message_bytes = 0;
  h->state.store(static_cast<uint32_t>(LaneState::kRequest), std::memory_order_release);
  RingBell(slot->bell);
  batch.slot_ = nullptr;  // the ticket owns the slot now
  batch.owner_ = nullptr;
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
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    (*slot)->abandoned = true;  // FreeSlot recycles it once its Lane has settled
    (*slot)->ticket = 0;
  }
  impl_->slot_freed.notify_all();
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
  Status st = impl_->WaitFinished(slot, DeadlineAfterMs(effective));
  if (st.code() == StatusCode::kUnavailable) {
    {
      std::lock_guard<std::mutex> lock(impl_->mu);
      slot->abandoned = true;
    }
    return Status::Unavailable("imlane function '" + slot->function->name +
                               "': the coordinator went away while a batch was running (its executors stop "
                               "with it); set up a new context to start or join another coordinator");
  }
  if (!st.ok()) {
    const std::string name = slot->function->name;
    const int executor = slot->executor;
    {
      std::lock_guard<std::mutex> lock(impl_->mu);
      slot->abandoned = true;  // reusable once the executor is replaced and the Lane fails
    }
    std::string reason = "a batch of '" + name + "' exceeded the timeout of " + std::to_string(effective) + " ms";
    json ignored;
    impl_->client->Call(json{{"op", "kill_executor"}, {"index", executor}, {"reason", reason}}, &ignored);
    // Wait for the coordinator to fail this Lane, so that the next batch never lands on the
    // executor being killed and the slot is free again at once.
    if (impl_->WaitFinished(slot, DeadlineAfterMs(kKillSettleMs)).ok()) {
      {
        std::lock_guard<std::mutex> lock(impl_->mu);
        slot->abandoned = false;
      }
      impl_->Free(slot);
    }
    return Status::TimedOut("imlane function '" + name + "' did not finish a batch of " +
                            std::to_string(slot->request_rows) + " rows within " + std::to_string(effective) +
                            " ms; its executor is being replaced");
  }
  return impl_->Collect(this, slot);
}

Status DBEndContext::ExecuteFunction(const std::string& name, const ColumnBatch& in, ColumnBatch* out,
                                     const SchedHint& hint) {
  IMLANE_ASSIGN_OR_RETURN(Ticket t, (Push<ColumnBatch, Column>(name, in, hint)));
  out->columns.clear();
  return Pull<ColumnBatch, Column>(t, &out->columns);
}

Result<std::string> DBEndContext::CoordinatorStatus() {
  json reply;
  IMLANE_RETURN_NOT_OK(impl_->client->Call(json{{"op", "status"}}, &reply));
  reply.erase("ok");
  return reply.dump();
}

void DBEndContext::ReleaseSlot(void* slot) { impl_->Free(static_cast<Slot*>(slot)); }

// ---- PulledBatch / OpenBatch -----------------------------------------------------------------

PulledBatch::PulledBatch(PulledBatch&& o) noexcept
    : owner_(std::exchange(o.owner_, nullptr)), slot_(std::exchange(o.slot_, nullptr)), view_(std::move(o.view_)),
      model_ns_(o.model_ns_) {}

PulledBatch& PulledBatch::operator=(PulledBatch&& o) noexcept {
  if (this != &o) {
    if (owner_ && slot_) owner_->ReleaseSlot(slot_);
    owner_ = std::exchange(o.owner_, nullptr);
    slot_ = std::exchange(o.slot_, nullptr);
    view_ = std::move(o.view_);
    model_ns_ = o.model_ns_;
  }
  return *this;
}

PulledBatch::~PulledBatch() {
  if (owner_ && slot_) owner_->ReleaseSlot(slot_);
}

OpenBatch::OpenBatch(OpenBatch&& o) noexcept
    : owner_(std::exchange(o.owner_, nullptr)), slot_(std::exchange(o.slot_, nullptr)), builder_(std::move(o.builder_)) {}

OpenBatch& OpenBatch::operator=(OpenBatch&& o) noexcept {
  if (this != &o) {
    if (owner_ && slot_) owner_->ReleaseSlot(slot_);
    owner_ = std::exchange(o.owner_, nullptr);
    slot_ = std::exchange(o.slot_, nullptr);
    builder_ = std::move(o.builder_);
  }
  return *this;
}

OpenBatch::~OpenBatch() {
  if (owner_ && slot_) owner_->ReleaseSlot(slot_);
}

}  // namespace imlane
