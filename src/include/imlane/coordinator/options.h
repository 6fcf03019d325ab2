#pragma once

#include <cstddef>
#include <string>

namespace imlane {

struct CoordinatorOptions {
  std::string socket_path;         // where clients connect
  int executors = 0;               // 0: usable cores (affinity and cgroup quota)
  size_t lane_bytes = 64u << 20;   // default Lane size when a client asks for none
  int idle_exit_ms = -1;           // embedded mode: exit this long after the last client left
  std::string log_level = "info";  // imlane serve --log-level; the executors log at the same level
  std::string executor_path;       // imlane-executor; default: next to the imlane binary
  std::string runtime_dir;         // holds the imlane package; default: ../share/imlane/python
  int load_timeout_ms = 120000;    // loading a model (pyinitial / __init__) may take this long
  int spawn_timeout_ms = 60000;    // an executor must be ready (Python + numpy imported) by then
  int spin_us = 100;               // executor busy-wait after a batch
  // Address-space budget of each executor's own memory (Lanes mapped into it come on top), so a
  // leaking function gets MemoryError instead of the kernel's OOM killer picking the database.
  // 0: (RAM / 2 - lane_memory_mb) / executors, at least 2048; -1: none.
  int64_t executor_memory_mb = 0;
  // Bound of each executor's inference-context cache (memoised model loaders, context_cache.py), in
  // MiB of model files. -1: half the executor memory limit (2048 when that is unlimited); 0: off.
  int64_t context_cache_mb = -1;
  // A virtualenv of the embedded Python's version whose site-packages the executors import first
  // (its own model libraries); "": the system Python's packages only.
  std::string python_env;
  int executor_cpu_seconds = 0;  // RLIMIT_CPU per executor process; 0: none
  int executor_max_files = 0;    // RLIMIT_NOFILE per executor; 0: inherited
  int max_lanes = 256;           // across all clients
  // Caps on shared memory (Lanes); 0 picks the default named. A hostile or careless client must not
  // pin the machine's memory in pre-faulted Lanes.
  int64_t lane_memory_mb = 0;         // all Lanes, in use and pooled; 0: RAM / 4
  int64_t client_lane_memory_mb = 0;  // the Lanes one client holds; 0: lane_memory_mb / 2
  int64_t max_lane_bytes = 0;         // one Lane; 0: the smaller of 1 GiB and client_lane_memory_mb
  int max_slots_per_executor = 16;    // Lanes per executor one acquire may ask for
  // Pooled (released) Lanes are returned to the system after this long unused; -1: kept until exit.
  int lane_idle_ms = 30000;
  int64_t lane_pool_mb = -1;  // pooled Lanes kept at most (oldest freed first); -1: lane_memory_mb / 4
  // Control connections: a local peer must not exhaust threads, descriptors or memory (security.md).
  int max_connections = 256;             // open at once, all peers
  int max_connections_per_process = 32;  // from one peer process (SO_PEERCRED pid)
  int max_connections_per_uid = 256;     // from one user (SO_PEERCRED uid)
  size_t max_message_bytes = 16u << 20;  // one control message from a client (a register with its source)
  int message_timeout_ms = 10000;        // a message must arrive whole this long after its first byte
  // Scale-out (docs/scale-out.md): a Ray cluster (HOST:PORT, 'auto', ray://...) for functions whose
  // backend is 'ray' or 'both'. "": none. One more executor position, the Ray bridge, serves them.
  std::string ray_address;
  int ray_slots_per_replica = 2;  // the bridge's Lanes per actor: one batch running, one on its way
};

}  // namespace imlane
