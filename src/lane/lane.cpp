#include "imlane/lane/lane.h"

#include <algorithm>
#include <cstring>

#include "imlane/lane/futex.h"

namespace imlane {

Result<Lane> Lane::Create(uint64_t lane_id, size_t bytes) {
  if (bytes < kLaneHeaderBytes * 2) {
    return Status::InvalidArgument("lane_bytes " + std::to_string(bytes) + " is too small (minimum " +
                                   std::to_string(kLaneHeaderBytes * 2) + ")");
  }
  IMLANE_ASSIGN_OR_RETURN(SharedRegion region, SharedRegion::Create("imlane-lane-" + std::to_string(lane_id), bytes, true));
  auto* h = new (region.data()) LaneHeader();
  h->magic = kLaneMagic;
  h->layout_version = kLaneLayoutVersion;
  h->header_bytes = kLaneHeaderBytes;
  h->region_bytes = region.size();
  h->lane_id = lane_id;
  h->state.store(static_cast<uint32_t>(LaneState::kIdle), std::memory_order_release);
  Lane lane;
  lane.region_ = std::move(region);
  lane.id_ = lane_id;
  return lane;
}

Result<Lane> Lane::Attach(int fd) {
  IMLANE_ASSIGN_OR_RETURN(SharedRegion region, SharedRegion::Attach(fd));
  if (region.size() < kLaneHeaderBytes * 2) return Status::ProtocolError("received Lane is too small");
  const auto* h = reinterpret_cast<const LaneHeader*>(region.data());
  if (h->magic != kLaneMagic || h->layout_version != kLaneLayoutVersion || h->header_bytes != kLaneHeaderBytes ||
      h->region_bytes != region.size()) {
    return Status::ProtocolError("received Lane has a bad header (magic, version or size mismatch)");
  }
  Lane lane;
  lane.id_ = h->lane_id;
  lane.region_ = std::move(region);
  return lane;
}

bool Lane::PublishError(LaneState state, StatusCode code, const std::string& message) {
  LaneHeader* h = header();
  if (state == LaneState::kFailed) {
    // Called by the coordinator once the executor is known dead, so nobody else writes this Lane
    // until the client sees FAILED; an idle Lane has nothing to fail.
    LaneState cur = this->state();
    if (cur != LaneState::kRequest && cur != LaneState::kBusy) return false;
  }
  // Keep the tail: the last lines of a Python traceback are the useful ones.
  size_t n = std::min(message.size(), kLaneMessageBytes);
  std::memcpy(h->message, message.data() + (message.size() - n), n);
  h->message_bytes = static_cast<uint32_t>(n);
  h->error_code = static_cast<int32_t>(code);
  h->state.store(static_cast<uint32_t>(state), std::memory_order_release);
  WakeClient();
  return true;
}

void Lane::WakeClient() {
  LaneHeader* h = header();
  // seq_cst pairs with the client's store of client_waiting before its final check of `state`.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (h->client_waiting.load(std::memory_order_seq_cst) != 0) FutexWakeAll(&h->state);
}

std::string Lane::ReadMessage() const {
  const LaneHeader* h = header();
  size_t n = std::min<size_t>(h->message_bytes, kLaneMessageBytes);
  return std::string(h->message, n);
}

void RingBell(ExecutorBell* bell) {
  bell->ring.fetch_add(1, std::memory_order_seq_cst);
  if (bell->sleeping.load(std::memory_order_seq_cst) != 0) FutexWakeAll(&bell->ring);
}

}  // namespace imlane
