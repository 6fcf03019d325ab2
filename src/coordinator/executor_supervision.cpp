// Executor supervision, the Lane Manager's other half: the supervisor thread reaps executors,
// fails the Lanes of one that died (LaneCoordinator::Fail) and restarts it at the same position with
// the same bell, reloading its functions before it adopts its Lanes again.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <set>
#include <thread>

#include "imlane/common/system.h"
#include "imlane/coordinator/lane_manager.h"

namespace imlane {

void LaneManager::SuperviseLoop() {
  while (true) {
    int ws = 0;
    pid_t pid = waitpid(-1, &ws, 0);
    if (pid > 0) {
      HandleExit(pid, ws);
      continue;
    }
    if (errno == EINTR) continue;
    if (stopping_) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // ECHILD: nothing running yet
  }
}

void LaneManager::HandleExit(pid_t pid, int wait_status) {
  int index = -1;
  std::set<uint32_t> reload;
  std::vector<Lane*> lanes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < positions_.size(); i++) {
      if (positions_[i].process && positions_[i].process->pid() == pid) index = static_cast<int>(i);
    }
    if (index < 0) return;
    ExecutorPosition& position = positions_[index];
    if (stopping_) {
      position.process.reset();
      return;
    }
    std::string how = DescribeExit(wait_status);
    if (!position.kill_reason.empty()) how += " (killed by the coordinator: " + position.kill_reason + ")";
    position.last_exit = how;
    position.kill_reason.clear();
    position.restarting = true;
    position.restarts++;
    reload = position.process->loaded;
    position.process.reset();
    for (auto& [id, rec] : lanes_) {
      if (rec.executor != index) continue;
      lanes.push_back(rec.lane.get());
      auto fn = registry_->FindById(rec.lane->function_id());
      std::string name = fn ? fn->def.name : "?";
      LaneCoordinator(rec.lane.get())
          .Fail(StatusCode::kExecutorFailed, "imlane executor " + std::to_string(index) + " (pid " +
                                                 std::to_string(pid) + ") died while running function '" + name +
                                                 "': " + how);
    }
    Log(LogLevel::kWarn, "coordinator",
        "executor " + std::to_string(index) + " (pid " + std::to_string(pid) + ") " + how + "; restarting");
  }
  // Back off when an executor keeps dying, e.g. a function that crashes in its initialisation.
  int restarts = positions_[index].restarts;
  std::this_thread::sleep_for(std::chrono::milliseconds(std::min(2000, 20 * (restarts - 1))));
  auto proc = ExecutorProcess::Spawn(index, options_, positions_[index].bell);
  if (!proc.ok()) {
    Log(LogLevel::kError, "coordinator", "cannot restart executor: " + proc.status().ToString());
    std::lock_guard<std::mutex> lock(mu_);
    positions_[index].restarting = false;
    return;
  }
  std::shared_ptr<ExecutorProcess> fresh(proc.MoveValue());
  // Functions first: a batch already waiting in a Lane is served as soon as the Lane is adopted.
  for (uint32_t fid : reload) {
    auto fn = registry_->FindById(fid);
    if (!fn) continue;
    Status st = EnsureLoaded(fresh, *fn);
    // A batch waiting for it then fails with NotFound from the executor, not silently.
    if (!st.ok())
      Log(LogLevel::kWarn, "coordinator", "reloading '" + fn->def.name + "' after a restart: " + st.ToString());
  }
  for (Lane* lane : lanes) {
    json reply;
    Status st = fresh->Call(json{{"op", "add_lane"}, {"lane_id", lane->id()}}, &reply, kLaneRpcTimeoutMs, {lane->fd()});
    // The replacement died too: the supervisor handles that exit and hands the Lanes over again.
    if (!st.ok())
      Log(LogLevel::kWarn, "coordinator", "handing Lane " + std::to_string(lane->id()) + " over: " + st.ToString());
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    positions_[index].restarting = false;
    if (!stopping_) {
      positions_[index].process = fresh;
      return;
    }
  }
  // Stop() ran while this replacement was starting and could not see it: shut it down here.
  fresh->Shutdown(kShutdownGraceMs);
}

}  // namespace imlane
