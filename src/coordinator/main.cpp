// imlane: the IMLane coordinator daemon and its command-line client.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "imlane/common/log.h"
#include "imlane/common/messages.h"
#include "imlane/common/protocol.h"
#include "imlane/common/python_env.h"
#include "imlane/common/system.h"
#include "imlane/coordinator/coordinator.h"

using namespace imlane;

namespace {

Coordinator* g_coordinator = nullptr;

void OnSignal(int) {
  if (g_coordinator) g_coordinator->RequestStop();
}

int Fail(const Status& st) {
  std::cerr << "imlane: " << st.message() << "\n";
  return 1;
}

// One request to a running coordinator.
Status Ask(const std::string& socket, const json& request, json* reply) {
  IMLANE_ASSIGN_OR_RETURN(UniqueFd sock, ConnectUnix(socket));
  return CallJson(sock.get(), request, reply, nullptr, 30000);
}

// The status document, decoded field by field (a coordinator of another version, or a bad one,
// gets a clear error instead of an exception).
struct StatusHeader {
  int64_t pid = 0, clients = 0;
  std::string socket, python_env;
  double uptime_s = 0;
};

Status PrintStatus(const json& s) {
  StatusHeader h;
  IMLANE_ASSIGN_OR_RETURN(h.pid, OptionalField<int64_t>(s, "pid", 0));
  IMLANE_ASSIGN_OR_RETURN(h.socket, OptionalField<std::string>(s, "socket", std::string()));
  IMLANE_ASSIGN_OR_RETURN(h.uptime_s, OptionalField<double>(s, "uptime_s", 0));
  IMLANE_ASSIGN_OR_RETURN(h.clients, OptionalField<int64_t>(s, "clients", 0));
  IMLANE_ASSIGN_OR_RETURN(h.python_env, OptionalField<std::string>(s, "python_env", std::string()));
  IMLANE_ASSIGN_OR_RETURN(json executors, OptionalArrayField(s, "executors"));
  IMLANE_ASSIGN_OR_RETURN(std::vector<FunctionStatus> functions, DecodeStatusFunctions(s));
  IMLANE_ASSIGN_OR_RETURN(json lanes, OptionalObjectField(s, "lanes"));
  std::printf("coordinator pid %lld on %s, up %.1f s, %lld client(s)\n", static_cast<long long>(h.pid),
              h.socket.c_str(), h.uptime_s, static_cast<long long>(h.clients));
  std::printf("python env: %s\n", h.python_env.empty() ? "(system Python only)" : h.python_env.c_str());
  std::printf("\nexecutors:\n  %-5s %-8s %-10s %-6s %-8s %s\n", "index", "pid", "state", "lanes", "restarts",
              "last exit");
  for (const auto& e : executors) {
    IMLANE_ASSIGN_OR_RETURN(int64_t index, OptionalField<int64_t>(e, "index", 0));
    IMLANE_ASSIGN_OR_RETURN(int64_t pid, OptionalField<int64_t>(e, "pid", 0));
    IMLANE_ASSIGN_OR_RETURN(std::string state, OptionalField<std::string>(e, "state", std::string()));
    IMLANE_ASSIGN_OR_RETURN(int64_t n_lanes, OptionalField<int64_t>(e, "lanes", 0));
    IMLANE_ASSIGN_OR_RETURN(int64_t restarts, OptionalField<int64_t>(e, "restarts", 0));
    IMLANE_ASSIGN_OR_RETURN(std::string last_exit, OptionalField<std::string>(e, "last_exit", std::string()));
    std::printf("  %-5lld %-8lld %-10s %-6lld %-8lld %s\n", static_cast<long long>(index), static_cast<long long>(pid),
                state.c_str(), static_cast<long long>(n_lanes), static_cast<long long>(restarts), last_exit.c_str());
  }
  std::printf("\nfunctions:\n  %-20s %-4s %-32s %-10s %-10s %-12s %-10s %s\n", "name", "ver", "signature", "batches",
              "rows", "mean batch", "busy s", "source");
  for (const auto& f : functions) {
    std::string sig = "(";
    for (size_t i = 0; i < f.arg_types.size(); i++) sig += (i ? ", " : "") + f.arg_types[i];
    sig += ") -> ";
    for (size_t i = 0; i < f.return_types.size(); i++) sig += (i ? ", " : "") + f.return_types[i];
    std::printf("  %-20s %-4u %-32s %-10lld %-10lld %-12.1f %-10.3f %s\n", f.name.c_str(), f.version, sig.c_str(),
                static_cast<long long>(f.batches), static_cast<long long>(f.rows), f.mean_batch_rows, f.busy_s,
                f.source.c_str());
  }
  IMLANE_ASSIGN_OR_RETURN(uint64_t total, OptionalField<uint64_t>(lanes, "total", 0));
  IMLANE_ASSIGN_OR_RETURN(uint64_t in_use, OptionalField<uint64_t>(lanes, "in_use", 0));
  IMLANE_ASSIGN_OR_RETURN(uint64_t bytes, OptionalField<uint64_t>(lanes, "bytes", 0));
  IMLANE_ASSIGN_OR_RETURN(uint64_t cap, OptionalField<uint64_t>(lanes, "cap_bytes", 0));
  IMLANE_ASSIGN_OR_RETURN(uint64_t client_cap, OptionalField<uint64_t>(lanes, "client_cap_bytes", 0));
  IMLANE_ASSIGN_OR_RETURN(uint64_t max_lane, OptionalField<uint64_t>(lanes, "max_lane_bytes", 0));
  std::printf(
      "\nlanes: %llu total, %llu in use, %.1f MiB of shared memory (caps: %.0f MiB in all, %.0f MiB per client, "
      "%.0f MiB per Lane)\n",
      static_cast<unsigned long long>(total), static_cast<unsigned long long>(in_use), bytes / 1048576.0,
      cap / 1048576.0, client_cap / 1048576.0, max_lane / 1048576.0);
  return Status::OK();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "imlane: the IMLane coordinator.\n\n"
      "The coordinator owns the executor processes (each one embedded Python interpreter) and the\n"
      "shared-memory Lanes through which database engines hand batches to AI functions. Engines that\n"
      "link the DBEnd library start one automatically when none runs; start one by hand with\n"
      "`imlane serve` to share warm models across processes. Every subcommand takes --socket\n"
      "(default: $IMLANE_SOCKET, else $XDG_RUNTIME_DIR/imlane/imlane.sock, else /tmp/imlane-<uid>/imlane.sock)."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("imlane ") + IMLANE_VERSION);
  std::string socket = DefaultSocketPath();

  CoordinatorOptions opt;
  auto* serve = app.add_subcommand("serve", "run the coordinator in the foreground (Ctrl-C or `imlane stop` ends it)");
  serve->add_option("--socket", socket, "Unix socket to listen on (created 0600 in a 0700 directory)");
  serve->add_option("--executors", opt.executors, "executor processes; 0 = usable cores (affinity, cgroup quota)")
      ->check(CLI::Range(0, 256));
  serve->add_option("--lane-bytes", opt.lane_bytes, "default size of one Lane (shared memory per in-flight batch)")
      ->default_val(opt.lane_bytes);
  serve->add_option("--max-lanes", opt.max_lanes, "most Lanes held at once across all clients")
      ->default_val(opt.max_lanes);
  serve
      ->add_option("--lane-memory-mb", opt.lane_memory_mb,
                   "cap on the shared memory of all Lanes (in use and pooled), MiB; 0 = RAM / 4")
      ->default_val(opt.lane_memory_mb);
  serve
      ->add_option("--client-lane-memory-mb", opt.client_lane_memory_mb,
                   "cap on the Lanes one client holds, MiB; 0 = half of --lane-memory-mb")
      ->default_val(opt.client_lane_memory_mb);
  serve
      ->add_option("--max-lane-bytes", opt.max_lane_bytes,
                   "largest Lane a client may ask for, bytes; 0 = 1 GiB or the per-client cap if smaller")
      ->default_val(opt.max_lane_bytes);
  serve
      ->add_option("--max-slots-per-executor", opt.max_slots_per_executor,
                   "most Lanes per executor one request may ask for")
      ->default_val(opt.max_slots_per_executor)
      ->check(CLI::Range(1, 1024));
  serve
      ->add_option("--lane-idle-ms", opt.lane_idle_ms,
                   "a pooled (released) Lane unused this long is returned to the system; -1 = kept until exit")
      ->default_val(opt.lane_idle_ms);
  serve
      ->add_option("--lane-pool-mb", opt.lane_pool_mb,
                   "pooled Lanes kept at most, MiB (oldest returned to the system first); -1 = a quarter of "
                   "--lane-memory-mb")
      ->default_val(opt.lane_pool_mb);
  serve->add_option("--max-connections", opt.max_connections, "most control connections open at once, all peers")
      ->default_val(opt.max_connections)
      ->check(CLI::Range(1, 65536));
  serve
      ->add_option("--max-connections-per-process", opt.max_connections_per_process,
                   "most control connections from one peer process")
      ->default_val(opt.max_connections_per_process)
      ->check(CLI::Range(1, 65536));
  serve->add_option("--max-connections-per-uid", opt.max_connections_per_uid, "most control connections from one user")
      ->default_val(opt.max_connections_per_uid)
      ->check(CLI::Range(1, 65536));
  serve
      ->add_option("--max-message-bytes", opt.max_message_bytes,
                   "largest control message a client may send (a register carries the function's source)")
      ->default_val(opt.max_message_bytes)
      ->check(CLI::Range(size_t{4096}, kMaxMessageBytes));
  serve
      ->add_option("--message-timeout-ms", opt.message_timeout_ms,
                   "a control message must arrive whole this long after its first byte (a half-sent one is "
                   "dropped with its connection)")
      ->default_val(opt.message_timeout_ms)
      ->check(CLI::Range(1, 3600000));
  std::string log_level = "info";
  serve
      ->add_option("--log-level", log_level,
                   "lowest level logged to stderr: debug, info (one line per client, registration, drop, "
                   "executor restart), warn or error; IMLANE_LOG=debug overrides")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  serve->add_option("--idle-exit-ms", opt.idle_exit_ms,
                    "exit this long after the last client disconnects; -1 = never (default)");
  serve->add_option("--load-timeout-ms", opt.load_timeout_ms, "time allowed for a function's one-off setup")
      ->default_val(opt.load_timeout_ms);
  serve->add_option("--spin-us", opt.spin_us, "executor busy-wait after a batch before sleeping (microseconds)")
      ->default_val(opt.spin_us);
  serve
      ->add_option("--executor-memory-mb", opt.executor_memory_mb,
                   "memory budget per executor in MiB, enforced as its address-space limit plus the Lanes "
                   "mapped into it (a leaking function gets MemoryError); 0 = (RAM / 2 - --lane-memory-mb) / "
                   "executors, at least 2048; -1 = no limit")
      ->default_val(opt.executor_memory_mb);
  serve
      ->add_option("--context-cache-mb", opt.context_cache_mb,
                   "per executor, MiB of model files whose loaded objects are kept for holistic UDFs (least "
                   "recently used evicted); -1 = half of --executor-memory-mb, 0 = no cache")
      ->default_val(opt.context_cache_mb);
  serve
      ->add_option("--executor-cpu-seconds", opt.executor_cpu_seconds,
                   "CPU-time limit of each executor process over its life (RLIMIT_CPU); 0 = none")
      ->default_val(opt.executor_cpu_seconds);
  serve
      ->add_option("--executor-max-files", opt.executor_max_files,
                   "open-file limit of each executor (RLIMIT_NOFILE); 0 = inherited")
      ->default_val(opt.executor_max_files);
  serve
      ->add_option("--python-env", opt.python_env,
                   "virtualenv (of the embedded Python's version) whose site-packages the executors import "
                   "first, e.g. a project's .venv with its model libraries; default: the system Python's only")
      ->envname("IMLANE_PYTHON_ENV");
  serve
      ->add_option("--ray-address", opt.ray_address,
                   "a Ray cluster (HOST:PORT of its head, 'auto' for the one started on this machine, or "
                   "ray://HOST:PORT) for functions registered with backend 'ray' or 'both'; an extra executor, "
                   "the Ray bridge, serves them. Needs --python-env with Ray (requirements/ray.txt)")
      ->envname("IMLANE_RAY_ADDRESS");
  serve
      ->add_option("--ray-slots-per-replica", opt.ray_slots_per_replica,
                   "Lanes of a client per Ray actor: batches in flight per actor")
      ->default_val(opt.ray_slots_per_replica)
      ->check(CLI::Range(1, 8));
  serve->add_option("--executor-path", opt.executor_path, "imlane-executor binary (default: next to imlane)");
  serve->add_option("--runtime-dir", opt.runtime_dir,
                    "directory holding the imlane Python package (default: ../share/imlane/python)");

  bool as_json = false;
  auto* status = app.add_subcommand("status", "show executors, functions, Lanes and per-function counters");
  status->add_option("--socket", socket, "coordinator socket");
  status->add_flag("--json", as_json, "print one JSON object");

  auto* stop = app.add_subcommand("stop", "stop a running coordinator and its executors");
  stop->add_option("--socket", socket, "coordinator socket");

  std::string name, source, args, returns, entry;
  auto* reg = app.add_subcommand("register", "register (or replace) an AI function from a Python file");
  reg->add_option("--socket", socket, "coordinator socket");
  reg->add_option("name", name, "SQL name of the function")->required();
  reg->add_option("file", source, "Python file (IMBridge pyinitial/pyfun style, or a class with __call__)")
      ->required()
      ->check(CLI::ExistingFile);
  reg->add_option("--args", args, "argument types, e.g. \"DOUBLE, DOUBLE, VARCHAR\"")->required();
  reg->add_option("--returns", returns, "return type(s), e.g. INTEGER")->required();
  reg->add_option("--entry", entry, "object in the file to call (default: pyfun, a marked class, or NAME)");

  auto* drop = app.add_subcommand("drop", "remove an AI function");
  drop->add_option("--socket", socket, "coordinator socket");
  drop->add_option("name", name, "function name")->required();

  CLI11_PARSE(app, argc, argv);

  if (*serve) {
    LogLevel level = LogLevel::kInfo;
    ParseLogLevel(log_level, &level);  // checked by CLI11 above
    SetLogLevel(level);
    opt.log_level = log_level;
    opt.socket_path = socket;
    const std::string dir = ExecutableDirectory();
    if (opt.executor_path.empty()) opt.executor_path = dir + "/imlane-executor";
    if (opt.runtime_dir.empty()) opt.runtime_dir = dir + "/../share/imlane/python";
    if (!FileExists(opt.executor_path))
      return Fail(Status::NotFound("executor binary not found: " + opt.executor_path));
    if (!FileExists(opt.runtime_dir + "/imlane/_runtime/__init__.py")) {
      return Fail(Status::NotFound("executor runtime not found in " + opt.runtime_dir));
    }
    if (!opt.python_env.empty()) {
      // Refused here, once, with the reason; an executor that cannot start would only be restarted.
      auto env = CheckPythonEnv(opt.python_env);
      if (!env.ok()) return Fail(env.status());
      opt.python_env = env->root;
    }
    signal(SIGPIPE, SIG_IGN);
    Coordinator coordinator(opt);
    Status st = coordinator.Start();
    if (!st.ok()) {
      Fail(st);
      // EX_TEMPFAIL: another coordinator holds the socket (it may be on its way out); a client that
      // started this one tries again instead of giving up.
      return st.code() == StatusCode::kAlreadyExists ? kExitSocketTaken : 1;
    }
    g_coordinator = &coordinator;
    struct sigaction sa {};
    sa.sa_handler = OnSignal;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    int rc = coordinator.Serve();
    g_coordinator = nullptr;
    return rc;
  }
  json reply;
  if (*status) {
    Status st = Ask(socket, json{{"op", "status"}}, &reply);
    if (!st.ok()) return Fail(st);
    reply.erase("ok");
    if (as_json) {
      std::cout << reply.dump(2) << "\n";
    } else {
      Status printed = PrintStatus(reply);
      if (!printed.ok()) return Fail(printed.WithContext("status reply"));
    }
    return 0;
  }
  if (*stop) {
    Status st = Ask(socket, json{{"op", "shutdown"}}, &reply);
    return st.ok() ? 0 : Fail(st);
  }
  if (*reg) {
    auto code = ReadFile(source);
    if (!code.ok()) return Fail(code.status());
    auto arg_types = ParseTypeList(args);
    if (!arg_types.ok()) return Fail(arg_types.status());
    auto ret_types = ParseTypeList(returns);
    if (!ret_types.ok()) return Fail(ret_types.status());
    char resolved[4096];
    std::string path = realpath(source.c_str(), resolved) ? resolved : source;
    json req = {{"op", "register"},
                {"name", name},
                {"filename", path},
                {"source_ref", path},
                {"entry", entry},
                {"arg_types", TypesToJson(*arg_types)},
                {"return_types", TypesToJson(*ret_types)}};
    SourceToJson(*code, &req);
    Status st = Ask(socket, req, &reply);
    if (!st.ok()) return Fail(st);
    auto registered = DecodeRegisterReply(reply);
    if (!registered.ok()) return Fail(registered.status().WithContext("register reply"));
    std::cout << "registered " << name << " version " << registered->version << "\n";
    return 0;
  }
  if (*drop) {
    Status st = Ask(socket, json{{"op", "drop"}, {"name", name}}, &reply);
    return st.ok() ? 0 : Fail(st);
  }
  return 0;
}
