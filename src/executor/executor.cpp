#include "imlane/executor/executor.h"

#include <poll.h>
#include <unistd.h>

#include <utility>

#include "imlane/common/messages.h"
#include "imlane/common/system.h"
#include "imlane/executor/batch_server.h"
#include "imlane/lane/futex.h"

namespace imlane {

namespace {
constexpr int64_t kSleepSliceNs = 200 * 1000 * 1000;  // wake up this often to check the coordinator
constexpr int kControlReadTimeoutMs = 5000;
constexpr int kControlMessageTimeoutMs = 30000;  // a whole load message (its source) within this
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

json Executor::HandleMessage(const json& msg, std::vector<UniqueFd>* fds) {
  auto decoded_op = DecodeOp(msg);
  if (!decoded_op.ok()) return ErrorReply(decoded_op.status());
  const std::string& op = *decoded_op;
  if (op == "load") {
    auto load = DecodeLoadRequest(msg);
    if (!load.ok()) return ErrorReply(load.status().WithContext("load"));
    Status st = python_->Load(load->fid, load->def);
    if (!st.ok()) return ErrorReply(st);
    counters_[load->fid].loads++;
    return OkReply();
  }
  if (op == "unload") {
    auto fid = DecodeUnloadRequest(msg);
    if (!fid.ok()) return ErrorReply(fid.status().WithContext("unload"));
    python_->Unload(*fid);
    return OkReply();
  }
  if (op == "add_lane") {
    if (fds->size() != 1) return ErrorReply(Status::ProtocolError("add_lane needs exactly one descriptor"));
    auto lane = Lane::Attach((*fds)[0].Release());
    if (!lane.ok()) return ErrorReply(lane.status());
    lane->CloseFd();  // the mapping is all we need
    uint64_t id = lane->id();
    lanes_[id] = std::make_unique<Lane>(lane.MoveValue());
    return OkReply();
  }
  if (op == "remove_lane") {
    auto lane_id = DecodeRemoveLaneRequest(msg);
    if (!lane_id.ok()) return ErrorReply(lane_id.status().WithContext("remove_lane"));
    lanes_.erase(*lane_id);
    return OkReply();
  }
  if (op == "stats") {
    json fns = json::array();
    for (const auto& [fid, c] : counters_) {
      ContextCacheStats cache = python_->CacheStats(fid);
      fns.push_back({{"fid", fid},
                     {"batches", c.batches},
                     {"rows", c.rows},
                     {"busy_ns", c.busy_ns},
                     {"errors", c.errors},
                     {"loads", c.loads},
                     {"cache_hits", cache.hits},
                     {"cache_misses", cache.misses},
                     {"cache_bytes", cache.bytes},
                     {"cache_saved_s", cache.saved_s}});
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

bool Executor::HandleControl() {
  while (true) {
    pollfd p{control_.get(), POLLIN, 0};
    int rc = poll(&p, 1, 0);
    if (rc <= 0) return !stop_;
    json msg;
    std::vector<UniqueFd> fds;
    RecvLimits limits;
    limits.message_timeout_ms = kControlMessageTimeoutMs;
    limits.peer = "the coordinator";
    Status st = RecvJson(control_.get(), &msg, &fds, kControlReadTimeoutMs, limits);
    if (!st.ok()) {
      if (st.code() != StatusCode::kUnavailable) Log(LogLevel::kError, "executor", st.ToString());
      return false;  // coordinator gone or the stream is broken: nothing sensible is left to do
    }
    json reply = ReplyTo(msg, HandleGuarded([&] { return HandleMessage(msg, &fds); }));
    if (!SendJson(control_.get(), reply).ok()) return false;
    if (stop_) return false;
  }
}

int Executor::Run() {
  ExecutorBell* b = bell();
  json ready = {{"op", "ready"}, {"pid", getpid()}};
  if (!SendJson(control_.get(), ready).ok()) return 1;
  bool control = false;
  while (true) {
    b->Beat();
    const bool worked = ServePending();
    if ((b->TakeControlRequest() || std::exchange(control, false)) && !HandleControl()) break;
    if (worked) continue;
    PythonRuntime::ReleaseGil release;  // let any Python threads of the functions run meanwhile
    if (SpinUntil([&] { return AnyPending() || b->ControlPending(); }, options_.spin_ns)) continue;
    if (b->Sleep([&] { return AnyPending(); }, kSleepSliceNs) == WaitResult::kTimedOut) {
      // Also catches a coordinator that closed the socket without ringing.
      pollfd p{control_.get(), POLLIN, 0};
      control = poll(&p, 1, 0) > 0;
    }
  }
  return 0;
}

}  // namespace imlane
