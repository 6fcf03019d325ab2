// One imlane-executor child: spawned with its control socket and bell, supervised by the Lane
// Manager, spoken to with request/reply calls that carry ids, so several can be outstanding and a
// late reply never answers the wrong caller.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "imlane/common/protocol.h"
#include "imlane/coordinator/options.h"
#include "imlane/lane/executor_bell.h"
#include "imlane/lane/shared_region.h"

namespace imlane {

class ExecutorProcess {
 public:
  // Forks and execs the executor and waits for its ready message. The bell region belongs to the
  // executor's slot and is reused by its replacements.
  // `started_pid`, if given, receives the child's pid right after fork, so that Stop can kill an
  // executor that is still starting and the supervisor can tell whose death it reaped; the caller
  // resets it once it tracks the process otherwise.
  static Result<std::unique_ptr<ExecutorProcess>> Spawn(int index, const CoordinatorOptions& options,
                                                        const SharedRegion& bell,
                                                        std::atomic<pid_t>* started_pid = nullptr);
  ~ExecutorProcess();

  // One request, one reply, paired by id. Concurrent callers may be outstanding at once (the
  // executor answers a load when it finishes, other messages meanwhile); a reply that comes after its
  // caller timed out is dropped. An EOF or a broken stream fails every caller from then on.
  Status Call(const json& request, json* reply, int timeout_ms, const std::vector<int>& fds = {});
  void Signal(int sig);
  // Asks the executor to exit and waits up to grace_ms; then SIGKILL. Reaping is the caller's job.
  void Shutdown(int grace_ms);

  int index() const { return index_; }
  pid_t pid() const { return pid_; }

  // Functions whose one-off context this process has built, and the loads under way (both guarded by
  // the Lane Manager's mutex): a second caller for the same function waits for the first one's load.
  struct PendingLoad {
    bool done = false;
    Status status;
  };
  std::set<uint32_t> loaded;
  std::map<uint32_t, std::shared_ptr<PendingLoad>> loading;

 private:
  ExecutorProcess() = default;
  ExecutorBell* bell() const { return bell_; }

  int index_ = 0;
  pid_t pid_ = -1;
  UniqueFd control_;
  ExecutorBell* bell_ = nullptr;  // in the slot's region
  std::mutex send_mu_;            // one message at a time on the socket
  std::mutex rpc_mu_;             // guards the fields below
  std::condition_variable rpc_cv_;
  uint64_t next_id_ = 1;
  bool reading_ = false;              // one caller reads the socket for all of them
  Status broken_;                     // not OK once the channel is unusable
  std::set<uint64_t> waiting_;        // ids whose callers still wait
  std::map<uint64_t, json> replies_;  // arrived for a waiting caller, not yet taken
};

// The environment an executor gets: the coordinator's, minus loader and interpreter overrides
// (LD_PRELOAD, PYTHONHOME, ...) and anything named like a credential (PASSWORD, SECRET, TOKEN, ...).
std::vector<std::string> ExecutorEnvironment(char** env);

// "exited with code 3" / "killed by signal 9 (Killed)".
std::string DescribeExit(int wait_status);

}  // namespace imlane
