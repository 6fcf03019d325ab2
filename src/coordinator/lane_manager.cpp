#include "imlane/coordinator/lane_manager.h"
#include "imlane/common/log.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <set>
#include <thread>

#include "imlane/common/messages.h"
#include "imlane/common/system.h"

namespace imlane {

namespace {

// Lanes the bridge grants per client follow the function's actors; with replicas 0 (one actor per CPU
// of the cluster, known only to the bridge) this many are assumed.
constexpr int kRayReplicasAssumed = 4;
int RayReplicas(const FunctionDefinition& def) { return def.replicas > 0 ? def.replicas : kRayReplicasAssumed; }
constexpr int kStatsTimeoutMs = 2000;
constexpr int64_t kMiB = 1 << 20;

std::string MiB(uint64_t bytes) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.1f MiB", static_cast<double>(bytes) / kMiB);
  return std::to_string(bytes) + " bytes (" + text + ")";
}

void FreePages(const Lane& lane) {
  // Punching the whole region frees its pages at once, even while a released (but still connected)
  // client or the executor keeps it mapped; the mappings go with remove_lane or process exit.
  if (fallocate(lane.fd(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(lane.region_bytes())) !=
      0) {
    Log(LogLevel::kWarn, "coordinator",
        "returning Lane " + std::to_string(lane.id()) + " to the system: " + std::strerror(errno));
  }
}
}  // namespace

LaneManager::LaneManager(CoordinatorOptions options, FunctionRegistry* registry)
    : options_(std::move(options)), registry_(registry) {}

LaneManager::~LaneManager() { Stop(); }

CoordinatorOptions LaneManager::OptionsFor(int index) const {
  CoordinatorOptions o = options_;
  if (index == ray_bridge_) {
    o.executor_memory_mb = 0;
  } else {
    o.ray_address.clear();
  }
  return o;
}

Status LaneManager::Start() {
  const int local = options_.executors > 0 ? options_.executors : UsableCores();
  ResolveCaps(local);
  const int n = local + (options_.ray_address.empty() ? 0 : 1);
  if (!options_.ray_address.empty()) ray_bridge_ = local;
  if (options_.context_cache_mb < 0) {
    options_.context_cache_mb = options_.executor_memory_mb > 0 ? options_.executor_memory_mb / 2 : 2048;
  }
  positions_.resize(static_cast<size_t>(n));
  spawning_ = std::make_unique<std::atomic<pid_t>[]>(static_cast<size_t>(n));
  for (int i = 0; i < n; i++) spawning_[i] = -1;
  for (int i = 0; i < n; i++) {
    IMLANE_ASSIGN_OR_RETURN(positions_[i].bell,
                            SharedRegion::Create("imlane-bell-" + std::to_string(i), kBellBytes, true));
    ExecutorBell::Initialize(positions_[i].bell.data());
  }
  // Spawned from this (long-lived) thread: an executor's parent-death signal follows its forking thread.
  for (int i = 0; i < n; i++) {
    auto proc = ExecutorProcess::Spawn(i, OptionsFor(i), positions_[i].bell);
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
  trimmer_ = std::thread([this] { TrimLoop(); });
  for (int i = 0; i < n; i++) restarters_.emplace_back([this, i] { RestartLoop(i); });
  watchdog_ = std::thread([this] { WatchAbandoned(); });
  return Status::OK();
}

void LaneManager::ResolveCaps(int executors) {
  CoordinatorOptions& o = options_;
  const int64_t ram_mb = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE) / kMiB;
  if (o.lane_memory_mb <= 0) o.lane_memory_mb = std::max<int64_t>(256, ram_mb / 4);
  if (o.client_lane_memory_mb <= 0) o.client_lane_memory_mb = std::max<int64_t>(1, o.lane_memory_mb / 2);
  o.client_lane_memory_mb = std::min(o.client_lane_memory_mb, o.lane_memory_mb);
  if (o.max_lane_bytes <= 0) o.max_lane_bytes = std::min<int64_t>(1024 * kMiB, o.client_lane_memory_mb * kMiB);
  if (o.lane_pool_mb < 0) o.lane_pool_mb = o.lane_memory_mb / 4;
  // Executors together stay within half the RAM minus the Lanes (which they map on top of their
  // budget), leaving the engine the rest; 2 GiB is about what Python with a model library needs.
  if (o.executor_memory_mb == 0) {
    o.executor_memory_mb = std::max<int64_t>(2048, (ram_mb / 2 - o.lane_memory_mb) / std::max(1, executors));
  }
  Log(LogLevel::kDebug, "coordinator",
      "Lane caps: total " + std::to_string(o.lane_memory_mb) + " MiB, per client " +
          std::to_string(o.client_lane_memory_mb) + " MiB, per Lane " + std::to_string(o.max_lane_bytes) +
          " bytes, pool " + std::to_string(o.lane_pool_mb) + " MiB; executor memory " +
          std::to_string(o.executor_memory_mb) + " MiB");
}

void LaneManager::ReturnToPool(LaneRecord* rec) {
  rec->client = 0;
  rec->pooled_ns = MonotonicNanos();
}

bool LaneManager::EvictOnePooled(std::vector<EvictedLane>* out) {
  std::vector<std::map<uint64_t, LaneRecord>::iterator> pooled;
  for (auto it = lanes_.begin(); it != lanes_.end(); ++it) {
    if (it->second.client == 0 && !positions_[it->second.executor].restarting) pooled.push_back(it);
  }
  std::stable_sort(pooled.begin(), pooled.end(),
                   [](const auto& a, const auto& b) { return a->second.pooled_ns < b->second.pooled_ns; });
  for (auto it : pooled) {
    // Only a settled Lane: a batch a gone client left running is still being written by its executor.
    if (!LaneCoordinator(it->second.lane.get()).Reclaim()) continue;
    FreePages(*it->second.lane);
    out->push_back({std::move(it->second.lane), positions_[it->second.executor].process});
    lanes_.erase(it);
    return true;
  }
  return false;
}

std::vector<LaneManager::EvictedLane> LaneManager::EvictIdlePooled() {
  std::vector<EvictedLane> out;
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = MonotonicNanos();
  if (options_.lane_idle_ms >= 0) {
    for (auto it = lanes_.begin(); it != lanes_.end();) {
      LaneRecord& rec = it->second;
      if (rec.client == 0 && !positions_[rec.executor].restarting &&
          now - rec.pooled_ns >= static_cast<int64_t>(options_.lane_idle_ms) * 1000000 &&
          LaneCoordinator(rec.lane.get()).Reclaim()) {
        FreePages(*rec.lane);
        out.push_back({std::move(rec.lane), positions_[rec.executor].process});
        it = lanes_.erase(it);
      } else {
        ++it;
      }
    }
  }
  auto pooled_bytes = [this] {
    uint64_t bytes = 0;
    for (const auto& [id, rec] : lanes_) bytes += rec.client == 0 ? rec.lane->region_bytes() : 0;
    return bytes;
  };
  while (pooled_bytes() > static_cast<uint64_t>(options_.lane_pool_mb) * kMiB && EvictOnePooled(&out)) {
  }
  return out;
}

void LaneManager::Dispose(std::vector<EvictedLane> lanes) {
  for (auto& e : lanes) {
    if (e.process) {
      // An executor inside a batch answers control calls only after it; rather than time out (and
      // leave a late reply on the channel), the unmapping waits for a trim round where it is idle.
      bool busy = false;
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (const auto& [id, rec] : lanes_) {
          busy = busy || (rec.executor == e.process->index() && IsInFlight(rec.lane->state()));
        }
        if (busy && !stopping_) {
          pending_removal_.push_back(std::move(e));
          continue;
        }
      }
      json reply;
      Status st = e.process->Call(json{{"op", "remove_lane"}, {"lane_id", e.lane->id()}}, &reply, kLaneRpcTimeoutMs);
      // Harmless: its pages are gone; the executor keeps an empty mapping until it is replaced.
      if (!st.ok())
        Log(LogLevel::kDebug, "coordinator", "remove_lane " + std::to_string(e.lane->id()) + ": " + st.ToString());
    }
  }
}

void LaneManager::TrimLoop() {
  const int period_ms = options_.lane_idle_ms >= 0 ? std::clamp(options_.lane_idle_ms / 4, 10, 1000) : 1000;
  std::unique_lock<std::mutex> lock(trim_mu_);
  while (!stopping_) {
    trim_cv_.wait_for(lock, std::chrono::milliseconds(period_ms));
    if (stopping_) break;
    lock.unlock();
    std::vector<EvictedLane> lanes = EvictIdlePooled();
    {
      std::lock_guard<std::mutex> guard(mu_);
      for (auto& e : pending_removal_) lanes.push_back(std::move(e));
      pending_removal_.clear();
    }
    Dispose(std::move(lanes));
    lock.lock();
  }
}

void LaneManager::Stop() {
  const bool already = stopping_.exchange(true);
  {
    std::lock_guard<std::mutex> lock(trim_mu_);
    trim_cv_.notify_all();
  }
  if (trimmer_.joinable()) trimmer_.join();
  if (already) {
    if (supervisor_.joinable()) supervisor_.join();
    return;
  }
  std::vector<std::shared_ptr<ExecutorProcess>> procs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < positions_.size(); i++) {
      if (positions_[i].process) procs.push_back(positions_[i].process);
      // A replacement still reloading is stopped too: shutdown never waits for a reload.
      if (positions_[i].starting) procs.push_back(positions_[i].starting);
      if (spawning_ && spawning_[i].load() > 0) kill(spawning_[i].load(), SIGKILL);
    }
  }
  restart_cv_.notify_all();
  watchdog_cv_.notify_all();
  for (auto& p : procs) p->Shutdown(kShutdownGraceMs);
  for (auto& t : restarters_) {
    if (t.joinable()) t.join();
  }
  if (watchdog_.joinable()) watchdog_.join();
  if (supervisor_.joinable()) supervisor_.join();
  std::lock_guard<std::mutex> lock(mu_);
  pending_removal_.clear();
  lanes_.clear();
  for (auto& s : positions_) s.process.reset();
}

std::shared_ptr<ExecutorProcess> LaneManager::Process(int index) {
  std::lock_guard<std::mutex> lock(mu_);
  if (index < 0 || index >= static_cast<int>(positions_.size())) return nullptr;
  return positions_[index].process;
}

Status LaneManager::EnsureLoaded(const std::shared_ptr<ExecutorProcess>& proc, const FunctionVersion& fn) {
  std::shared_ptr<ExecutorProcess::PendingLoad> pending;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (proc->loaded.count(fn.fid)) return Status::OK();
    auto it = proc->loading.find(fn.fid);
    if (it != proc->loading.end()) {
      // Another client builds this context right now: wait for it rather than build it twice.
      std::shared_ptr<ExecutorProcess::PendingLoad> other = it->second;
      loads_cv_.wait(lock, [&] { return other->done; });
      return other->status;
    }
    pending = std::make_shared<ExecutorProcess::PendingLoad>();
    proc->loading[fn.fid] = pending;
  }
  // No lock is held during the load: other functions' loads, Lane hand-overs and status calls go
  // on meanwhile, on this executor too (it loads on a thread of its own).
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
  if (st.code() == StatusCode::kTimedOut) {
    proc->Signal(SIGKILL);  // a load that never ends leaves the executor unusable
    st = Status::TimedOut("loading function '" + fn.def.name + "' took longer than " +
                          std::to_string(options_.load_timeout_ms) + " ms");
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (st.ok()) proc->loaded.insert(fn.fid);
    pending->done = true;
    pending->status = st;
    proc->loading.erase(fn.fid);
  }
  loads_cv_.notify_all();
  return st;
}

Status LaneManager::LoadOnAll(const std::vector<std::shared_ptr<ExecutorProcess>>& procs, const FunctionVersion& fn) {
  // In parallel: a one-off initialisation of 30 s costs 30 s, not 30 s per executor.
  std::vector<Status> results(procs.size());
  std::vector<std::thread> threads;
  for (size_t i = 1; i < procs.size(); i++) {
    threads.emplace_back([&, i] { results[i] = EnsureLoaded(procs[i], fn); });
  }
  if (!procs.empty()) results[0] = EnsureLoaded(procs[0], fn);
  for (auto& t : threads) t.join();
  // An executor that died meanwhile (Unavailable) does not fail the load if another one loaded it:
  // its replacement reloads the function. Any other error is the function's own.
  bool any_ok = false;
  for (const Status& st : results) {
    if (!st.ok() && st.code() != StatusCode::kUnavailable) return st;
    any_ok = any_ok || st.ok();
  }
  for (const Status& st : results) {
    if (!any_ok && !st.ok()) return st;
  }
  return Status::OK();
}

std::vector<ExecutorLoad> LaneManager::Loads(const FunctionVersion& fn) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ExecutorLoad> loads;
  for (size_t i = 0; i < positions_.size(); i++) {
    const ExecutorPosition& s = positions_[i];
    const bool bridge = static_cast<int>(i) == ray_bridge_;
    const bool serves = fn.def.backend == Backend::kBoth || (fn.def.backend == Backend::kRay) == bridge;
    size_t in_use = 0;
    for (const auto& [id, rec] : lanes_) in_use += rec.executor == static_cast<int>(i) && rec.client != 0;
    loads.push_back({static_cast<int>(i), serves && s.process && !s.restarting, in_use,
                     s.process && s.process->loaded.count(fn.fid) > 0});
  }
  return loads;
}

namespace {
Status CheckBackend(const FunctionVersion& fn, int ray_bridge) {
  if (fn.def.backend != Backend::kLocal && ray_bridge < 0) {
    return Status::InvalidArgument("function '", fn.def.name, "' asks for backend '", BackendName(fn.def.backend),
                                   "', but this coordinator has no Ray cluster (imlane serve --ray-address ADDR, or "
                                   "$IMLANE_RAY_ADDRESS; 'auto' joins the local one)");
  }
  return Status::OK();
}
}  // namespace

Status LaneManager::Validate(const FunctionVersion& fn) {
  // Loaded on every available executor, in parallel: the first query then finds them all warm.
  IMLANE_RETURN_NOT_OK(CheckBackend(fn, ray_bridge_));
  std::vector<ExecutorLoad> loads = Loads(fn);
  std::vector<int> chosen = ChooseExecutors(loads, SchedulingRequest{0, 1});
  if (chosen.empty()) return Status::Unavailable("no executor is available to load '" + fn.def.name + "'");
  std::vector<std::shared_ptr<ExecutorProcess>> procs;
  for (int idx : chosen) {
    if (auto proc = Process(idx)) procs.push_back(proc);
  }
  if (procs.empty()) return Status::Unavailable("every executor is restarting; cannot load '" + fn.def.name + "'");
  Status st = LoadOnAll(procs, fn);
  // A Ray cluster that cannot be reached is the registration's error, not a coordinator gone away
  // (which is what Unavailable tells a client).
  if (st.code() == StatusCode::kUnavailable && fn.def.backend == Backend::kRay) return Status::IOError(st.message());
  return st;
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
  if (lane_bytes > static_cast<uint64_t>(options_.max_lane_bytes)) {
    return Status::CapacityExceeded("a Lane of " + MiB(lane_bytes) + " is over the per-Lane cap of " +
                                    MiB(options_.max_lane_bytes) +
                                    " (imlane serve --max-lane-bytes); ask for smaller Lanes (imlane_lane_bytes, "
                                    "Settings::lane_bytes)");
  }
  if (slots_per_executor > options_.max_slots_per_executor) {
    return Status::CapacityExceeded(std::to_string(slots_per_executor) + " slots per executor is over the cap of " +
                                    std::to_string(options_.max_slots_per_executor) +
                                    " (imlane serve --max-slots-per-executor)");
  }
  IMLANE_RETURN_NOT_OK(CheckBackend(fn, ray_bridge_));
  std::vector<ExecutorLoad> loads = Loads(fn);
  SchedulingRequest wanted = request;
  // The bridge counts as one executor whatever its actors: a client asking for one executor of a
  // 'both' function still gets the bridge if it is the least loaded.
  std::vector<int> chosen = ChooseExecutors(loads, wanted);
  if (chosen.empty()) return Status::Unavailable("no executor is available for '" + fn.def.name + "'");

  std::vector<std::shared_ptr<ExecutorProcess>> procs;
  for (int idx : chosen) {
    auto proc = Process(idx);
    if (!proc) return Status::Unavailable("executor " + std::to_string(idx) + " is restarting");
    procs.push_back(proc);
  }
  Status loaded = LoadOnAll(procs, fn);
  if (!loaded.ok() && loaded.code() == StatusCode::kUnavailable && fn.def.backend == Backend::kRay &&
      chosen == std::vector<int>{ray_bridge_}) {
    // The Ray cluster is unreachable: the query runs on the local executors rather than fail.
    Log(LogLevel::kWarn, "coordinator",
        "'" + fn.def.name + "' runs on local executors until its Ray cluster is back: " + loaded.ToString());
    FunctionVersion local = fn;
    local.def.backend = Backend::kLocal;
    chosen = ChooseExecutors(Loads(local), request);
    procs.clear();
    for (int idx : chosen) {
      auto proc = Process(idx);
      if (!proc) return Status::Unavailable("executor " + std::to_string(idx) + " is restarting");
      procs.push_back(proc);
    }
    if (procs.empty()) return loaded;
    loaded = LoadOnAll(procs, fn);
  }
  IMLANE_RETURN_NOT_OK(loaded);
  {
    // Only executors that hold the function get Lanes (a 'both' function whose bridge cannot reach
    // its cluster is served by the local ones).
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t k = chosen.size(); k-- > 0;) {
      if (!procs[k]->loaded.count(fn.fid)) {
        chosen.erase(chosen.begin() + static_cast<long>(k));
        procs.erase(procs.begin() + static_cast<long>(k));
      }
    }
  }
  if (chosen.empty()) return Status::Unavailable("no executor could load '" + fn.def.name + "'");

  LaneGrant grant;
  std::vector<std::pair<std::shared_ptr<ExecutorProcess>, Lane*>> to_attach;
  std::vector<uint64_t> granted;
  // Pooled Lanes evicted to make room under the total cap; returned to the system on every way out.
  struct DisposeOnExit {
    LaneManager* manager;
    std::vector<EvictedLane> lanes;
    ~DisposeOnExit() { manager->Dispose(std::move(lanes)); }
  } evicted{this, {}};
  {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t client_cap = static_cast<uint64_t>(options_.client_lane_memory_mb) * kMiB;
    const uint64_t total_cap = static_cast<uint64_t>(options_.lane_memory_mb) * kMiB;
    uint64_t client_bytes = 0, total_bytes = 0;
    for (const auto& [id, rec] : lanes_) {
      total_bytes += rec.lane->region_bytes();
      if (rec.client == client_id) client_bytes += rec.lane->region_bytes();
    }
    // A Lane created here has not been handed to its executor yet: it must not enter the pool.
    auto undo = [&] {
      for (uint64_t g : granted) {
        const bool fresh = std::any_of(to_attach.begin(), to_attach.end(),
                                       [&](const auto& a) { return a.second == lanes_[g].lane.get(); });
        if (fresh) {
          lanes_.erase(g);
        } else {
          ReturnToPool(&lanes_[g]);
        }
      }
    };
    for (size_t k = 0; k < chosen.size(); k++) {
      // Lanes are recorded only for an executor that is still the live one, so that if it dies
      // later its replacement finds them among the Lanes it must adopt.
      if (positions_[chosen[k]].process != procs[k] || positions_[chosen[k]].restarting) {
        return Status::Unavailable("executor " + std::to_string(chosen[k]) + " is restarting");
      }
    }
    for (size_t k = 0; k < chosen.size(); k++) {
      const int idx = chosen[k];
      // The bridge keeps every actor busy: a batch running on each plus one travelling to it.
      const int slots =
          idx == ray_bridge_
              ? std::min(options_.max_slots_per_executor,
                         std::max(slots_per_executor, options_.ray_slots_per_replica * RayReplicas(fn.def)))
              : slots_per_executor;
      int found = 0;
      for (auto& [id, rec] : lanes_) {
        if (found == slots) break;
        if (rec.client == 0 && rec.executor == idx && rec.lane->region_bytes() >= lane_bytes &&
            client_bytes + rec.lane->region_bytes() <= client_cap && LaneCoordinator(rec.lane.get()).Reclaim()) {
          rec.client = client_id;
          client_bytes += rec.lane->region_bytes();
          rec.abandoned = false;
          granted.push_back(id);
          found++;
        }
      }
      for (; found < slots; found++) {
        if (client_bytes + lane_bytes > client_cap) {
          undo();
          return Status::CapacityExceeded("this client would hold " + MiB(client_bytes + lane_bytes) +
                                          " of Lanes, over the per-client cap of " + MiB(client_cap) +
                                          " (imlane serve --client-lane-memory-mb); use fewer or smaller Lanes");
        }
        // Room under the total cap is made from the pool first (oldest idle Lane first).
        while (total_bytes + lane_bytes > total_cap || static_cast<int>(lanes_.size()) >= options_.max_lanes) {
          const size_t before = evicted.lanes.size();
          if (!EvictOnePooled(&evicted.lanes)) break;
          total_bytes -= evicted.lanes[before].lane->region_bytes();
        }
        if (total_bytes + lane_bytes > total_cap) {
          undo();
          return Status::CapacityExceeded("all clients' Lanes would take " + MiB(total_bytes + lane_bytes) +
                                          ", over the total cap of " + MiB(total_cap) +
                                          " (imlane serve --lane-memory-mb)");
        }
        if (static_cast<int>(lanes_.size()) >= options_.max_lanes) {
          undo();
          return Status::CapacityExceeded("the coordinator already holds " + std::to_string(lanes_.size()) +
                                          " Lanes (max_lanes); release some or raise --max-lanes");
        }
        const uint64_t id = next_lane_id_++;
        auto lane = Lane::Create(id, lane_bytes);
        if (!lane.ok()) {
          undo();
          return lane.status();
        }
        client_bytes += lane->region_bytes();
        total_bytes += lane->region_bytes();
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
  for (size_t k = 0; k < to_attach.size(); k++) {
    auto& [proc, lane] = to_attach[k];
    json reply;
    Status st = proc->Call(json{{"op", "add_lane"}, {"lane_id", lane->id()}}, &reply, kLaneRpcTimeoutMs, {lane->fd()});
    if (!st.ok()) {
      // This Lane and the ones after it were never handed over: pooled, they would later be granted
      // to a client without their executor knowing them, and that client's batches would hang. They
      // go; the ones handed over go back to the pool.
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (size_t j = k; j < to_attach.size(); j++) {
          const uint64_t id = to_attach[j].second->id();
          granted.erase(std::remove(granted.begin(), granted.end(), id), granted.end());
          lanes_.erase(id);
        }
      }
      Release(client_id, granted);
      const std::string what = "handing a Lane to executor " + std::to_string(proc->index()) + ": " + st.ToString();
      // Its executor died meanwhile (transient: Acquire chooses again), or refused the Lane.
      if (st.code() == StatusCode::kUnavailable || st.code() == StatusCode::kTimedOut) {
        return Status::Unavailable(what);
      }
      return Status(st.code(), what);
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
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (uint64_t id : lane_ids) {
      auto it = lanes_.find(id);
      if (it != lanes_.end() && it->second.client == client_id) ReturnToPool(&it->second);
    }
  }
  trim_cv_.notify_all();  // the pool may be over its bound now
}

void LaneManager::ReleaseClient(int client_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t now = MonotonicNanos();
    for (auto& [id, rec] : lanes_) {
      if (rec.client != client_id) continue;
      ReturnToPool(&rec);
      if (IsInFlight(rec.lane->state()) && !rec.abandoned) {
        rec.abandoned = true;
        rec.abandoned_ns = now;
        rec.abandon_reason = "client " + std::to_string(client_id) + " disconnected while its batch in Lane " +
                             std::to_string(id) + " was running";
      }
    }
  }
  trim_cv_.notify_all();  // the pool may be over its bound now
}

void LaneManager::Abandon(int client_id, const std::vector<uint64_t>& lane_ids, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = MonotonicNanos();
  for (uint64_t id : lane_ids) {
    auto it = lanes_.find(id);
    if (it == lanes_.end() || it->second.client != client_id || it->second.abandoned) continue;
    if (!IsInFlight(it->second.lane->state())) continue;
    it->second.abandoned = true;
    it->second.abandoned_ns = now;
    it->second.abandon_reason = reason.empty() ? "a batch in Lane " + std::to_string(id) + " was discarded" : reason;
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
  // Asked in parallel, so that executors inside long batches cost one timeout, not one each.
  std::vector<json> replies(procs.size());
  std::vector<char> answered(procs.size(), 0);
  {
    std::vector<std::thread> askers;
    for (size_t k = 0; k < procs.size(); k++) {
      if (!procs[k].second) continue;
      askers.emplace_back([&, k] {
        answered[k] = procs[k].second->Call(json{{"op", "stats"}}, &replies[k], kStatsTimeoutMs).ok();
      });
    }
    for (auto& t : askers) t.join();
  }
  for (size_t k = 0; k < procs.size(); k++) {
    auto& [i, proc] = procs[k];
    json e = {{"index", i}};
    const json& reply = replies[k];
    size_t lanes_here = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const ExecutorPosition& s = positions_[i];
      e["restarts"] = s.restarts;
      e["last_exit"] = s.last_exit;
      // From this lock's view, not the snapshot above: a restart may have ended in between (its
      // replacement serves adopted Lanes before it is installed), which would read as "stopped".
      e["state"] = s.restarting ? "restarting" : (s.process ? "running" : "stopped");
      for (const auto& [id, rec] : lanes_) lanes_here += rec.executor == i;
    }
    e["lanes"] = lanes_here;
    e["pid"] = proc ? proc->pid() : -1;
    e["alive"] = proc != nullptr;
    e["functions"] = json::array();
    std::vector<json> rows;
    if (proc && answered[k]) {
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
              {"lanes",
               {{"total", lanes_total},
                {"in_use", lanes_in_use},
                {"bytes", lane_bytes},
                {"cap_bytes", options_.lane_memory_mb * kMiB},
                {"client_cap_bytes", options_.client_lane_memory_mb * kMiB},
                {"max_lane_bytes", options_.max_lane_bytes},
                {"pool_cap_bytes", options_.lane_pool_mb * kMiB}}},
              {"executor_memory_mb", options_.executor_memory_mb}};
}

}  // namespace imlane
