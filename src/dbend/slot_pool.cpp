#include "imlane/dbend/slot_pool.h"

#include <algorithm>

#include "imlane/lane/batch_layout.h"

namespace imlane {

Result<BatchView> Slot::OpenResult(const ResponsePlacement& placement) const {
  IMLANE_ASSIGN_OR_RETURN(BatchView view,
                          BatchLayout::Open(lane.region(), lane.region_bytes(), placement.offset, placement.bytes));
  const FunctionSlots& fn = *function;
  if (view.num_rows() != request_rows || view.num_columns() != fn.return_types.size()) {
    return Status::ProtocolError("result of '", fn.name, "' has ", view.num_rows(), " rows x ", view.num_columns(),
                                 " columns, expected ", request_rows, " x ", fn.return_types.size());
  }
  for (size_t c = 0; c < view.num_columns(); c++) {
    if (view.column(c).type() != fn.return_types[c]) {
      return Status::ProtocolError("result column ", c, " of '", fn.name, "' has the wrong type");
    }
  }
  return view;
}

Result<ExecutorBell*> ExecutorBells::Map(int index, UniqueFd fd) {
  if (ExecutorBell* known = Find(index)) return known;  // same executor, same bell
  IMLANE_ASSIGN_OR_RETURN(SharedRegion bell, SharedRegion::Attach(fd.Release()));
  if (bell.size() < sizeof(ExecutorBell) || reinterpret_cast<ExecutorBell*>(bell.data())->magic != kBellMagic) {
    return Status::ProtocolError("received a bad executor bell");
  }
  bell.CloseFd();
  auto* words = reinterpret_cast<ExecutorBell*>(bell.data());
  bells_[index] = std::move(bell);
  return words;
}

ExecutorBell* ExecutorBells::Find(int index) {
  auto it = bells_.find(index);
  return it == bells_.end() ? nullptr : reinterpret_cast<ExecutorBell*>(it->second.data());
}

Result<std::vector<uint64_t>> FunctionSlots::Adopt(LaneGrant grant, ExecutorBells* bells, const Settings& settings) {
  const bool first = slots.empty();
  if (first) {
    fid = grant.fid;
    version = grant.version;
    arg_types = std::move(grant.arg_types);
    return_types = std::move(grant.return_types);
  } else if (grant.fid != fid) {
    // Replaced meanwhile: keep serving the version this context started with.
    std::vector<uint64_t> ids;
    for (const auto& l : grant.lanes) ids.push_back(l.lane_id);
    return ids;
  }
  for (auto& e : grant.executors) {
    executor_position.emplace(e.index, static_cast<int>(executor_position.size()));
    IMLANE_RETURN_NOT_OK(bells->Map(e.index, std::move(e.bell)).status());
  }
  for (auto& l : grant.lanes) {
    auto slot = std::make_unique<Slot>();
    slot->executor = l.executor;
    slot->bell = bells->Find(l.executor);
    if (slot->bell == nullptr) return Status::ProtocolError("Lane for an executor without a bell");
    slot->function = this;
    slot->lane = std::move(l.lane);
    lane_ids.push_back(l.lane_id);
    slots.push_back(std::move(slot));
  }
  if (first) StartTuner(settings);
  return std::vector<uint64_t>();
}

void FunctionSlots::StartTuner(const Settings& settings) {
  AdaptiveBatchTuner::Options topt;
  topt.pinned_rows = settings.batch_rows;
  // The tuner never asks for more rows than half a Lane holds (room for the result).
  size_t smallest = SIZE_MAX;
  for (const auto& s : slots) smallest = std::min<size_t>(smallest, s->lane.arena_bytes());
  const uint64_t per_row = BatchLayout::RequiredBytes(arg_types, 1024, 0) / 1024 + 16;
  topt.max_rows = std::max<size_t>(topt.min_rows, std::min<size_t>(topt.max_rows, smallest / 2 / per_row));
  tuner = AdaptiveBatchTuner(topt);
}

Slot* FunctionSlots::FindFree(const SchedHint& hint) {
  int preferred = -1;
  if (hint.executor >= 0) {
    preferred = hint.executor;
  } else if (hint.core_id >= 0 && !executor_position.empty()) {
    const int pos = hint.core_id % static_cast<int>(executor_position.size());
    for (const auto& [index, p] : executor_position) {
      if (p == pos) preferred = index;
    }
  }
  std::map<int, int> busy;
  for (auto& s : slots) {
    if (s->abandoned && s->client().Finished()) {
      // A timed-out or discarded batch has settled (finished late, or its executor was replaced).
      s->abandoned = false;
      s->in_use = false;
      s->client().Reset();
    }
    busy[s->executor] += s->in_use;
  }
  Slot* best = nullptr;
  for (auto& s : slots) {
    if (s->in_use) continue;
    if (s->executor == preferred) return s.get();
    if (best == nullptr || busy[s->executor] < busy[best->executor]) best = s.get();
  }
  return best;
}

bool FunctionSlots::Idle() {
  for (auto& s : slots) {
    if (s->abandoned && s->client().Finished()) {
      s->abandoned = false;
      s->in_use = false;
      s->client().Reset();
    }
  }
  return pins == 0 && !acquiring && !AnyInUse();
}

bool FunctionSlots::AnyInUse() const {
  for (const auto& s : slots) {
    if (s->in_use) return true;
  }
  return false;
}

}  // namespace imlane
