#include "imlane/coordinator/coordinator.h"
#include "imlane/common/log.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <regex>
#include <thread>

#include "imlane/common/messages.h"
#include "imlane/common/system.h"

namespace imlane {

Coordinator::Coordinator(CoordinatorOptions options) : options_(std::move(options)) {}

Coordinator::~Coordinator() { Cleanup(); }

Status Coordinator::Start() {
  started_ = std::chrono::steady_clock::now();
  IMLANE_RETURN_NOT_OK(PrepareSocketDirectory(options_.socket_path));
  const std::string lock_path = options_.socket_path + ".lock";
  lock_ = UniqueFd(open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock_.valid()) return Status::FromErrno("open " + lock_path, errno);
  if (flock(lock_.get(), LOCK_EX | LOCK_NB) != 0) {
    lock_.Reset();
    return Status::AlreadyExists("another coordinator is already serving " + options_.socket_path);
  }
  unlink(options_.socket_path.c_str());  // stale: its coordinator no longer holds the lock
  IMLANE_ASSIGN_OR_RETURN(listen_, ListenUnix(options_.socket_path));
  if (pipe2(wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) return Status::FromErrno("pipe", errno);
  lanes_ = std::make_unique<LaneManager>(options_, &registry_);
  Status st = lanes_->Start();
  if (!st.ok()) {
    Cleanup();
    return st;
  }
  Log(LogLevel::kInfo, "coordinator",
      "serving " + options_.socket_path + " with " + std::to_string(lanes_->executor_count()) + " executors" +
          (options_.idle_exit_ms >= 0
               ? ", exiting " + std::to_string(options_.idle_exit_ms) + " ms after the last client"
               : std::string()));
  return Status::OK();
}

void Coordinator::RequestStop() {
  stop_.store(true);
  if (wake_pipe_[1] >= 0) {
    char c = 1;
    ssize_t ignored = write(wake_pipe_[1], &c, 1);
    (void)ignored;
  }
}

int Coordinator::Serve() {
  int next_client = 1;
  auto idle_since = std::chrono::steady_clock::now();
  while (!stop_.load()) {
    pollfd fds[2] = {{listen_.get(), POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    int rc = poll(fds, 2, 100);
    if (rc < 0 && errno != EINTR) break;
    if (rc > 0 && (fds[0].revents & POLLIN)) {
      int c = accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) {
        UniqueFd sock(c);
        auto cred = GetPeerCredentials(c);
        if (!cred.ok() || cred->uid != getuid()) {
          // Same user only: a Lane carries that user's data. The refusal answers the peer's first
          // request (briefly awaited), so its client reports it instead of a closed connection.
          json first;
          std::vector<UniqueFd> ignored;
          RecvLimits refused_limits;
          refused_limits.max_bytes = 64 * 1024;  // only its id is wanted
          refused_limits.message_timeout_ms = 1000;
          if (!RecvJson(c, &first, &ignored, 1000, refused_limits).ok()) first = json::object();
          // Best effort: a refused peer that has gone needs no answer.
          SendJson(c, ReplyTo(first, ErrorReply(Status::InvalidArgument(
                                         "permission denied: the coordinator serves uid ", getuid(), " only"))))
              .IgnoreError();
          continue;
        }
        int id = next_client++;
        std::string refused;
        {
          std::lock_guard<std::mutex> lock(clients_mu_);
          refused = AdmitLocked(*cred);
          if (refused.empty()) {
            clients_++;
            client_socks_[id] = c;
          }
        }
        if (!refused.empty()) {
          // Answered at once (no id: the request is not read) and closed; the accept loop never
          // waits on a refused peer. CallJson takes the id-less error as its answer.
          Log(LogLevel::kWarn, "coordinator",
              "refused a connection from pid " + std::to_string(cred->pid) + ": " + refused);
          SendJson(c, ErrorReply(Status::CapacityExceeded("connection refused: ", refused))).IgnoreError();
          continue;
        }
        std::thread([this, id, s = std::move(sock), peer = *cred]() mutable {
          ServeClient(id, std::move(s), peer);
        }).detach();
      }
    }
    if (clients_.load() > 0) {
      idle_since = std::chrono::steady_clock::now();
    } else if (options_.idle_exit_ms >= 0 &&
               std::chrono::steady_clock::now() - idle_since >= std::chrono::milliseconds(options_.idle_exit_ms)) {
      Log(LogLevel::kDebug, "coordinator", "no clients left: exiting");
      break;
    }
  }
  Cleanup();
  return 0;
}

void Coordinator::Cleanup() {
  if (listen_.valid()) {
    listen_.Reset();
    unlink(options_.socket_path.c_str());
  }
  {
    std::lock_guard<std::mutex> lock(clients_mu_);
    for (auto& [id, fd] : client_socks_) shutdown(fd, SHUT_RDWR);
  }
  for (int i = 0; i < 500 && clients_.load() > 0; i++) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (lanes_) lanes_->Stop();
  if (lock_.valid()) {
    unlink((options_.socket_path + ".lock").c_str());
    lock_.Reset();
  }
  for (int& fd : wake_pipe_) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
}

std::string Coordinator::AdmitLocked(const PeerCredentials& peer) {
  if (static_cast<int>(client_socks_.size()) >= options_.max_connections) {
    return "the coordinator already serves " + std::to_string(client_socks_.size()) +
           " connections (imlane serve --max-connections " + std::to_string(options_.max_connections) + ")";
  }
  if (per_process_[peer.pid] >= options_.max_connections_per_process) {
    return "process " + std::to_string(peer.pid) + " already has " + std::to_string(per_process_[peer.pid]) +
           " connections (imlane serve --max-connections-per-process " +
           std::to_string(options_.max_connections_per_process) + ")";
  }
  if (per_uid_[peer.uid] >= options_.max_connections_per_uid) {
    return "uid " + std::to_string(peer.uid) + " already has " + std::to_string(per_uid_[peer.uid]) +
           " connections (imlane serve --max-connections-per-uid " + std::to_string(options_.max_connections_per_uid) +
           ")";
  }
  per_process_[peer.pid]++;
  per_uid_[peer.uid]++;
  return "";
}

void Coordinator::ServeClient(int client_id, UniqueFd sock, PeerCredentials peer) {
  const std::string who = "client " + std::to_string(client_id) + " (pid " + std::to_string(peer.pid) + ", uid " +
                          std::to_string(peer.uid) + ")";
  Log(LogLevel::kInfo, "coordinator", who + " connected");
  RecvLimits limits;
  limits.max_bytes = options_.max_message_bytes;
  limits.message_timeout_ms = options_.message_timeout_ms;
  limits.peer = "a client";
  limits.option = "imlane serve --max-message-bytes";
  while (!stop_.load()) {
    json request;
    std::vector<UniqueFd> received;
    // An idle client may wait forever; a started message must finish within the message timeout.
    Status st = RecvJson(sock.get(), &request, &received, -1, limits);
    if (st.code() == StatusCode::kCapacityExceeded) {
      // Read and discarded whole, so the stream is in step: the client learns why.
      if (!SendJson(sock.get(), ErrorReply(st)).ok()) break;
      continue;
    }
    if (!st.ok()) {
      if (st.code() == StatusCode::kTimedOut) Log(LogLevel::kWarn, "coordinator", st.message());
      break;  // disconnected, half-sent or garbage: drop the client
    }
    std::vector<int> fds;
    json reply = ReplyTo(request, HandleGuarded([&] { return Dispatch(client_id, request, &fds); }));
    if (!SendJson(sock.get(), reply, fds).ok()) break;
    auto op = DecodeOp(request);
    if (op.ok() && *op == "shutdown") RequestStop();  // after the reply has left
  }
  lanes_->ReleaseClient(client_id);
  {
    std::lock_guard<std::mutex> lock(clients_mu_);
    client_socks_.erase(client_id);
    if (--per_process_[peer.pid] <= 0) per_process_.erase(peer.pid);
    if (--per_uid_[peer.uid] <= 0) per_uid_.erase(peer.uid);
  }
  clients_--;
  Log(LogLevel::kInfo, "coordinator", who + " disconnected");
}

json Coordinator::Register(const json& req) {
  auto decoded = DecodeRegisterRequest(req);
  if (!decoded.ok()) return ErrorReply(decoded.status().WithContext("register"));
  FunctionDefinition& def = decoded->def;
  static const std::regex kName("[A-Za-z_][A-Za-z0-9_]*");
  if (!std::regex_match(def.name, kName)) {
    return ErrorReply(Status::InvalidArgument("invalid function name '" + def.name +
                                              "' (letters, digits and _; not starting with a digit)"));
  }
  if (def.return_types.empty()) {
    return ErrorReply(Status::InvalidArgument("function '" + def.name + "' declares no return type"));
  }
  auto previous = registry_.Find(def.name);
  FunctionVersion fn = registry_.Prepare(def, decoded->source_ref, decoded->options);
  if (!previous || previous->fid != fn.fid) {
    // Validate by loading it once: a broken function never enters the registry.
    Status st = lanes_->Validate(fn);
    if (!st.ok()) {
      st = st.WithContext("cannot register function '" + def.name + "'");
      Log(LogLevel::kInfo, "coordinator", st.ToString());
      return ErrorReply(st);
    }
    // The previous version stays loaded: other clients may still hold Lanes for it.
    registry_.Commit(fn);
    Log(LogLevel::kInfo, "coordinator",
        "registered '" + def.name + "' version " + std::to_string(fn.version) + " (" + TypeListToString(def.arg_types) +
            ") -> " + TypeListToString(def.return_types));
  }
  json reply = OkReply();
  reply["fid"] = fn.fid;
  reply["version"] = fn.version;
  return reply;
}

json Coordinator::Status_() {
  json s = lanes_->StatusJson();
  s["ok"] = true;
  s["pid"] = getpid();
  s["socket"] = options_.socket_path;
  s["clients"] = clients_.load();
  s["uptime_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  s["python_env"] = options_.python_env;
  s["ray_address"] = options_.ray_address;
  s["ray_bridge"] = lanes_->ray_bridge_index();
  json fns = json::array();
  for (const auto& fn : registry_.List()) {
    uint64_t batches = 0, rows = 0, busy_ns = 0, errors = 0, loads = 0;
    uint64_t cache_hits = 0, cache_misses = 0, cache_bytes = 0;
    double cache_saved_s = 0;
    int warm = 0, used = 0;
    json ray = json::object();  // the bridge's view: actors, nodes, batches and rows per actor
    for (const auto& e : s["executors"]) {
      for (const auto& f : e["functions"]) {
        if (IntegerOr<uint32_t>(f, "fid", 0) != fn.fid) continue;
        if (f.contains("ray") && f["ray"].is_object()) ray = f["ray"];
        batches += IntegerOr<uint64_t>(f, "batches", 0);
        rows += IntegerOr<uint64_t>(f, "rows", 0);
        busy_ns += IntegerOr<uint64_t>(f, "busy_ns", 0);
        errors += IntegerOr<uint64_t>(f, "errors", 0);
        loads += IntegerOr<uint64_t>(f, "loads", 0);
        cache_hits += IntegerOr<uint64_t>(f, "cache_hits", 0);
        cache_misses += IntegerOr<uint64_t>(f, "cache_misses", 0);
        cache_bytes += IntegerOr<uint64_t>(f, "cache_bytes", 0);
        auto saved = Field<double>(f, "cache_saved_s");  // absent or not a number: nothing saved
        if (saved.ok()) cache_saved_s += *saved;
        warm += IntegerOr<uint64_t>(f, "loads", 0) > 0;
        used += IntegerOr<uint64_t>(f, "batches", 0) > 0;
      }
    }
    fns.push_back({{"name", fn.def.name},
                   {"version", fn.version},
                   {"fid", fn.fid},
                   {"arg_types", TypesToJson(fn.def.arg_types)},
                   {"return_types", TypesToJson(fn.def.return_types)},
                   {"null_handling", NullHandlingName(fn.def.null_handling)},
                   {"exception_handling", ExceptionHandlingName(fn.def.exception_handling)},
                   {"context_cache", fn.def.context_cache},
                   {"backend", BackendName(fn.def.backend)},
                   {"replicas", fn.def.replicas},
                   {"retries", fn.def.retries},
                   {"ray", ray},
                   {"source", fn.source_ref},
                   {"executors_loaded", warm},
                   {"executors_used", used},
                   {"loads", loads},
                   {"batches", batches},
                   {"rows", rows},
                   {"mean_batch_rows", batches ? static_cast<double>(rows) / batches : 0.0},
                   {"busy_s", busy_ns / 1e9},
                   {"errors", errors},
                   {"cache_hits", cache_hits},
                   {"cache_misses", cache_misses},
                   {"cache_bytes", cache_bytes},
                   {"cache_saved_s", cache_saved_s}});
  }
  s["functions"] = fns;
  return s;
}

json Coordinator::Dispatch(int client_id, const json& req, std::vector<int>* fds) {
  auto decoded_op = DecodeOp(req);
  if (!decoded_op.ok()) return ErrorReply(decoded_op.status());
  const std::string& op = *decoded_op;
  if (op == "hello") {
    json r = OkReply();
    r["protocol"] = kProtocolVersion;
    r["pid"] = getpid();
    r["executors"] = lanes_->executor_count();
    r["python_env"] = options_.python_env;  // a client that asked for another one refuses this coordinator
    return r;
  }
  if (op == "register") return Register(req);
  if (op == "drop") {
    auto decoded = DecodeDropRequest(req);
    if (!decoded.ok()) return ErrorReply(decoded.status().WithContext("drop"));
    const std::string& name = *decoded;
    auto fn = registry_.Find(name);
    if (!fn || !registry_.Drop(name)) return ErrorReply(Status::NotFound("no function named '" + name + "'"));
    lanes_->Forget(fn->fid);
    Log(LogLevel::kInfo, "coordinator", "dropped '" + name + "'");
    return OkReply();
  }
  if (op == "lookup") {  // a client checks that the version it holds Lanes for is still current
    auto name = DecodeLookupRequest(req);
    if (!name.ok()) return ErrorReply(name.status().WithContext("lookup"));
    auto fn = registry_.Find(*name);
    if (!fn) return ErrorReply(Status::NotFound("no function named '" + *name + "'"));
    json r = OkReply();
    r["fid"] = fn->fid;
    r["version"] = fn->version;
    return r;
  }
  if (op == "acquire") {
    auto decoded = DecodeAcquireRequest(req);
    if (!decoded.ok()) return ErrorReply(decoded.status().WithContext("acquire"));
    auto fn = registry_.Find(decoded->name);
    if (!fn) return ErrorReply(Status::NotFound("no function named '" + decoded->name + "'"));
    SchedulingRequest sr;
    sr.executors_wanted = decoded->executors;
    sr.slots_per_executor = decoded->slots_per_executor;
    auto grant = lanes_->Acquire(client_id, *fn, sr, decoded->lane_bytes);
    if (!grant.ok()) return ErrorReply(grant.status());
    json r = OkReply();
    r["fid"] = fn->fid;
    r["version"] = fn->version;
    r["arg_types"] = TypesToJson(fn->def.arg_types);
    r["return_types"] = TypesToJson(fn->def.return_types);
    r["lanes"] = grant->lanes;
    r["executors"] = grant->executors;
    *fds = grant->fds;
    return r;
  }
  if (op == "release") {
    auto ids = DecodeReleaseRequest(req);
    if (!ids.ok()) return ErrorReply(ids.status().WithContext("release"));
    lanes_->Release(client_id, *ids);
    return OkReply();
  }
  if (op == "abandon") {
    auto decoded = DecodeAbandonRequest(req);
    if (!decoded.ok()) return ErrorReply(decoded.status().WithContext("abandon"));
    lanes_->Abandon(client_id, decoded->lane_ids, decoded->reason);
    return OkReply();
  }
  if (op == "kill_executor") {
    auto decoded = DecodeKillExecutorRequest(req);
    if (!decoded.ok()) return ErrorReply(decoded.status().WithContext("kill_executor"));
    Status st = lanes_->KillExecutor(decoded->index, decoded->reason);
    return st.ok() ? OkReply() : ErrorReply(st);
  }
  if (op == "status") return Status_();
  if (op == "reset_cache") {
    auto name = DecodeResetCacheRequest(req);
    if (!name.ok()) return ErrorReply(name.status().WithContext("reset_cache"));
    json r = OkReply();
    r["dropped"] = lanes_->ResetCaches(*name);
    return r;
  }
  if (op == "shutdown") return OkReply();  // ServeClient stops once the reply is sent
  return ErrorReply(Status::ProtocolError("unknown op '" + op + "'"));
}

}  // namespace imlane
