#include "imlane/dbend/coordinator_client.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "imlane/common/messages.h"
#include "imlane/common/system.h"
#include "imlane/lane/futex.h"

extern char** environ;

namespace imlane {

namespace {

constexpr int kEmbeddedExitWaitMs = 5000;

Result<pid_t> SpawnCoordinator(const Settings& settings, const std::string& socket_path) {
  std::string binary = settings.coordinator_path.empty() ? FindCoordinatorBinary() : settings.coordinator_path;
  if (!FileExists(binary)) {
    return Status::Unavailable("no coordinator at " + socket_path + " and the coordinator binary was not found at " +
                               binary + " (set IMLANE_COORDINATOR or Settings::coordinator_path)");
  }
  std::vector<std::string> args = {binary, "serve", "--socket", socket_path, "--idle-exit-ms",
                                   std::to_string(std::max(0, settings.embedded_idle_exit_ms)), "--executors",
                                   std::to_string(std::max(0, settings.n_executors)), "--lane-bytes",
                                   std::to_string(settings.lane_bytes), "--executor-memory-mb",
                                   std::to_string(settings.executor_memory_mb),
                                   // Sharing the engine's stderr it logs warnings and errors only;
                                   // with a log file of its own, one line per event.
                                   "--log-level", settings.embedded_idle_exit_ms > 0 ? "info" : "warn"};
  if (!settings.python_env.empty()) {
    args.push_back("--python-env");
    args.push_back(settings.python_env);
  }
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // The engine's stdin and stdout are not the coordinator's: a reader of the engine's stdout must
  // see EOF when the engine exits, not when a shared coordinator (or its executors) does.
  const int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0) return Status::FromErrno("open /dev/null", errno);
  // A coordinator that stays after its last client (embedded_idle_exit_ms > 0) outlives this
  // process, so neither may its stderr be ours: `imlane-duckdb ... 2>&1 | cat` would wait for the
  // grace period. It writes to <socket>.log instead.
  int err_fd = -1;
  if (settings.embedded_idle_exit_ms > 0) {
    err_fd = open((socket_path + ".log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (err_fd < 0) err_fd = dup(null_fd);
  }
  pid_t pid = fork();
  if (pid < 0) {
    close(null_fd);
    if (err_fd >= 0) close(err_fd);
    return Status::FromErrno("fork", errno);
  }
  if (pid == 0) {
    // Own session: a Ctrl-C meant for the engine's terminal must not reach the shared coordinator.
    setsid();
    if (dup2(null_fd, 0) < 0 || dup2(null_fd, 1) < 0) _exit(126);
    if (err_fd >= 0 && dup2(err_fd, 2) < 0) _exit(126);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    // None of the engine's descriptors (a PostgreSQL backend's client socket and data files, say)
    // may live on in the shared coordinator, which outlives the engine process.
    syscall(SYS_close_range, 3u, ~0u, 0u);
    execve(argv[0], argv.data(), environ);
    _exit(127);
  }
  close(null_fd);
  if (err_fd >= 0) close(err_fd);
  return pid;
}

}  // namespace

std::string FindCoordinatorBinary() {
  if (const char* env = std::getenv("IMLANE_COORDINATOR"); env != nullptr && *env) return env;
  const std::string lib_dir = ModuleDirectory(reinterpret_cast<const void*>(&FindCoordinatorBinary));
  // The last one: imlane.duckdb_extension in <prefix>/lib/duckdb/extensions/.
  for (const char* rel : {"/../bin/imlane", "/../../bin/imlane", "/imlane", "/../../../bin/imlane"}) {
    if (FileExists(lib_dir + rel)) return lib_dir + rel;
  }
  return lib_dir + "/../bin/imlane";
}

Result<std::unique_ptr<CoordinatorClient>> CoordinatorClient::Connect(const Settings& settings) {
  auto client = std::unique_ptr<CoordinatorClient>(new CoordinatorClient());
  client->reap_on_close_ = settings.embedded_idle_exit_ms <= 0;
  client->socket_path_ = settings.socket_path.empty() ? DefaultSocketPath() : settings.socket_path;
  auto sock = ConnectUnix(client->socket_path_);
  if (!sock.ok() && sock.status().code() == StatusCode::kUnavailable && settings.start_embedded) {
    IMLANE_RETURN_NOT_OK(PrepareSocketDirectory(client->socket_path_));
    IMLANE_ASSIGN_OR_RETURN(client->embedded_pid_, SpawnCoordinator(settings, client->socket_path_));
    const int64_t deadline = MonotonicNanos() + static_cast<int64_t>(settings.connect_timeout_ms) * 1000000;
    int64_t failed_at = 0;  // when our coordinator exited with an error
    int exit_status = 0;
    while (true) {
      sock = ConnectUnix(client->socket_path_);
      if (sock.ok()) break;
      int ws = 0;
      if (client->embedded_pid_ > 0 && waitpid(client->embedded_pid_, &ws, WNOHANG) == client->embedded_pid_) {
        // It exited: usually another process started a coordinator first, so keep trying to connect
        // for a moment; if none answers, it exited because it could not start (bad option).
        client->embedded_pid_ = -1;
        exit_status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
        if (exit_status == kExitSocketTaken) {
          // Another coordinator holds the socket: it answers soon, or it was exiting (idle) and
          // we start ours again once it is gone.
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          if (!ConnectUnix(client->socket_path_).ok()) {
            IMLANE_ASSIGN_OR_RETURN(client->embedded_pid_, SpawnCoordinator(settings, client->socket_path_));
          }
          continue;
        }
        if (exit_status != 0) failed_at = MonotonicNanos();
      }
      if (failed_at > 0 && MonotonicNanos() - failed_at > 500 * 1000000LL) {
        return Status::Unavailable("the coordinator IMLane started (" + settings.coordinator_path +
                                   (settings.coordinator_path.empty() ? FindCoordinatorBinary() : "") +
                                   " serve) exited with status " + std::to_string(exit_status) +
                                   " before listening on " + client->socket_path_ + "; its error is on stderr");
      }
      if (MonotonicNanos() > deadline) {
        if (client->embedded_pid_ > 0) kill(client->embedded_pid_, SIGTERM);
        return Status::Unavailable("started a coordinator but could not connect to " + client->socket_path_ +
                                   " within " + std::to_string(settings.connect_timeout_ms) + " ms");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  if (!sock.ok()) return sock.status();
  client->sock_ = sock.MoveValue();
  json reply;
  IMLANE_RETURN_NOT_OK(client->Call(json{{"op", "hello"}, {"pid", getpid()}}, &reply, nullptr, 10000));
  IMLANE_ASSIGN_OR_RETURN(HelloReply hello, DecodeHelloReply(reply));
  const int protocol = hello.protocol;
  if (protocol != kProtocolVersion) {
    return Status::ProtocolError("coordinator speaks protocol ", protocol, ", this library ", kProtocolVersion);
  }
  if (!settings.python_env.empty()) {
    // A coordinator that was already running serves its own virtualenv: the setting cannot take
    // effect, and functions would fail to import what the user expects them to.
    char resolved[PATH_MAX];
    const std::string want = realpath(settings.python_env.c_str(), resolved) ? resolved : settings.python_env;
    const std::string& have = hello.python_env;
    if (have != want) {
      return Status::InvalidArgument(
          "python env '" + settings.python_env + "' cannot take effect: the coordinator at " + client->socket_path_ +
          " already runs with " + (have.empty() ? std::string("the system Python only") : "'" + have + "'") +
          " (stop it with `imlane stop`, or choose another socket)");
    }
  }
  return client;
}

CoordinatorClient::~CoordinatorClient() {
  sock_.Reset();  // the coordinator reclaims this client's Lanes
  if (embedded_pid_ <= 0 || !reap_on_close_) return;
  // The embedded coordinator exits once idle; reap it if that happens soon (other clients may keep
  // it alive, in which case init reaps it later).
  const int64_t deadline = MonotonicNanos() + static_cast<int64_t>(kEmbeddedExitWaitMs) * 1000000;
  while (MonotonicNanos() < deadline) {
    int ws = 0;
    pid_t r = waitpid(embedded_pid_, &ws, WNOHANG);
    if (r == embedded_pid_ || (r < 0 && errno == ECHILD)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

bool CoordinatorClient::Alive() const {
  if (!sock_.valid()) return false;
  char byte;
  ssize_t r = recv(sock_.get(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return r > 0 || (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR));
}

Result<RegisteredVersion> CoordinatorClient::Register(const FunctionDefinition& def, const std::string& source_ref) {
  json req = {{"op", "register"},
              {"name", def.name},
              {"filename", def.filename},
              {"source_ref", source_ref},
              {"entry", def.entry},
              {"arg_types", TypesToJson(def.arg_types)},
              {"return_types", TypesToJson(def.return_types)}};
  SourceToJson(def.source, &req);
  FunctionOptionsToJson(def, &req);
  json reply;
  IMLANE_RETURN_NOT_OK(Call(req, &reply));
  IMLANE_ASSIGN_OR_RETURN(RegisterReply decoded, DecodeRegisterReply(reply));
  RegisteredVersion out;
  out.fid = decoded.fid;
  out.version = decoded.version;
  return out;
}

Result<RegisteredVersion> CoordinatorClient::Lookup(const std::string& name) {
  json reply;
  IMLANE_RETURN_NOT_OK(Call(json{{"op", "lookup"}, {"name", name}}, &reply));
  IMLANE_ASSIGN_OR_RETURN(RegisterReply decoded, DecodeRegisterReply(reply));
  RegisteredVersion out;
  out.fid = decoded.fid;
  out.version = decoded.version;
  return out;
}

Status CoordinatorClient::Drop(const std::string& name) {
  json reply;
  return Call(json{{"op", "drop"}, {"name", name}}, &reply);
}

Result<LaneGrant> CoordinatorClient::Acquire(const std::string& name, int executors, int slots_per_executor,
                                             size_t lane_bytes) {
  json req = {{"op", "acquire"},
              {"name", name},
              {"executors", executors},
              {"slots_per_executor", slots_per_executor},
              {"lane_bytes", lane_bytes}};
  json reply;
  std::vector<UniqueFd> fds;
  IMLANE_RETURN_NOT_OK(Call(req, &reply, &fds));
  IMLANE_ASSIGN_OR_RETURN(AcquireReply decoded, DecodeAcquireReply(reply));
  LaneGrant grant;
  grant.fid = decoded.fid;
  grant.version = decoded.version;
  grant.arg_types = decoded.arg_types;
  grant.return_types = decoded.return_types;
  // Descriptors: the Lanes in the order of `lanes`, then one bell per executor.
  if (fds.size() != decoded.lanes.size() + decoded.executors.size()) {
    return Status::ProtocolError("coordinator sent ", fds.size(), " descriptors for ", decoded.lanes.size(),
                                 " Lanes and ", decoded.executors.size(), " executors");
  }
  for (size_t i = 0; i < decoded.lanes.size(); i++) {
    LaneGrant::GrantedLane g;
    g.lane_id = decoded.lanes[i].lane_id;
    g.executor = decoded.lanes[i].executor;
    IMLANE_ASSIGN_OR_RETURN(g.lane, Lane::Attach(fds[i].Release()));
    g.lane.CloseFd();  // the mapping is all a client needs
    grant.lanes.push_back(std::move(g));
  }
  for (size_t i = 0; i < decoded.executors.size(); i++) {
    LaneGrant::GrantedExecutor e;
    e.index = decoded.executors[i];
    e.bell = std::move(fds[decoded.lanes.size() + i]);
    grant.executors.push_back(std::move(e));
  }
  return grant;
}

Status CoordinatorClient::Release(const std::vector<uint64_t>& lane_ids) {
  json reply;
  return Call(json{{"op", "release"}, {"lane_ids", lane_ids}}, &reply);
}

Status CoordinatorClient::KillExecutor(int index, const std::string& reason) {
  json reply;
  return Call(json{{"op", "kill_executor"}, {"index", index}, {"reason", reason}}, &reply);
}

void CoordinatorClient::Abandon(const std::vector<uint64_t>& lane_ids, const std::string& reason) {
  json request{{"op", "abandon"}, {"lane_ids", lane_ids}, {"reason", reason}};
  std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
  if (!lock.owns_lock()) {
    std::lock_guard<std::mutex> pending(pending_mu_);
    pending_abandon_.push_back(std::move(request));
    return;
  }
  if (!sock_.valid()) return;
  json reply;
  CallJson(sock_.get(), request, &reply, nullptr, 10000).IgnoreError();  // best effort
}

Result<int> CoordinatorClient::ResetCache(const std::string& name) {
  json reply;
  IMLANE_RETURN_NOT_OK(Call(json{{"op", "reset_cache"}, {"name", name}}, &reply));
  return DecodeResetCacheReply(reply);
}

Result<std::string> CoordinatorClient::StatusDocument() {
  json reply;
  IMLANE_RETURN_NOT_OK(Call(json{{"op", "status"}}, &reply));
  // Engines read the functions of this document: only a well-formed one reaches them.
  auto functions = DecodeStatusFunctions(reply);
  if (!functions.ok()) return functions.status().WithContext("coordinator status");
  reply.erase("ok");
  return reply.dump();
}

Status CoordinatorClient::Call(const json& request, json* reply, std::vector<UniqueFd>* fds, int timeout_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!sock_.valid()) return Status::Unavailable("not connected to the coordinator");
  std::vector<json> abandon;
  {
    std::lock_guard<std::mutex> pending(pending_mu_);
    abandon.swap(pending_abandon_);
  }
  for (const json& a : abandon) {
    json ignored;
    CallJson(sock_.get(), a, &ignored, nullptr, timeout_ms).IgnoreError();  // best effort, as Abandon
  }
  Status st = CallJson(sock_.get(), request, reply, fds, timeout_ms);
  if (st.code() == StatusCode::kUnavailable) return Status::Unavailable("the coordinator went away: " + st.message());
  return st;
}

}  // namespace imlane
