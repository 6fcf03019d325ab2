#include "imlane/lane/lane_protocol.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace imlane {

namespace {

constexpr int64_t kSleepSliceNs = 100 * 1000 * 1000;  // the client re-checks its peer this often

// The waking half of LaneClient's sleep: publish a finished state, then wake the client only if it
// announced that it sleeps. seq_cst pairs with its store of client_waiting before its last check.
void FinishAndWake(LaneHeader* h, LaneState finished) {
  h->state.store(static_cast<uint32_t>(finished), std::memory_order_release);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (h->client_waiting.load(std::memory_order_seq_cst) != 0) FutexWakeAll(&h->state);
}

// Keeps the tail: the last lines of a Python traceback are the useful ones.
void WriteMessage(LaneHeader* h, StatusCode code, const std::string& message) {
  const size_t n = std::min(message.size(), kLaneMessageBytes);
  std::memcpy(h->message, message.data() + (message.size() - n), n);
  h->message_bytes = static_cast<uint32_t>(n);
  h->error_code = static_cast<int32_t>(code);
}

}  // namespace

// ---- client ----

void LaneClient::PostRequest(uint32_t function_id, uint64_t offset, uint64_t bytes, ExecutorBell* bell) {
  LaneHeader* h = lane_->header();
  h->seq++;
  h->function_id = function_id;
  h->request_offset = offset;
  h->request_bytes = bytes;
  h->error_code = 0;
  h->message_bytes = 0;
  h->state.store(static_cast<uint32_t>(LaneState::kRequest), std::memory_order_release);
  bell->Ring();
}

bool LaneClient::SleepOnce(int64_t timeout_ns) {
  LaneHeader* h = lane_->header();
  h->client_waiting.store(1, std::memory_order_seq_cst);
  const uint32_t cur = h->state.load(std::memory_order_seq_cst);
  const bool finished = IsFinished(static_cast<LaneState>(cur));
  if (!finished) FutexWait(&h->state, cur, std::min(timeout_ns, kSleepSliceNs));
  h->client_waiting.store(0, std::memory_order_relaxed);
  return finished;
}

Result<ResponsePlacement> LaneClient::Outcome() const {
  const LaneHeader* h = lane_->header();
  const LaneState state = lane_->state();
  if (state != LaneState::kDone) {
    int code = h->error_code;
    // A peer's code outside the enum (or OK for an error) is reported as internal.
    if (code <= 0 || code > static_cast<int>(StatusCode::kInternal)) code = static_cast<int>(StatusCode::kInternal);
    const size_t n = std::min<size_t>(h->message_bytes, kLaneMessageBytes);
    return Status(static_cast<StatusCode>(code), std::string(h->message, n));
  }
  if (h->response_seq_low != static_cast<uint32_t>(h->seq)) {
    return Status::ProtocolError("response sequence number does not match the request");
  }
  return ResponsePlacement{h->response_offset, h->response_bytes, h->exec_ns};
}

void LaneClient::Reset() {
  lane_->header()->state.store(static_cast<uint32_t>(LaneState::kIdle), std::memory_order_release);
}

// ---- executor ----

LaneExecutor::Request LaneExecutor::BeginServe() {
  LaneHeader* h = lane_->header();
  h->state.store(static_cast<uint32_t>(LaneState::kBusy), std::memory_order_release);
  h->executor_pid = static_cast<int32_t>(getpid());
  return Request{h->function_id, h->request_offset, h->request_bytes};
}

void LaneExecutor::PublishResult(const ResponsePlacement& result) {
  LaneHeader* h = lane_->header();
  h->response_offset = result.offset;
  h->response_bytes = result.bytes;
  h->exec_ns = result.exec_ns;
  h->response_seq_low = static_cast<uint32_t>(h->seq);
  h->error_code = 0;
  FinishAndWake(h, LaneState::kDone);
}

void LaneExecutor::PublishError(const Status& error) {
  LaneHeader* h = lane_->header();
  WriteMessage(h, error.code(), error.message());
  FinishAndWake(h, LaneState::kError);
}

// ---- coordinator ----

bool LaneCoordinator::Fail(StatusCode code, const std::string& message) {
  if (!IsInFlight(lane_->state())) return false;  // an idle or finished Lane has nothing to fail
  LaneHeader* h = lane_->header();
  WriteMessage(h, code, message);
  FinishAndWake(h, LaneState::kFailed);
  return true;
}

bool LaneCoordinator::Reclaim() {
  if (IsInFlight(lane_->state())) return false;
  lane_->header()->state.store(static_cast<uint32_t>(LaneState::kIdle), std::memory_order_release);
  return true;
}

}  // namespace imlane
