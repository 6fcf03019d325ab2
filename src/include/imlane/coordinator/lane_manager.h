// Lane Manager: owns the executor processes (spawn, ready handshake, restart, stop) and the Lanes
// (create, pre-fault, hand out, reclaim, fail on executor death). Lanes are pooled per executor and
// reused, so shared memory is faulted in once.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "imlane/common/protocol.h"
#include "imlane/coordinator/executor_process.h"
#include "imlane/coordinator/function_registry.h"
#include "imlane/coordinator/options.h"
#include "imlane/coordinator/scheduler.h"
#include "imlane/lane/lane.h"
#include "imlane/lane/lane_protocol.h"

namespace imlane {

struct LaneGrant {
  json lanes = json::array();      // [{lane_id, executor, bytes}], in the order of lane_fds
  json executors = json::array();  // [{index, pid}], in the order of bell_fds
  std::vector<int> fds;            // lane descriptors, then bell descriptors (borrowed)
};

class LaneManager {
 public:
  LaneManager(CoordinatorOptions options, FunctionRegistry* registry);
  ~LaneManager();

  Status Start();
  void Stop();

  // Loads (or finds warm) the function on one executor: how registration validates code.
  Status Validate(const FunctionVersion& fn);
  // Grants Lanes on the chosen executors. An executor that dies while its Lanes are handed over
  // (or is restarting) makes the grant wait and retry for up to kAcquireRetryMs, choosing again.
  Result<LaneGrant> Acquire(int client_id, const FunctionVersion& fn, const SchedulingRequest& request,
                            size_t lane_bytes);
  void Release(int client_id, const std::vector<uint64_t>& lane_ids);
  // A client that disconnects leaves its Lanes; a batch still running in one of them is abandoned.
  void ReleaseClient(int client_id);
  // The client's query gave these Lanes' batches up (failed, cancelled, stopped early). A batch
  // still running after kDiscardGraceMs gets its executor recycled (killed and replaced), so that
  // the next query, of any client, never queues behind it.
  void Abandon(int client_id, const std::vector<uint64_t>& lane_ids, const std::string& reason);
  // Kills a hung executor; its Lanes fail and it is replaced.
  Status KillExecutor(int index, const std::string& reason);
  // Unloads every version of a dropped function from the executors.
  void Forget(uint32_t fid);
  // Empties every executor's inference-context cache (or only function `name`'s objects); returns
  // how many objects went. An executor that does not answer in time is skipped (logged).
  int ResetCaches(const std::string& name);
  json StatusJson();
  int executor_count() const { return static_cast<int>(positions_.size()); }
  // The Ray bridge's position, -1 without --ray-address.
  int ray_bridge_index() const { return ray_bridge_; }
  // The options with every default resolved (Lane caps and memory budget derived from RAM).
  const CoordinatorOptions& options() const { return options_; }

 private:
  // Shared by lane_manager.cpp and executor_supervision.cpp.
  static constexpr int kLaneRpcTimeoutMs = 10000;  // add_lane to an executor
  static constexpr int kShutdownGraceMs = 2000;    // an executor asked to stop, before it is killed
  static constexpr int kDiscardGraceMs = 500;      // an abandoned batch may finish by itself this long

  Result<LaneGrant> TryAcquire(int client_id, const FunctionVersion& fn, const SchedulingRequest& request,
                               size_t lane_bytes);
  struct LaneRecord {
    std::unique_ptr<Lane> lane;
    int executor = -1;
    int client = 0;          // 0: in the pool
    int64_t pooled_ns = 0;   // when it went back to the pool (MonotonicNanos)
    bool abandoned = false;  // its batch was given up while in flight (see Abandon)
    int64_t abandoned_ns = 0;
    std::string abandon_reason;
  };
  // A Lane taken out of lanes_ to be returned to the system, with the executor that maps it.
  struct EvictedLane {
    std::unique_ptr<Lane> lane;
    std::shared_ptr<ExecutorProcess> process;
  };
  struct ExecutorPosition {  // one executor position; the process in it may be replaced
    SharedRegion bell;       // outlives processes: clients keep ringing the same bell across restarts
    std::shared_ptr<ExecutorProcess> process;
    std::string kill_reason;
    bool restarting = false;
    int restarts = 0;
    std::string last_exit;
    // Restarts run on the position's own restarter thread (RestartLoop), never on the supervisor, so
    // a long reload never delays noticing another executor's death.
    bool restart_pending = false;
    std::set<uint32_t> reload;                  // what the dead process had loaded
    std::shared_ptr<ExecutorProcess> starting;  // the replacement while it reloads and adopts Lanes
    bool starting_died = false;                 // ... and it died doing so: start again
  };

  // What the scheduler needs to know about each executor for function `fid`.
  // Only positions that may serve the function's backend are available (local ones, the Ray bridge).
  std::vector<ExecutorLoad> Loads(const FunctionVersion& fn);
  // Options of position `index`'s processes: only the bridge gets the Ray address, and no address-
  // space limit (Ray's driver maps its object store and threads; its functions run elsewhere).
  CoordinatorOptions OptionsFor(int index) const;
  Status EnsureLoaded(const std::shared_ptr<ExecutorProcess>& proc, const FunctionVersion& fn);
  Status LoadOnAll(const std::vector<std::shared_ptr<ExecutorProcess>>& procs, const FunctionVersion& fn);
  void SuperviseLoop();
  // Lane caps and the pool's bound (lane_manager.cpp). The Evict* helpers run under mu_; they take
  // only pooled, settled Lanes of executors that are not restarting (the supervisor holds raw Lane
  // pointers of a restarting position's Lanes until it is running again).
  void ResolveCaps(int executors);
  void ReturnToPool(LaneRecord* rec);
  bool EvictOnePooled(std::vector<EvictedLane>* out);
  std::vector<EvictedLane> EvictIdlePooled();
  // Outside mu_: frees the pages (for every process mapping them), tells the executor to unmap.
  void Dispose(std::vector<EvictedLane> lanes);
  void TrimLoop();
  void HandleExit(pid_t pid, int wait_status);
  void RestartLoop(int index);
  void RestartOnce(int index, const std::set<uint32_t>& reload);
  // Fails the Lanes of a dead executor whose batch was running (or was abandoned); batches that
  // were only queued stay, for the replacement to serve. Under mu_.
  void FailRunningLanes(int index, pid_t pid, const std::string& how);
  void WatchAbandoned();
  std::shared_ptr<ExecutorProcess> Process(int index);

  CoordinatorOptions options_;
  FunctionRegistry* registry_;
  std::mutex mu_;                     // guards positions_, lanes_, next_lane_id_ and ExecutorProcess::loaded / loading
  std::condition_variable loads_cv_;  // a load finished (ExecutorProcess::PendingLoad::done)
  std::vector<ExecutorPosition> positions_;
  int ray_bridge_ = -1;  // the last position when options_.ray_address is set
  std::map<uint64_t, LaneRecord> lanes_;
  // Returned to the system, but their executor was inside a batch: remove_lane is sent next round.
  std::vector<EvictedLane> pending_removal_;
  uint64_t next_lane_id_ = 1;
  std::atomic<bool> stopping_{false};
  std::thread supervisor_;
  std::mutex trim_mu_;
  std::condition_variable trim_cv_;  // wakes TrimLoop: a Lane went back to the pool, or Stop
  std::thread trimmer_;
  std::vector<std::thread> restarters_;  // one per position, long-lived: PR_SET_PDEATHSIG follows the forking thread
  std::condition_variable restart_cv_;   // restart_pending set, or stopping_
  std::unique_ptr<std::atomic<pid_t>[]> spawning_;  // per position: a replacement between fork and adoption
  std::thread watchdog_;                            // abandoned batches (WatchAbandoned)
  std::condition_variable watchdog_cv_;
};

}  // namespace imlane
