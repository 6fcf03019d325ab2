#include "imlane/executor/executor.h"

#include <poll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "imlane/common/system.h"
#include "imlane/executor/batch_server.h"
#include "imlane/lane/futex.h"

namespace imlane {

namespace {
constexpr int64_t kSleepSliceNs = 200 * 1000 * 1000;  // wake up this often to check the coordinator
constexpr int kControlReadTimeoutMs = 5000;
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
  const std::string op = msg.value("op", "");
  if (op == "load") {
    FunctionDefinition def;
    def.name = msg.value("name", "");
    def.source = msg.value("source", "");
    def.filename = msg.value("filename", "<inline>");
    def.entry = msg.value("entry", "");
    auto args = TypesFromJson(msg.value("arg_types", json::array()));
    auto rets = TypesFromJson(msg.value("return_types", json::array()));
    if (!args.ok()) return ErrorReply(args.status());
    if (!rets.ok()) return ErrorReply(rets.status());
    def.arg_types = *args;
    def.return_types = *rets;
    Status options = FunctionOptionsFromJson(msg, &def);
    if (!options.ok()) return ErrorReply(options);
    uint32_t fid = IntegerOr<uint32_t>(msg, "fid", 0);
    Status st = python_->Load(fid, def);
    if (!st.ok()) return ErrorReply(st);
    counters_[fid].loads++;
    return OkReply();
  }
  if (op == "unload") {
    python_->Unload(IntegerOr<uint32_t>(msg, "fid", 0));
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
    auto it = lanes_.find(IntegerOr<uint64_t>(msg, "lane_id", 0));
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
    auto dropped = python_->ResetCache(msg.value("name", ""));
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

bool Executor::HandleControl() {
  while (true) {
    pollfd p{control_.get(), POLLIN, 0};
    int rc = poll(&p, 1, 0);
    if (rc <= 0) return !stop_;
    json msg;
    std::vector<UniqueFd> fds;
    Status st = RecvJson(control_.get(), &msg, &fds, kControlReadTimeoutMs);
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
