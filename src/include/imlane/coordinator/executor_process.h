// One imlane-executor child: spawned with its control socket and bell, supervised by the Lane
// Manager, spoken to with serialised request/reply calls.
#pragma once

#include <sys/types.h>

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
  static Result<std::unique_ptr<ExecutorProcess>> Spawn(int index, const CoordinatorOptions& options,
                                                        const SharedRegion& bell);
  ~ExecutorProcess();

  // One request, one reply; concurrent callers take turns.
  Status Call(const json& request, json* reply, int timeout_ms, const std::vector<int>& fds = {});
  void Signal(int sig);
  // Asks the executor to exit and waits up to grace_ms; then SIGKILL. Reaping is the caller's job.
  void Shutdown(int grace_ms);

  int index() const { return index_; }
  pid_t pid() const { return pid_; }

  // Functions whose one-off context this process has built (guarded by the Lane Manager's mutex).
  std::set<uint32_t> loaded;
  // Held while loading a function, so that two clients never build the same context twice.
  std::mutex load_mu;

 private:
  ExecutorProcess() = default;
  ExecutorBell* bell() const { return bell_; }

  int index_ = 0;
  pid_t pid_ = -1;
  UniqueFd control_;
  ExecutorBell* bell_ = nullptr;  // in the slot's region
  std::mutex rpc_mu_;
};

// The environment an executor gets: the coordinator's, minus loader and interpreter overrides
// (LD_PRELOAD, PYTHONHOME, ...) and anything named like a credential (PASSWORD, SECRET, TOKEN, ...).
std::vector<std::string> ExecutorEnvironment(char** env);

// "exited with code 3" / "killed by signal 9 (Killed)".
std::string DescribeExit(int wait_status);

}  // namespace imlane
