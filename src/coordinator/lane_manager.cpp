#include "imlane/coordinator/lane_manager.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <set>
#include <thread>

#include "imlane/common/messages.h"
#include "imlane/common/system.h"

namespace imlane {

namespace {
constexpr int kStatsTimeoutMs = 2000;
}  // namespace

LaneManager::LaneManager(CoordinatorOptions options, FunctionRegistry* registry)
    : options_(std::move(options)), registry_(registry) {}

LaneManager::~LaneManager() { Stop(); }

Status LaneManager::Start() {
  const int n = options_.executors > 0 ? options_.executors : UsableCores();
  if (options_.executor_memory_mb == 0) {
    const int64_t total_mb = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE) >> 20;
    options_.executor_memory_mb = std::max<int64_t>(2048, total_mb / (n + 1));
  }
  if (options_.context_cache_mb < 0) {
    options_.context_cache_mb = options_.executor_memory_mb > 0 ? options_.executor_memory_mb / 2 : 2048;
  }
  positions_.resize(static_cast<size_t>(n));
  for (int i = 0; i < n; i++) {
    IMLANE_ASSIGN_OR_RETURN(positions_[i].bell,
                            SharedRegion::Create("imlane-bell-" + std::to_string(i), kBellBytes, true));
    ExecutorBell::Initialize(positions_[i].bell.data());
  }
  // Spawned from this (long-lived) thread: an executor's parent-death signal follows its forking thread.
  for (int i = 0; i < n; i++) {
    auto proc = ExecutorProcess::Spawn(i, options_, positions_[i].bell);
    if (!proc.ok()) {
      stopping_ = true;
      for (auto& s : positions_) {
        if (s.process) s.process->Shutdown(kShutdownGraceMs);
      }
      while (waitpid(-1, nullptr, 0) > 0) {
      }
      return proc.status();
    }
    positions_[i].process = std::shared_ptr<ExecutorProcess>(proc.MoveValue());
  }
  supervisor_ = std::thread([this] { SuperviseLoop(); });
  return Status::OK();
}

void LaneManager::Stop() {
  if (stopping_.exchange(true)) {
    if (supervisor_.joinable()) supervisor_.join();
    return;
  }
  std::vector<std::shared_ptr<ExecutorProcess>> procs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& s : positions_) {
      if (s.process) procs.push_back(s.process);
    }
  }
  for (auto& p : procs) p->Shutdown(kShutdownGraceMs);
  if (supervisor_.joinable()) supervisor_.join();
  std::lock_guard<std::mutex> lock(mu_);
  lanes_.clear();
  for (auto& s : positions_) s.process.reset();
}

std::shared_ptr<ExecutorProcess> LaneManager::Process(int index) {
  std::lock_guard<std::mutex> lock(mu_);
  if (index < 0 || index >= static_cast<int>(positions_.size())) return nullptr;
  return positions_[index].process;
}

Status LaneManager::EnsureLoaded(const std::shared_ptr<ExecutorProcess>& proc, const FunctionVersion& fn) {
  std::lock_guard<std::mutex> load_lock(proc->load_mu);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (proc->loaded.count(fn.fid)) return Status::OK();
  }
  json req = {{"op", "load"},
              {"fid", fn.fid},
              {"name", fn.def.name},
              {"filename", fn.def.filename},
              {"entry", fn.def.entry},
              {"arg_types", TypesToJson(fn.def.arg_types)},
              {"return_types", TypesToJson(fn.def.return_types)}};
  SourceToJson(fn.def.source, &req);
  FunctionOptionsToJson(fn.def, &req);
  json reply;
  Status st = proc->Call(req, &reply, options_.load_timeout_ms);
  if (!st.ok()) {
    if (st.code() == StatusCode::kTimedOut) {
      proc->Signal(SIGKILL);  // a load that never ends leaves the executor unusable
      return Status::TimedOut("loading function '" + fn.def.name + "' took longer than " +
                              std::to_string(options_.load_timeout_ms) + " ms");
    }
    return st;
  }
  std::lock_guard<std::mutex> lock(mu_);
  proc->loaded.insert(fn.fid);
  return Status::OK();
}

std::vector<ExecutorLoad> LaneManager::Loads(uint32_t fid) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ExecutorLoad> loads;
  for (size_t i = 0; i < positions_.size(); i++) {
    const ExecutorPosition& s = positions_[i];
    size_t in_use = 0;
    for (const auto& [id, rec] : lanes_) in_use += rec.executor == static_cast<int>(i) && rec.client != 0;
    loads.push_back(
        {static_cast<int>(i), s.process && !s.restarting, in_use, s.process && s.process->loaded.count(fid) > 0});
  }
  return loads;
}

Status LaneManager::Validate(const FunctionVersion& fn) {
  std::vector<ExecutorLoad> loads = Loads(fn.fid);
  std::vector<int> chosen = ChooseExecutors(loads, SchedulingRequest{1, 1});
  if (chosen.empty()) return Status::Unavailable("no executor is available to load '" + fn.def.name + "'");
  auto proc = Process(chosen[0]);
  if (!proc) return Status::Unavailable("executor " + std::to_string(chosen[0]) + " is restarting");
  return EnsureLoaded(proc, fn);
}

Result<LaneGrant> LaneManager::Acquire(int client_id, const FunctionVersion& fn, const SchedulingRequest& request,
                                       size_t lane_bytes) {
  // A chosen executor can die between the choice and the hand-over (a crashing function): that is
  // transient, so choose again once the slot shows it restarting, rather than fail the client.
  constexpr int kAcquireRetryMs = 5000, kAcquireRetrySleepMs = 20;
  for (int waited = 0;; waited += kAcquireRetrySleepMs) {
    auto grant = TryAcquire(client_id, fn, request, lane_bytes);
    if (grant.ok() || grant.status().code() != StatusCode::kUnavailable || waited >= kAcquireRetryMs) return grant;
    std::this_thread::sleep_for(std::chrono::milliseconds(kAcquireRetrySleepMs));
  }
}

Result<LaneGrant> LaneManager::TryAcquire(int client_id, const FunctionVersion& fn, const SchedulingRequest& request,
                                          size_t lane_bytes) {
  if (lane_bytes == 0) lane_bytes = options_.lane_bytes;
  const int slots_per_executor = std::max(1, request.slots_per_executor);
  std::vector<ExecutorLoad> loads = Loads(fn.fid);
  std::vector<int> chosen = ChooseExecutors(loads, request);
  if (chosen.empty()) return Status::Unavailable("no executor is available for '" + fn.def.name + "'");

  std::vector<std::shared_ptr<ExecutorProcess>> procs;
  for (int idx : chosen) {
    auto proc = Process(idx);
    if (!proc) return Status::Unavailable("executor " + std::to_string(idx) + " is restarting");
    IMLANE_RETURN_NOT_OK(EnsureLoaded(proc, fn));
    procs.push_back(proc);
  }

  LaneGrant grant;
  std::vector<std::pair<std::shared_ptr<ExecutorProcess>, Lane*>> to_attach;
  std::vector<uint64_t> granted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t k = 0; k < chosen.size(); k++) {
      // Lanes are recorded only for an executor that is still the live one, so that if it dies
      // later its replacement finds them among the Lanes it must adopt.
      if (positions_[chosen[k]].process != procs[k] || positions_[chosen[k]].restarting) {
        return Status::Unavailable("executor " + std::to_string(chosen[k]) + " is restarting");
      }
    }
    for (size_t k = 0; k < chosen.size(); k++) {
      const int idx = chosen[k];
      int found = 0;
      for (auto& [id, rec] : lanes_) {
        if (found == slots_per_executor) break;
        if (rec.client == 0 && rec.executor == idx && rec.lane->region_bytes() >= lane_bytes &&
            LaneCoordinator(rec.lane.get()).Reclaim()) {
          rec.client = client_id;
          granted.push_back(id);
          found++;
        }
      }
      for (; found < slots_per_executor; found++) {
        if (static_cast<int>(lanes_.size()) >= options_.max_lanes) {
          for (uint64_t id : granted) lanes_[id].client = 0;
          return Status::CapacityExceeded("the coordinator already holds " + std::to_string(lanes_.size()) +
                                          " Lanes (max_lanes); release some or raise --max-lanes");
        }
        const uint64_t id = next_lane_id_++;
        auto lane = Lane::Create(id, lane_bytes);
        if (!lane.ok()) {
          for (uint64_t g : granted) lanes_[g].client = 0;
          return lane.status();
        }
        LaneRecord rec;
        rec.lane = std::make_unique<Lane>(lane.MoveValue());
        rec.executor = idx;
        rec.client = client_id;
        to_attach.emplace_back(procs[k], rec.lane.get());
        lanes_[id] = std::move(rec);
        granted.push_back(id);
      }
    }
  }
  // New Lanes are adopted by their executor before the client may post into them.
  for (auto& [proc, lane] : to_attach) {
    json reply;
    Status st = proc->Call(json{{"op", "add_lane"}, {"lane_id", lane->id()}}, &reply, kLaneRpcTimeoutMs, {lane->fd()});
    if (!st.ok()) {
      // Its executor died meanwhile. The Lanes were recorded while it was alive, so its replacement
      // adopts them with the others: they go back to the pool, and Acquire chooses again.
      Release(client_id, granted);
      return Status::Unavailable("handing a Lane to executor " + std::to_string(proc->index()) + ": " + st.ToString());
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (uint64_t id : granted) {
    const LaneRecord& rec = lanes_[id];
    grant.lanes.push_back({{"lane_id", id}, {"executor", rec.executor}, {"bytes", rec.lane->region_bytes()}});
    grant.fds.push_back(rec.lane->fd());
  }
  for (int idx : chosen) {
    grant.executors.push_back({{"index", idx}, {"pid", positions_[idx].process ? positions_[idx].process->pid() : -1}});
    grant.fds.push_back(positions_[idx].bell.fd());
  }
  return grant;
}

void LaneManager::Release(int client_id, const std::vector<uint64_t>& lane_ids) {
  std::lock_guard<std::mutex> lock(mu_);
  for (uint64_t id : lane_ids) {
    auto it = lanes_.find(id);
    if (it != lanes_.end() && it->second.client == client_id) it->second.client = 0;
  }
}

void LaneManager::ReleaseClient(int client_id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, rec] : lanes_) {
    if (rec.client == client_id) rec.client = 0;
  }
}

Status LaneManager::KillExecutor(int index, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  if (index < 0 || index >= static_cast<int>(positions_.size()) || !positions_[index].process) {
    return Status::NotFound("no executor " + std::to_string(index));
  }
  positions_[index].kill_reason = reason;
  Log(LogLevel::kWarn, "coordinator", "killing executor " + std::to_string(index) + ": " + reason);
  positions_[index].process->Signal(SIGKILL);
  return Status::OK();
}

void LaneManager::Forget(uint32_t fid) {
  std::vector<std::shared_ptr<ExecutorProcess>> procs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& s : positions_) {
      if (s.process && s.process->loaded.erase(fid)) procs.push_back(s.process);
    }
  }
  for (auto& p : procs) {
    json reply;
    Status st = p->Call(json{{"op", "unload"}, {"fid", fid}}, &reply, kStatsTimeoutMs);
    // Harmless: the function stays loaded there, unused (its id is never granted again).
    if (!st.ok())
      Log(LogLevel::kWarn, "coordinator", "unloading function id " + std::to_string(fid) + ": " + st.ToString());
  }
}

int LaneManager::ResetCaches(const std::string& name) {
  std::vector<std::shared_ptr<ExecutorProcess>> procs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& s : positions_) {
      if (s.process) procs.push_back(s.process);
    }
  }
  int dropped = 0;
  for (auto& p : procs) {
    json reply;
    Status st = p->Call(json{{"op", "reset_cache"}, {"name", name}}, &reply, kStatsTimeoutMs);
    if (st.ok()) {
      auto n = DecodeResetCacheReply(reply);
      if (n.ok()) dropped += *n;
    } else {
      Log(LogLevel::kWarn, "coordinator", "resetting an executor's context cache: " + st.ToString());
    }
  }
  return dropped;
}

json LaneManager::StatusJson() {
  std::vector<std::pair<int, std::shared_ptr<ExecutorProcess>>> procs;
  json executors = json::array();
  size_t lanes_total = 0, lanes_in_use = 0;
  uint64_t lane_bytes = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < positions_.size(); i++) procs.emplace_back(static_cast<int>(i), positions_[i].process);
    for (const auto& [id, rec] : lanes_) {
      lanes_total++;
      lanes_in_use += rec.client != 0;
      lane_bytes += rec.lane->region_bytes();
    }
  }
  for (auto& [i, proc] : procs) {
    json e = {{"index", i}};
    json reply;
    size_t lanes_here = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const ExecutorPosition& s = positions_[i];
      e["restarts"] = s.restarts;
      e["last_exit"] = s.last_exit;
      e["state"] = s.restarting ? "restarting" : (proc ? "running" : "stopped");
      for (const auto& [id, rec] : lanes_) lanes_here += rec.executor == i;
    }
    e["lanes"] = lanes_here;
    e["pid"] = proc ? proc->pid() : -1;
    e["alive"] = proc != nullptr;
    e["functions"] = json::array();
    std::vector<json> rows;
    if (proc && proc->Call(json{{"op", "stats"}}, &reply, kStatsTimeoutMs).ok()) {
      auto decoded = DecodeStatsReply(reply);
      if (decoded.ok()) {
        rows = decoded.MoveValue();
      } else {
        Log(LogLevel::kWarn, "coordinator", "executor " + std::to_string(i) + " stats: " + decoded.status().ToString());
      }
      for (const auto& f : rows) {
        auto fn = registry_->FindById(IntegerOr<uint32_t>(f, "fid", 0));
        json row = f;
        row["name"] = fn ? fn->def.name : "?";
        row["version"] = fn ? fn->version : 0;
        e["functions"].push_back(row);
      }
    } else if (proc) {
      e["state"] = "busy";  // did not answer in time: inside a long batch or hung
    }
    executors.push_back(e);
  }
  return json{{"executors", executors},
              {"lanes", {{"total", lanes_total}, {"in_use", lanes_in_use}, {"bytes", lane_bytes}}}};
}

}  // namespace imlane
