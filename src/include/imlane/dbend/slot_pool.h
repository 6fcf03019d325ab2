// DBEnd's in-flight slots: each is one Lane of one function version on one executor, mapped once.
// A context keeps one FunctionSlots per function it uses; the executors' bells are mapped once per
// context in ExecutorBells. All fields are guarded by the owning context's mutex; the Lane itself
// is written only through LaneClient, by the slot's current holder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "imlane/batch_tuner.h"
#include "imlane/batch_view.h"
#include "imlane/dbend/coordinator_client.h"
#include "imlane/lane/lane_protocol.h"
#include "imlane/settings.h"

namespace imlane {

class FunctionSlots;

class Slot {
 public:
  Lane lane;
  int executor = -1;
  ExecutorBell* bell = nullptr;
  FunctionSlots* function = nullptr;
  bool in_use = false;     // held by an OpenBatch, a ticket or a PulledBatch
  bool abandoned = false;  // its batch timed out or was discarded; free once the Lane has settled
  size_t request_rows = 0;
  int64_t wait_started_ns = 0;  // when its ticket was first waited for (Wait or Pull); 0: not yet

  LaneClient client() { return LaneClient(&lane); }
  // The finished request's result, checked like any input from another process: placement and
  // layout (BatchView), then rows and types against the request and the signature.
  Result<BatchView> OpenResult(const ResponsePlacement& placement) const;
};

class ExecutorBells {
 public:
  // The bell of executor `index`, mapped from `fd` the first time it is seen.
  Result<ExecutorBell*> Map(int index, UniqueFd fd);
  ExecutorBell* Find(int index);
  void Clear() { bells_.clear(); }

 private:
  std::map<int, SharedRegion> bells_;
};

class FunctionSlots {
 public:
  std::string name;
  uint32_t fid = 0;
  uint32_t version = 0;
  std::vector<TypeId> arg_types;
  std::vector<TypeId> return_types;
  std::vector<std::unique_ptr<Slot>> slots;
  std::vector<uint64_t> lane_ids;
  std::map<int, int> executor_position;  // executor index -> 0..n-1, for core hints
  AdaptiveBatchTuner tuner;
  bool acquiring = false;      // a thread is asking the coordinator for Lanes; the entry must stay
  int pins = 0;                // FunctionPins held on this version
  bool replaced = false;       // re-registered or dropped: no new pins or Lanes, gone once unused
  bool growth_capped = false;  // the coordinator refused more Lanes (a Lane memory cap): wait for slots

  // Adds the granted Lanes. The first grant fixes the version; a grant for another version (the
  // function was replaced meanwhile) adds nothing and returns its Lanes' ids, to give back.
  Result<std::vector<uint64_t>> Adopt(LaneGrant grant, ExecutorBells* bells, const Settings& settings);
  // A free slot, preferring the hinted executor, else the executor with the fewest busy slots.
  // Recycles abandoned slots whose Lane has settled. nullptr when every slot is taken.
  Slot* FindFree(const SchedHint& hint);
  bool AnyInUse() const;
  // Recycles abandoned slots whose Lane has settled; true when no slot is in use and none pinned.
  bool Idle();

 private:
  void StartTuner(const Settings& settings);
};

}  // namespace imlane
