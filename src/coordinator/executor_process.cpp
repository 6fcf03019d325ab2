#include "imlane/coordinator/executor_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <thread>

#include "imlane/common/messages.h"
#include "imlane/common/system.h"
#include "imlane/lane/futex.h"

extern char** environ;

namespace imlane {

std::string DescribeExit(int wait_status) {
  if (WIFEXITED(wait_status)) return "exited with code " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    int sig = WTERMSIG(wait_status);
    return "killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  return "stopped (status " + std::to_string(wait_status) + ")";
}

std::vector<std::string> ExecutorEnvironment(char** env) {
  // Variables that would change how the embedded interpreter or the loader behaves behind the
  // function's back, and credentials a model has no business reading.
  static const char* kDropExact[] = {"PYTHONHOME", "PYTHONSTARTUP", "PYTHONINSPECT", "PYTHONEXECUTABLE",
                                     "LD_PRELOAD", "LD_AUDIT",      "IMLANE_SOCKET"};
  static const char* kDropContaining[] = {"PASSWORD", "SECRET", "TOKEN", "CREDENTIAL", "PRIVATE_KEY"};
  std::vector<std::string> out;
  for (char** e = env; e != nullptr && *e != nullptr; e++) {
    std::string entry = *e;
    std::string name = entry.substr(0, entry.find('='));
    std::string upper = name;
    for (auto& c : upper) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
    bool drop = false;
    for (const char* d : kDropExact) drop = drop || name == d;
    for (const char* d : kDropContaining) drop = drop || upper.find(d) != std::string::npos;
    if (!drop) out.push_back(entry);
  }
  return out;
}

Result<std::unique_ptr<ExecutorProcess>> ExecutorProcess::Spawn(int index, const CoordinatorOptions& options,
                                                                const SharedRegion& bell,
                                                                std::atomic<pid_t>* started_pid) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return Status::FromErrno("socketpair", errno);
  UniqueFd parent_end(sv[0]), child_end(sv[1]);
  reinterpret_cast<ExecutorBell*>(bell.data())->ResetForNewExecutor();

  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  std::vector<std::string> args = {options.executor_path,
                                   "--control-fd",
                                   "3",
                                   "--bell-fd",
                                   "4",
                                   "--index",
                                   std::to_string(index),
                                   "--runtime-dir",
                                   options.runtime_dir,
                                   "--spin-us",
                                   std::to_string(options.spin_us),
                                   "--context-cache-mb",
                                   std::to_string(options.context_cache_mb),
                                   "--log-level",
                                   options.log_level};
  if (options.executor_memory_mb > 0) {
    args.push_back("--memory-budget-mb");
    args.push_back(std::to_string(options.executor_memory_mb));
  }
  if (!options.ray_address.empty()) {
    args.push_back("--ray-address");
    args.push_back(options.ray_address);
  }
  if (!options.python_env.empty()) {
    args.push_back("--python-env");
    args.push_back(options.python_env);
  }
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = ExecutorEnvironment(environ);
  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  rlimit cpu_limit{RLIM_INFINITY, RLIM_INFINITY}, files_limit{RLIM_INFINITY, RLIM_INFINITY};
  if (options.executor_cpu_seconds > 0) {
    cpu_limit.rlim_cur = static_cast<rlim_t>(options.executor_cpu_seconds);
    cpu_limit.rlim_max = cpu_limit.rlim_cur + 1;  // SIGXCPU first, SIGKILL a second later
  }
  if (options.executor_max_files > 0) files_limit.rlim_cur = files_limit.rlim_max = options.executor_max_files;
  const pid_t parent = getpid();
  rlimit memory_limit{RLIM_INFINITY, RLIM_INFINITY};
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer reserves terabytes of address space for its shadow memory, so an RLIMIT_AS
  // would stop the executor from starting: sanitized builds (make test's second pass) run without it.
  constexpr bool kAddressLimitPossible = false;
#else
  constexpr bool kAddressLimitPossible = true;
#endif
  if (kAddressLimitPossible && options.executor_memory_mb > 0) {
    // The soft limit is the function's budget; the executor raises it by each Lane it maps (and
    // lowers it again), so Lanes of other clients never eat into that budget. The hard limit leaves
    // room for every Lane the coordinator may create, plus a margin for the bell and mapping slack.
    memory_limit.rlim_cur = static_cast<rlim_t>(options.executor_memory_mb) << 20;
    memory_limit.rlim_max =
        memory_limit.rlim_cur + (static_cast<rlim_t>(std::max<int64_t>(0, options.lane_memory_mb)) << 20) + (64u << 20);
  }
  const int control_fd = child_end.get(), bell_fd = bell.fd();
  // Prepared before fork: the executor gets no stdin and never the engine's stdout (a child a UDF
  // starts would otherwise hold an engine's stdout pipe open); stderr stays, it is the log.
  UniqueFd dev_null(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!dev_null.valid()) return Status::FromErrno("open /dev/null", errno);
  const int null_fd = dev_null.get();

  pid_t pid = fork();
  if (pid < 0) return Status::FromErrno("fork", errno);
  if (pid == 0) {
    // Die with the coordinator. The parent is the thread that forked: only long-lived threads spawn.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(120);
    // Its own process group: what a UDF starts can be killed with it (the executor's group guard,
    // Signal()), and signals meant for the coordinator's group do not reach it.
    setpgid(0, 0);
    int c = fcntl(control_fd, F_DUPFD, 100), b = fcntl(bell_fd, F_DUPFD, 100);
    if (c < 0 || b < 0 || dup2(c, 3) < 0 || dup2(b, 4) < 0) _exit(121);
    if (dup2(null_fd, 0) < 0 || dup2(null_fd, 1) < 0) _exit(122);
    syscall(SYS_close_range, 5u, ~0u, 0u);  // no other descriptor of the coordinator leaks in
    if (memory_limit.rlim_cur != RLIM_INFINITY) setrlimit(RLIMIT_AS, &memory_limit);
    if (cpu_limit.rlim_cur != RLIM_INFINITY) setrlimit(RLIMIT_CPU, &cpu_limit);
    if (files_limit.rlim_cur != RLIM_INFINITY) setrlimit(RLIMIT_NOFILE, &files_limit);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  child_end.Reset();
  if (started_pid != nullptr) started_pid->store(pid);  // the caller clears it once it tracks the process
  auto proc = std::unique_ptr<ExecutorProcess>(new ExecutorProcess());
  proc->index_ = index;
  proc->pid_ = pid;
  proc->control_ = std::move(parent_end);
  proc->bell_ = reinterpret_cast<ExecutorBell*>(bell.data());

  json ready;
  std::vector<UniqueFd> fds;
  Status st = RecvJson(proc->control_.get(), &ready, &fds, options.spawn_timeout_ms);
  if (st.ok()) st = DecodeReadyMessage(ready).status();
  if (!st.ok()) {
    kill(pid, SIGKILL);
    int ws = 0;
    std::string how = waitpid(pid, &ws, 0) == pid ? DescribeExit(ws) : "did not start";
    proc->pid_ = -1;  // reaped here
    return Status::Unavailable("executor " + std::to_string(index) + " (" + options.executor_path +
                               ") failed to start: " + how + (st.ok() ? "" : "; " + st.message()));
  }
  return proc;
}

ExecutorProcess::~ExecutorProcess() = default;

namespace {
constexpr size_t kMaxExecutorReplyBytes = 8u << 20;
constexpr int kExecutorMessageMs = 10000;  // a reply, once begun, arrives whole within this
}  // namespace

Status ExecutorProcess::Call(const json& request, json* reply, int timeout_ms, const std::vector<int>& fds) {
  const std::string who = "executor " + std::to_string(index_) + " (pid " + std::to_string(pid_) + ")";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
  std::unique_lock<std::mutex> lock(rpc_mu_);
  if (!broken_.ok()) return broken_.WithContext(who);
  const uint64_t id = next_id_++;
  waiting_.insert(id);
  json req = request;
  req["id"] = id;
  lock.unlock();
  Status sent;
  {
    std::lock_guard<std::mutex> send_lock(send_mu_);
    sent = SendJson(control_.get(), req, fds);
  }
  // The executor reads control messages between batches; the bell wakes it if it sleeps.
  if (sent.ok()) bell()->RequestControl();
  lock.lock();
  if (!sent.ok()) {
    waiting_.erase(id);
    return sent.WithContext(who);
  }
  while (true) {
    auto it = replies_.find(id);
    if (it != replies_.end()) {
      *reply = std::move(it->second);
      replies_.erase(it);
      waiting_.erase(id);
      return ReplyStatus(*reply);
    }
    if (!broken_.ok()) {
      waiting_.erase(id);
      return broken_.WithContext(who);
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      // Its reply, if it ever comes, is recognised by its id and dropped.
      waiting_.erase(id);
      return Status::TimedOut(who + ": no reply to '" + request.value("op", std::string("?")) + "' within " +
                              std::to_string(timeout_ms) + " ms");
    }
    if (reading_) {
      rpc_cv_.wait_until(lock, deadline);
      continue;
    }
    // Nobody reads: this caller does, for everybody, until its own deadline.
    reading_ = true;
    lock.unlock();
    const int left_ms = static_cast<int>(
        std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count()));
    json msg;
    std::vector<UniqueFd> ignored;
    // Wait for the first byte with this caller's time left; once a message has begun, the whole of
    // it must follow within kExecutorMessageMs, or the channel is out of step for good (broken).
    pollfd p{control_.get(), POLLIN, 0};
    int ready = poll(&p, 1, left_ms);
    Status got = ready == 0 ? Status::TimedOut("no reply yet") : Status::OK();
    if (ready < 0) got = errno == EINTR ? Status::TimedOut("interrupted") : Status::FromErrno("poll", errno);
    if (ready > 0) {
      // An executor runs user code: its replies (stats, errors with tracebacks) are bounded too.
      RecvLimits limits;
      limits.max_bytes = kMaxExecutorReplyBytes;
      limits.message_timeout_ms = kExecutorMessageMs;
      limits.peer = "an executor";
      got = RecvJson(control_.get(), &msg, &ignored, kExecutorMessageMs, limits);
      if (got.code() == StatusCode::kTimedOut) got = Status::ProtocolError(got.message());
    }
    lock.lock();
    reading_ = false;
    if (got.ok()) {
      const std::optional<uint64_t> reply_id =
          msg.contains("id") ? CheckedInteger<uint64_t>(msg["id"]) : std::optional<uint64_t>();
      if (reply_id && waiting_.count(*reply_id)) replies_[*reply_id] = std::move(msg);
    } else if (got.code() != StatusCode::kTimedOut) {
      broken_ =
          got.code() == StatusCode::kUnavailable ? Status::Unavailable("the executor's control channel closed") : got;
    }
    rpc_cv_.notify_all();
  }
}

void ExecutorProcess::Signal(int sig) {
  if (pid_ <= 0) return;
  // A kill takes the executor's process group (its own, see Spawn): the children its functions
  // started go with it. Other signals are for the executor alone.
  if (sig == SIGKILL && killpg(pid_, sig) == 0) return;
  kill(pid_, sig);
}

void ExecutorProcess::Shutdown(int grace_ms) {
  if (pid_ <= 0) return;
  {
    std::unique_lock<std::mutex> lock(send_mu_, std::try_to_lock);
    if (lock.owns_lock()) {
      SendJson(control_.get(), json{{"op", "shutdown"}}).IgnoreError();  // EOF below says the same
      bell()->RequestControl();
    }
  }
  // EOF also tells the executor to go. shutdown(), not close(): it also wakes a caller blocked
  // reading this socket, and the descriptor cannot be reused under it.
  ::shutdown(control_.get(), SHUT_RDWR);
  const int64_t deadline = MonotonicNanos() + static_cast<int64_t>(grace_ms) * 1000000;
  while (MonotonicNanos() < deadline) {
    if (kill(pid_, 0) != 0) return;
    // The supervisor reaps; a zombie still answers kill(pid, 0), so peek without reaping.
    siginfo_t info{};
    if (waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid_) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Signal(SIGKILL);
}

}  // namespace imlane
