#include "imlane/executor/executor.h"

#include <poll.h>
#include <unistd.h>

#include "imlane/common/system.h"
#include "imlane/lane/batch_format.h"
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
    if (lane->state() == LaneState::kRequest) return true;
  }
  return false;
}

bool Executor::ServePending() {
  bool served = false;
  for (auto& [id, lane] : lanes_) {
    if (lane->state() == LaneState::kRequest) {
      Serve(lane.get());
      served = true;
    }
  }
  return served;
}

void Executor::Serve(Lane* lane) {
  LaneHeader* h = lane->header();
  h->state.store(static_cast<uint32_t>(LaneState::kBusy), std::memory_order_release);
  h->executor_pid = static_cast<int32_t>(getpid());
  const int64_t start = MonotonicNanos();
  const uint32_t fid = h->function_id;
  FunctionCounters& counters = counters_[fid];
  auto fail = [&](const Status& st) {
    counters.errors++;
    lane->PublishError(LaneState::kError, st.code(), st.message());
  };
  // Everything the client wrote is checked before use.
  const uint64_t req_off = h->request_offset, req_bytes = h->request_bytes;
  if (req_off < lane->arena_offset() || req_off > lane->region_bytes() ||
      req_bytes > lane->region_bytes() - req_off) {
    return fail(Status::ProtocolError("request placement outside the Lane"));
  }
  auto view = BatchView::Open(lane->region(), lane->region_bytes(), req_off, req_bytes);
  if (!view.ok()) return fail(view.status());
  const FunctionDefinition* def = python_->Definition(fid);
  if (def == nullptr) {
    return fail(Status::NotFound("function id " + std::to_string(fid) +
                                 " is not loaded in this executor (it was dropped or replaced)"));
  }
  if (view->num_columns() != def->arg_types.size()) {
    return fail(Status::InvalidArgument("imlane function '" + def->name + "' takes " +
                                        std::to_string(def->arg_types.size()) + " arguments (" +
                                        TypeListToString(def->arg_types) + "), the batch has " +
                                        std::to_string(view->num_columns()) + " columns"));
  }
  for (size_t c = 0; c < view->num_columns(); c++) {
    if (view->column(c).type() != def->arg_types[c]) {
      return fail(Status::InvalidArgument("imlane function '" + def->name + "' argument " + std::to_string(c + 1) +
                                          " is " + TypeName(def->arg_types[c]) + ", the batch column is " +
                                          TypeName(view->column(c).type())));
    }
  }
  const uint64_t resp_off = AlignUp(req_off + view->total_bytes(), kBufferAlignment);
  if (resp_off >= lane->region_bytes()) {
    return fail(Status::CapacityExceeded("no room left in the Lane for the result of '" + def->name + "'"));
  }
  BatchBuilder out;
  Status st = out.Start(lane->region(), lane->region_bytes(), resp_off, lane->region_bytes() - resp_off,
                        def->return_types, view->num_rows());
  if (st.ok()) st = python_->Run(fid, *view, &out);
  Result<uint64_t> total = st.ok() ? out.Finish() : Result<uint64_t>(st);
  if (!total.ok()) {
    return fail(total.status().code() == StatusCode::kCapacityExceeded
                    ? total.status().WithContext("result of '" + def->name + "' does not fit the Lane")
                    : total.status());
  }
  const int64_t elapsed = MonotonicNanos() - start;
  counters.batches++;
  counters.rows += view->num_rows();
  counters.busy_ns += static_cast<uint64_t>(elapsed);
  h->response_offset = resp_off;
  h->response_bytes = *total;
  h->exec_ns = static_cast<uint64_t>(elapsed);
  h->response_seq_low = static_cast<uint32_t>(h->seq);
  h->error_code = 0;
  h->state.store(static_cast<uint32_t>(LaneState::kDone), std::memory_order_release);
  lane->WakeClient();
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
    auto lane = Lane::Attach((*fds)[0].Release());
    if (!lane.ok()) return ErrorReply(lane.status());
    lane->CloseFd();  // the mapping is all we need
    uint64_t id = lane->id();
    lanes_[id] = std::make_unique<Lane>(lane.MoveValue());
    return OkReply();
  }
  if (op == "remove_lane") {
    lanes_.erase(IntegerOr<uint64_t>(msg, "lane_id", 0));
    return OkReply();
  }
  if (op == "stats") {
    json fns = json::array();
    for (const auto& [fid, c] : counters_) {
      fns.push_back({{"fid", fid}, {"batches", c.batches}, {"rows", c.rows}, {"busy_ns", c.busy_ns},
                     {"errors", c.errors}, {"loads", c.loads}});
    }
    json reply = OkReply();
    reply["functions"] = fns;
    reply["lanes"] = lanes_.size();
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
  while (true) {
    b->heartbeat_ns.store(MonotonicNanos(), std::memory_order_relaxed);
    bool worked = ServePending();
    if (b->control_pending.exchange(0, std::memory_order_acq_rel) != 0 && !HandleControl()) break;
    if (worked) continue;
    PythonRuntime::ReleaseGil release;  // let any Python threads of the functions run meanwhile
    if (SpinUntil([&] { return AnyPending() || b->control_pending.load(std::memory_order_acquire) != 0; },
                  options_.spin_ns)) {
      continue;
    }
    b->sleeping.store(1, std::memory_order_seq_cst);
    uint32_t seen = b->ring.load(std::memory_order_seq_cst);
    if (!AnyPending() && b->control_pending.load(std::memory_order_seq_cst) == 0) {
      WaitResult r = FutexWait(&b->ring, seen, kSleepSliceNs);
      if (r == WaitResult::kTimedOut) {
        b->sleeping.store(0, std::memory_order_seq_cst);
        // Also catches a coordinator that closed the socket without ringing.
        pollfd p{control_.get(), POLLIN, 0};
        if (poll(&p, 1, 0) > 0) b->control_pending.store(1, std::memory_order_release);
      }
    }
    b->sleeping.store(0, std::memory_order_seq_cst);
  }
  return 0;
}

}  // namespace imlane
