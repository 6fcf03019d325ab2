// The executor loop: waits on its bell, serves requests posted in its Lanes, and answers the
// coordinator's control messages (load a function, adopt or drop a Lane, report counters).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "imlane/common/protocol.h"
#include "imlane/executor/batch_server.h"
#include "imlane/executor/python_runtime.h"
#include "imlane/lane/executor_bell.h"
#include "imlane/lane/lane.h"
#include "imlane/lane/lane_protocol.h"
#include "imlane/lane/shared_region.h"

namespace imlane {

struct ExecutorOptions {
  int executor_index = 0;
  int64_t spin_ns = 100000;  // busy-wait after a batch before sleeping: the next one often follows
  // The functions' memory budget (imlane serve --executor-memory-mb), enforced as RLIMIT_AS on top of
  // the Lanes mapped here; 0: no limit is kept up to date.
  uint64_t memory_budget_bytes = 0;
  // A Ray bridge (imlane serve --ray-address): its functions run on Ray actors, many batches in flight.
  bool ray_bridge = false;
};

class Executor {
 public:
  Executor(UniqueFd control, SharedRegion bell, PythonRuntime* python, ExecutorOptions options);
  // Serves until the coordinator says shutdown or goes away. Returns the process exit code.
  int Run();

 private:
  struct FunctionCounters {
    uint64_t batches = 0;
    uint64_t rows = 0;
    uint64_t busy_ns = 0;
    uint64_t errors = 0;
    uint64_t loads = 0;
  };

  bool ServePending();
  bool AnyPending() const;
  void Serve(Lane* lane);
  // The Ray bridge: a batch stays BUSY in its Lane while an actor runs it; its result is written when
  // Ray says it is done (the completion rings the bell, so the loop sleeps as usual meanwhile).
  void SubmitRemote(Lane* lane, LaneExecutor* role, const LaneExecutor::Request& request);
  bool CompleteRemote();
  // Answers the queued control messages; false when the coordinator is gone or asked us to stop.
  bool HandleControl();
  // The control reader thread: starts loads, queues everything else for the serving loop.
  void ReadControl();
  json HandleMessage(const json& msg, std::vector<UniqueFd>* fds);
  // A load runs on a thread of its own (it may take minutes in pyinitial): batches and other control
  // messages are served meanwhile, and its reply goes out when it is done, paired by id.
  void StartLoad(const json& msg);
  // Adds finished loads to the counters (main thread).
  void CountFinishedLoads();
  // Sends one reply; safe from load threads. False when the coordinator is gone.
  bool Reply(const json& reply);
  ExecutorBell* bell() const { return reinterpret_cast<ExecutorBell*>(bell_.data()); }
  // Sets the address-space limit to the memory budget plus `lane_bytes` of mapped Lanes, so that
  // Lanes of other clients do not count against a function's memory.
  Status SetAddressLimit(uint64_t lane_bytes);

  UniqueFd control_;
  SharedRegion bell_;
  PythonRuntime* python_;
  ExecutorOptions options_;
  std::map<uint64_t, std::unique_ptr<Lane>> lanes_;
  uint64_t lane_bytes_ = 0;  // mapped in lanes_
  std::map<uint32_t, FunctionCounters> counters_;
  bool stop_ = false;
  struct InFlight {
    Lane* lane;
    RemoteBatch batch;
  };
  std::map<std::pair<uint32_t, uint64_t>, InFlight> remote_;  // (function id, token)
  std::atomic<bool> remote_ready_{false};                     // set by Ray's completion callbacks
  std::vector<PythonRuntime::FinishedRemote> finished_;       // reused: no allocation per batch

  struct FinishedLoad {
    uint32_t fid = 0;
    bool ok = false;
  };
  std::mutex send_mu_;   // one reply at a time on the control socket
  std::mutex loads_mu_;  // guards finished_loads_
  std::vector<FinishedLoad> finished_loads_;
  std::atomic<int> loads_running_{0};

  struct QueuedMessage {
    json msg;
    std::vector<UniqueFd> fds;
  };
  std::mutex control_mu_;  // guards control_queue_ and control_closed_
  std::deque<QueuedMessage> control_queue_;
  bool control_closed_ = false;
  std::atomic<bool> reader_done_{false};
};

}  // namespace imlane
