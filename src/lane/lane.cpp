#include "imlane/lane/lane.h"

#include <algorithm>
#include <cstring>

namespace imlane {

Result<Lane> Lane::Create(uint64_t lane_id, size_t bytes) {
  if (bytes < kLaneHeaderBytes * 2) {
    return Status::InvalidArgument("lane_bytes " + std::to_string(bytes) + " is too small (minimum " +
                                   std::to_string(kLaneHeaderBytes * 2) + ")");
  }
  IMLANE_ASSIGN_OR_RETURN(SharedRegion region,
                          SharedRegion::Create("imlane-lane-" + std::to_string(lane_id), bytes, true));
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

}  // namespace imlane
