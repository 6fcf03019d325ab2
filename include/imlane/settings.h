// DBEnd's settings and scheduling hints.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace imlane {

struct Settings {
  std::string socket_path;         // "": $IMLANE_SOCKET or the per-user default
  bool start_embedded = true;      // start a coordinator when none answers
  int n_executors = 0;             // embedded coordinator's executors; 0 = usable cores
  int embedded_idle_exit_ms = 0;   // embedded coordinator exits this long after its last client
                                   // (> 0: its stderr goes to <socket>.log, as it outlives us)
  int64_t executor_memory_mb = 0;  // embedded coordinator: per-executor memory limit (0: RAM share)
  std::string coordinator_path;    // "": the `imlane` installed next to this library
  std::string python_env;          // embedded coordinator: virtualenv its executors import from (--python-env)
  int executors_per_function = 0;  // executors serving each function for this client; 0 = all
  int slots_per_executor = 2;      // in-flight batches per executor (one runs, one is written)
  int max_inflight = 0;            // per function; 0: executors x slots_per_executor x 4
  size_t lane_bytes = 64u << 20;   // shared memory per slot: the largest batch plus its result
  size_t batch_rows = 0;           // 0: adaptive (AdaptiveBatchTuner); otherwise pinned
  int timeout_ms = 60000;          // a batch that takes longer fails; its executor is replaced
  int connect_timeout_ms = 15000;  // to reach (or start) the coordinator
  int64_t spin_ns = 50000;         // busy-wait for a result before sleeping
};

// Where to run a batch. Empty means: the least busy executor.
struct SchedHint {
  int core_id = -1;   // engine thread's core: keeps one engine thread on one executor
  int executor = -1;  // explicit executor index (overrides core_id)
};

}  // namespace imlane
