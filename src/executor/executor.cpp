#include "imlane/executor/executor.h"
#include "imlane/common/log.h"

#include <poll.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <thread>
#include <utility>

#include "imlane/common/messages.h"
#include "imlane/common/system.h"
#include "imlane/executor/batch_server.h"
#include "imlane/lane/futex.h"

namespace imlane {

namespace {

// Load threads get a stack of their own size rather than glibc's 8 MiB default: the stack counts
// against the executor's address-space limit, which is the function's memory budget.
constexpr size_t kLoadThreadStackBytes = 4 * 1024 * 1024;

void* RunDetached(void* arg) {
  std::unique_ptr<std::function<void()>> fn(static_cast<std::function<void()>*>(arg));
  (*fn)();
  return nullptr;
}

// A detached thread with a given stack size; false if the thread could not be created.
bool StartDetached(std::function<void()> fn, size_t stack_bytes) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, stack_bytes);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  auto* arg = new std::function<void()>(std::move(fn));
  pthread_t thread;
  const int rc = pthread_create(&thread, &attr, RunDetached, arg);
  pthread_attr_destroy(&attr);
  if (rc != 0) delete arg;
  return rc == 0;
}

constexpr size_t kReaderStackBytes = 1024 * 1024;     // the control reader runs no Python
constexpr int64_t kSleepSliceNs = 200 * 1000 * 1000;  // wake up this often to check the coordinator
constexpr int kControlMessageTimeoutMs = 30000;       // a whole load message (its source) within this
}  // namespace

Executor::Executor(UniqueFd control, SharedRegion bell, PythonRuntime* python, ExecutorOptions options)
    : control_(std::move(control)), bell_(std::move(bell)), python_(python), options_(options) {}

bool Executor::AnyPending() const {
  for (const auto& [id, lane] : lanes_) {
    if (LaneExecutor(lane.get()).HasRequest()) return true;
  }
  return false;
}

bool Executor::ServePending() {
  bool served = false;
  for (auto& [id, lane] : lanes_) {
    if (LaneExecutor(lane.get()).HasRequest()) {
      Serve(lane.get());
      served = true;
    }
  }
  return served;
}

void Executor::Serve(Lane* lane) {
  LaneExecutor role(lane);
  const LaneExecutor::Request request = role.BeginServe();
  if (python_->IsRemote(request.function_id)) {
    SubmitRemote(lane, &role, request);
    return;
  }
  FunctionCounters& counters = counters_[request.function_id];
  auto served = ServeBatch(python_, lane->region(), lane->region_bytes(), lane->arena_offset(), request.function_id,
                           request.offset, request.bytes);
  if (!served.ok()) {
    counters.errors++;
    role.PublishError(served.status());
    return;
  }
  counters.batches++;
  counters.rows += served->rows;
  counters.busy_ns += served->result.exec_ns;
  role.PublishResult(served->result);
}

void Executor::SubmitRemote(Lane* lane, LaneExecutor* role, const LaneExecutor::Request& request) {
  auto batch = SubmitRemoteBatch(python_, lane->region(), lane->region_bytes(), lane->arena_offset(),
                                 request.function_id, request.offset, request.bytes);
  if (!batch.ok()) {
    counters_[request.function_id].errors++;
    role->PublishError(batch.status());
    return;
  }
  const auto key = std::make_pair(request.function_id, batch->token);
  remote_[key] = InFlight{lane, batch.MoveValue()};
}

bool Executor::CompleteRemote() {
  if (remote_.empty() || !remote_ready_.exchange(false)) return false;
  finished_.clear();
  python_->TakeFinished(&finished_);
  for (const auto& f : finished_) {
    auto it = remote_.find({f.function_id, f.token});
    if (it == remote_.end()) continue;
    Lane* lane = it->second.lane;
    FunctionCounters& counters = counters_[f.function_id];
    auto served = FinishRemoteBatch(python_, lane->region(), lane->region_bytes(), it->second.batch);
    LaneExecutor role(lane);
    if (served.ok()) {
      counters.batches++;
      counters.rows += served->rows;
      counters.busy_ns += served->result.exec_ns;
      role.PublishResult(served->result);
    } else {
      counters.errors++;
      role.PublishError(served.status());
    }
    remote_.erase(it);
  }
  return !finished_.empty();
}

void Executor::StartLoad(const json& msg) {
  auto finish = [this](uint32_t fid, const json& request, json reply) {
    const bool ok = reply.value("ok", false);
    {
      // Counted by the serving loop before it answers any later message (stats).
      std::lock_guard<std::mutex> lock(loads_mu_);
      finished_loads_.push_back(FinishedLoad{fid, ok});
    }
    bell()->RequestControl();
    // Sent from here, not by the serving loop: a load finishes even while a batch is stuck.
    Reply(ReplyTo(request, std::move(reply)));  // a closed channel is the serving loop's to notice
    loads_running_--;
  };
  // Decoded here, before a thread is started: a malformed load is answered at once.
  auto load = DecodeLoadRequest(msg);
  const uint32_t fid = load.ok() ? load->fid : IntegerOr<uint32_t>(msg, "fid", 0);
  if (!load.ok()) {
    finish(fid, msg, ErrorReply(load.status().WithContext("load")));
    return;
  }
  FunctionDefinition def = std::move(load->def);
  loads_running_++;
  const std::string name = def.name;
  const bool started = StartDetached(
      [this, finish, fid, def = std::move(def), msg] {
        Status st;
        {
          PythonRuntime::AcquireGil gil;  // the serving loop gives the GIL up between batches and while it sleeps
          st = python_->Load(fid, def);
        }
        finish(fid, msg, st.ok() ? OkReply() : ErrorReply(st));
      },
      kLoadThreadStackBytes);  // counted in loads_running_ until its reply is sent
  if (!started) {
    finish(fid, msg,
           ErrorReply(Status::CapacityExceeded("the executor cannot start a thread to load function '" + name +
                                               "' (out of memory or threads)")));
  }
}

void Executor::CountFinishedLoads() {
  std::vector<FinishedLoad> done;
  {
    std::lock_guard<std::mutex> lock(loads_mu_);
    done.swap(finished_loads_);
  }
  for (auto& d : done) {
    if (d.ok) counters_[d.fid].loads++;
  }
}

bool Executor::Reply(const json& reply) {
  std::lock_guard<std::mutex> lock(send_mu_);
  return SendJson(control_.get(), reply).ok();
}

json Executor::HandleMessage(const json& msg, std::vector<UniqueFd>* fds) {
  auto decoded_op = DecodeOp(msg);
  if (!decoded_op.ok()) return ErrorReply(decoded_op.status());
  const std::string& op = *decoded_op;
  if (op == "unload") {
    auto fid = DecodeUnloadRequest(msg);
    if (!fid.ok()) return ErrorReply(fid.status().WithContext("unload"));
    python_->Unload(*fid);
    return OkReply();
  }
  if (op == "add_lane") {
    if (fds->size() != 1) return ErrorReply(Status::ProtocolError("add_lane needs exactly one descriptor"));
    struct stat st {};
    if (fstat((*fds)[0].get(), &st) != 0) return ErrorReply(Status::FromErrno("fstat of a Lane", errno));
    const uint64_t bytes = static_cast<uint64_t>(st.st_size);
    // The limit grows before the mapping, which would otherwise fail against it.
    Status limit = SetAddressLimit(lane_bytes_ + bytes);
    if (!limit.ok()) return ErrorReply(limit);
    auto lane = Lane::Attach((*fds)[0].Release());
    if (!lane.ok()) {
      SetAddressLimit(lane_bytes_).IgnoreError();
      return ErrorReply(lane.status());
    }
    lane->CloseFd();  // the mapping is all we need
    uint64_t id = lane->id();
    auto& slot = lanes_[id];
    if (slot) lane_bytes_ -= slot->region_bytes();  // the same Lane again: the old mapping goes
    slot = std::make_unique<Lane>(lane.MoveValue());
    lane_bytes_ += slot->region_bytes();
    SetAddressLimit(lane_bytes_).IgnoreError();
    return OkReply();
  }
  if (op == "remove_lane") {
    auto lane_id = DecodeRemoveLaneRequest(msg);
    if (!lane_id.ok()) return ErrorReply(lane_id.status().WithContext("remove_lane"));
    auto it = lanes_.find(*lane_id);
    if (it != lanes_.end()) {
      lane_bytes_ -= it->second->region_bytes();
      lanes_.erase(it);
      SetAddressLimit(lane_bytes_).IgnoreError();  // lowering cannot fail
    }
    return OkReply();
  }
  if (op == "stats") {
    json fns = json::array();
    for (const auto& [fid, c] : counters_) {
      ContextCacheStats cache = python_->CacheStats(fid);
      json row = {{"fid", fid},
                  {"batches", c.batches},
                  {"rows", c.rows},
                  {"busy_ns", c.busy_ns},
                  {"errors", c.errors},
                  {"loads", c.loads},
                  {"cache_hits", cache.hits},
                  {"cache_misses", cache.misses},
                  {"cache_bytes", cache.bytes},
                  {"cache_saved_s", cache.saved_s}};
      const std::string ray = python_->RemoteStats(fid);
      if (!ray.empty()) row["ray"] = json::parse(ray, nullptr, /*allow_exceptions=*/false);
      fns.push_back(std::move(row));
    }
    json reply = OkReply();
    reply["functions"] = fns;
    reply["lanes"] = lanes_.size();
    return reply;
  }
  if (op == "reset_cache") {
    auto name = DecodeResetCacheRequest(msg);
    if (!name.ok()) return ErrorReply(name.status().WithContext("reset_cache"));
    auto dropped = python_->ResetCache(*name);
    if (!dropped.ok()) return ErrorReply(dropped.status());
    json reply = OkReply();
    reply["dropped"] = *dropped;
    return reply;
  }
  if (op == "shutdown") {
    stop_ = true;
    return OkReply();
  }
  return ErrorReply(Status::ProtocolError("unknown executor op '" + op + "'"));
}

Status Executor::SetAddressLimit(uint64_t lane_bytes) {
  if (options_.memory_budget_bytes == 0) return Status::OK();
  rlimit lim{};
  if (getrlimit(RLIMIT_AS, &lim) != 0) return Status::FromErrno("getrlimit(RLIMIT_AS)", errno);
  if (lim.rlim_cur == RLIM_INFINITY) return Status::OK();  // no limit was set (sanitizer builds)
  const rlim_t wanted = static_cast<rlim_t>(options_.memory_budget_bytes + lane_bytes);
  if (lim.rlim_max != RLIM_INFINITY && wanted > lim.rlim_max) {
    return Status::CapacityExceeded("mapping " + std::to_string(lane_bytes) +
                                    " bytes of Lanes needs an address-space "
                                    "limit of " +
                                    std::to_string(wanted) + " bytes, over the executor's hard limit of " +
                                    std::to_string(lim.rlim_max) + " (imlane serve --lane-memory-mb)");
  }
  lim.rlim_cur = wanted;
  if (setrlimit(RLIMIT_AS, &lim) != 0) return Status::FromErrno("setrlimit(RLIMIT_AS)", errno);
  return Status::OK();
}

void Executor::ReadControl() {
  while (true) {
    QueuedMessage m;
    RecvLimits limits;
    limits.message_timeout_ms = kControlMessageTimeoutMs;
    limits.peer = "the coordinator";
    Status st = RecvJson(control_.get(), &m.msg, &m.fds, -1, limits);
    if (!st.ok()) {
      if (st.code() != StatusCode::kUnavailable) Log(LogLevel::kError, "executor", st.ToString());
      {
        std::lock_guard<std::mutex> lock(control_mu_);
        control_closed_ = true;  // coordinator gone or the stream is broken: nothing sensible is left
      }
      reader_done_ = true;
      bell()->RequestControl();
      return;
    }
    const auto op = m.msg.find("op");
    if (op != m.msg.end() && op->is_string() && *op == "load") {
      StartLoad(m.msg);  // begins at once, even while the serving loop is inside a batch
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(control_mu_);
      control_queue_.push_back(std::move(m));
    }
    bell()->RequestControl();
  }
}

bool Executor::HandleControl() {
  CountFinishedLoads();
  std::deque<QueuedMessage> work;
  bool closed = false;
  {
    std::lock_guard<std::mutex> lock(control_mu_);
    work.swap(control_queue_);
    closed = control_closed_;
  }
  for (auto& m : work) {
    json reply = ReplyTo(m.msg, HandleGuarded([&] { return HandleMessage(m.msg, &m.fds); }));
    if (!Reply(reply)) return false;
    if (stop_) return false;
  }
  return !closed && !stop_;
}

int Executor::Run() {
  ExecutorBell* b = bell();
  if (options_.ray_bridge) {
    python_->SetRemoteWake([this] {
      remote_ready_.store(true, std::memory_order_release);
      bell()->Ring();
    });
  }
  json ready = {{"op", "ready"}, {"pid", getpid()}};
  if (!SendJson(control_.get(), ready).ok()) return 1;
  // Control messages are read by a thread of their own, so that a load starts even while a batch
  // runs; everything but loads is queued for this loop, which owns the Lanes and the counters.
  if (!StartDetached([this] { ReadControl(); }, kReaderStackBytes)) {
    Log(LogLevel::kError, "executor", "cannot start the control reader thread");
    return 1;
  }
  bool control = false;
  while (true) {
    b->Beat();
    const bool worked = ServePending() | CompleteRemote();
    if ((b->TakeControlRequest() || std::exchange(control, false)) && !HandleControl()) break;
    if (worked) continue;
    PythonRuntime::ReleaseGil release;  // let any Python threads of the functions run meanwhile
    auto work = [&] { return AnyPending() || remote_ready_.load(std::memory_order_acquire); };
    if (SpinUntil([&] { return work() || b->ControlPending(); }, options_.spin_ns)) continue;
    if (b->Sleep(work, kSleepSliceNs) == WaitResult::kTimedOut) {
      control = true;
      if (!remote_.empty()) remote_ready_ = true;  // a replacement actor may be ready for waiting batches
    }
  }
  // A load thread may still be inside pyinitial: finalising Python under it is not safe, and there
  // is nothing left to clean up that the kernel does not.
  if (loads_running_ > 0) {
    std::fflush(nullptr);
    std::_Exit(0);
  }
  // Wake the reader (EOF) and let it finish before this object goes away.
  ::shutdown(control_.get(), SHUT_RDWR);
  for (int i = 0; i < 1000 && !reader_done_; i++) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (!reader_done_) {
    std::fflush(nullptr);
    std::_Exit(0);
  }
  return 0;
}

}  // namespace imlane
