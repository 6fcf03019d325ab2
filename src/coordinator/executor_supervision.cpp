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

#include "imlane/common/log.h"
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

void LaneManager::FailRunningLanes(int index, pid_t pid, const std::string& how) {
  for (auto& [id, rec] : lanes_) {
    if (rec.executor != index) continue;
    const LaneState state = rec.lane->state();
    if (!IsInFlight(state)) continue;
    auto fn = registry_->FindById(rec.lane->function_id());
    const std::string name = fn ? fn->def.name : "?";
    if (state == LaneState::kBusy) {
      LaneCoordinator(rec.lane.get())
          .Fail(StatusCode::kExecutorFailed, "imlane executor " + std::to_string(index) + " (pid " +
                                                 std::to_string(pid) + ") died while running function '" + name +
                                                 "': " + how);
    } else if (rec.abandoned || rec.client == 0) {
      // Queued, but nobody waits for it any more: not worth a run on the replacement.
      LaneCoordinator(rec.lane.get())
          .Fail(StatusCode::kExecutorFailed, "imlane executor " + std::to_string(index) + " (pid " +
                                                 std::to_string(pid) + ") died before it ran a discarded batch of '" +
                                                 name + "': " + how);
    }
    // Otherwise the batch was only queued behind the one that died: the replacement adopts the Lane
    // and serves it, so it never fails for another function's crash.
  }
}

void LaneManager::HandleExit(pid_t pid, int wait_status) {
  std::lock_guard<std::mutex> lock(mu_);
  int index = -1;
  bool was_starting = false;
  for (size_t i = 0; i < positions_.size(); i++) {
    const ExecutorPosition& p = positions_[i];
    if (p.process && p.process->pid() == pid) index = static_cast<int>(i);
    if ((p.starting && p.starting->pid() == pid) || (spawning_ && spawning_[i].load() == pid)) {
      index = static_cast<int>(i);
      was_starting = true;
    }
  }
  if (index < 0) return;
  ExecutorPosition& position = positions_[index];
  if (stopping_) {
    if (!was_starting) position.process.reset();
    return;
  }
  std::string how = DescribeExit(wait_status);
  if (!position.kill_reason.empty()) how += " (killed by the coordinator: " + position.kill_reason + ")";
  position.last_exit = how;
  position.kill_reason.clear();
  position.restarts++;
  FailRunningLanes(index, pid, how);
  if (was_starting) {
    // Its restarter notices (its calls fail at once) and starts another one.
    position.starting_died = true;
  } else {
    position.restarting = true;
    position.reload = position.process->loaded;
    position.process.reset();
    position.restart_pending = true;
    restart_cv_.notify_all();
  }
  Log(LogLevel::kWarn, "coordinator",
      "executor " + std::to_string(index) + " (pid " + std::to_string(pid) + ") " + how + "; restarting");
}

void LaneManager::RestartLoop(int index) {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    restart_cv_.wait(lock, [&] { return stopping_ || positions_[index].restart_pending; });
    if (stopping_) return;
    ExecutorPosition& position = positions_[index];
    position.restart_pending = false;
    position.starting_died = false;
    const std::set<uint32_t> reload = position.reload;
    // Back off when an executor keeps dying, e.g. a function that crashes in its initialisation.
    const int backoff_ms = std::min(2000, 20 * (position.restarts - 1));
    if (restart_cv_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [&] { return stopping_.load(); })) return;
    lock.unlock();
    RestartOnce(index, reload);
    lock.lock();
  }
}

void LaneManager::RestartOnce(int index, const std::set<uint32_t>& reload) {
  auto proc = ExecutorProcess::Spawn(index, OptionsFor(index), positions_[index].bell, &spawning_[index]);
  if (!proc.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    spawning_[index] = -1;
    if (stopping_) return;
    Log(LogLevel::kError, "coordinator", "cannot restart executor: " + proc.status().ToString());
    if (positions_[index].starting_died) {
      positions_[index].restart_pending = true;  // it started and died at once: try again, backing off
    } else {
      positions_[index].restarting = false;
    }
    return;
  }
  std::shared_ptr<ExecutorProcess> fresh(proc.MoveValue());
  auto gone = [&] { return stopping_ || positions_[index].starting_died; };
  {
    std::lock_guard<std::mutex> lock(mu_);
    positions_[index].starting = fresh;  // visible to Stop() and to the supervisor from now on
    spawning_[index] = -1;
  }
  // Functions first: a batch already waiting in a Lane is served as soon as the Lane is adopted.
  for (uint32_t fid : reload) {
    auto fn = registry_->FindById(fid);
    if (!fn) continue;
    Status st = EnsureLoaded(fresh, *fn);
    // A batch waiting for it then fails with NotFound from the executor, not silently.
    if (!st.ok())
      Log(LogLevel::kWarn, "coordinator", "reloading '" + fn->def.name + "' after a restart: " + st.ToString());
    std::lock_guard<std::mutex> lock(mu_);
    if (gone()) break;
  }
  std::vector<Lane*> lanes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // No Lane is added for a restarting position (TryAcquire), so this is the whole set.
    for (auto& [id, rec] : lanes_) {
      if (rec.executor == index && !gone()) lanes.push_back(rec.lane.get());
    }
  }
  for (Lane* lane : lanes) {
    json reply;
    Status st = fresh->Call(json{{"op", "add_lane"}, {"lane_id", lane->id()}}, &reply, kLaneRpcTimeoutMs, {lane->fd()});
    // The replacement died too: the supervisor marked it, and the restarter starts another one.
    if (!st.ok()) {
      Log(LogLevel::kWarn, "coordinator", "handing Lane " + std::to_string(lane->id()) + " over: " + st.ToString());
      break;
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ExecutorPosition& position = positions_[index];
    position.starting.reset();
    if (!stopping_ && !position.starting_died) {
      position.process = fresh;
      position.restarting = false;
      Log(LogLevel::kInfo, "coordinator",
          "executor " + std::to_string(index) + " restarted (pid " + std::to_string(fresh->pid()) + "), " +
              std::to_string(reload.size()) + " functions reloaded, " + std::to_string(lanes.size()) +
              " Lanes handed over");
      return;
    }
    if (!stopping_) {
      position.restart_pending = true;  // RestartLoop runs again, with the same functions to reload
      return;
    }
  }
  // Stop() ran while this replacement was starting: make sure it is gone.
  fresh->Shutdown(kShutdownGraceMs);
}

void LaneManager::WatchAbandoned() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    watchdog_cv_.wait_for(lock, std::chrono::milliseconds(50));
    if (stopping_) return;
    const int64_t now = MonotonicNanos();
    for (auto& [id, rec] : lanes_) {
      if (!rec.abandoned) continue;
      const LaneState state = rec.lane->state();
      if (!IsInFlight(state)) {
        rec.abandoned = false;  // it finished (or failed) by itself
        continue;
      }
      if (rec.executor == ray_bridge_) {
        // The bridge never blocks on a batch (it waits for Ray while serving others): an abandoned
        // one ends by itself, and recycling the bridge would kill every function's actors.
        continue;
      }
      if (state == LaneState::kRequest) {
        // Still queued behind another batch, maybe another client's: the grace starts when it runs.
        rec.abandoned_ns = now;
        continue;
      }
      if (now - rec.abandoned_ns < static_cast<int64_t>(kDiscardGraceMs) * 1000000) continue;
      ExecutorPosition& position = positions_[rec.executor];
      // Once per death: the kill fails this Lane (FailRunningLanes), which settles it.
      if (!position.process || position.restarting || !position.kill_reason.empty()) continue;
      position.kill_reason = rec.abandon_reason + "; the batch was still running " + std::to_string(kDiscardGraceMs) +
                             " ms later, so its executor is recycled before it serves anything else";
      Log(LogLevel::kWarn, "coordinator",
          "killing executor " + std::to_string(rec.executor) + ": " + position.kill_reason);
      position.process->Signal(SIGKILL);
    }
  }
}

}  // namespace imlane
