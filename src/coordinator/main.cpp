// imlane: the IMLane coordinator daemon and its command-line client.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

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

void PrintStatus(const json& s) {
  std::printf("coordinator pid %d on %s, up %.1f s, %d client(s)\n", s.value("pid", 0),
              s.value("socket", std::string()).c_str(), s.value("uptime_s", 0.0), s.value("clients", 0));
  std::printf("python env: %s\n", s.value("python_env", std::string()).empty()
                                      ? "(system Python only)"
                                      : s.value("python_env", std::string()).c_str());
  std::printf("\nexecutors:\n  %-5s %-8s %-10s %-6s %-8s %s\n", "index", "pid", "state", "lanes", "restarts",
              "last exit");
  for (const auto& e : s["executors"]) {
    std::printf("  %-5d %-8d %-10s %-6zu %-8d %s\n", e.value("index", 0), e.value("pid", 0),
                e.value("state", std::string()).c_str(), e.value("lanes", size_t{0}), e.value("restarts", 0),
                e.value("last_exit", std::string()).c_str());
  }
  std::printf("\nfunctions:\n  %-20s %-4s %-32s %-10s %-10s %-12s %-10s %s\n", "name", "ver", "signature", "batches",
              "rows", "mean batch", "busy s", "source");
  for (const auto& f : s["functions"]) {
    std::string sig = "(";
    for (size_t i = 0; i < f["arg_types"].size(); i++) sig += (i ? ", " : "") + f["arg_types"][i].get<std::string>();
    sig += ") -> ";
    for (size_t i = 0; i < f["return_types"].size(); i++)
      sig += (i ? ", " : "") + f["return_types"][i].get<std::string>();
    std::printf("  %-20s %-4u %-32s %-10llu %-10llu %-12.1f %-10.3f %s\n", f.value("name", std::string()).c_str(),
                f.value("version", 0u), sig.c_str(), static_cast<unsigned long long>(f.value("batches", uint64_t{0})),
                static_cast<unsigned long long>(f.value("rows", uint64_t{0})), f.value("mean_batch_rows", 0.0),
                f.value("busy_s", 0.0), f.value("source", std::string()).c_str());
  }
  const auto& l = s["lanes"];
  std::printf(
      "\nlanes: %zu total, %zu in use, %.1f MiB of shared memory (caps: %.0f MiB in all, %.0f MiB per client, "
      "%.0f MiB per Lane)\n",
      l.value("total", size_t{0}), l.value("in_use", size_t{0}), l.value("bytes", uint64_t{0}) / 1048576.0,
      l.value("cap_bytes", uint64_t{0}) / 1048576.0, l.value("client_cap_bytes", uint64_t{0}) / 1048576.0,
      l.value("max_lane_bytes", uint64_t{0}) / 1048576.0);
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
      PrintStatus(reply);
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
                {"source", *code},
                {"filename", path},
                {"source_ref", path},
                {"entry", entry},
                {"arg_types", TypesToJson(*arg_types)},
                {"return_types", TypesToJson(*ret_types)}};
    Status st = Ask(socket, req, &reply);
    if (!st.ok()) return Fail(st);
    std::cout << "registered " << name << " version " << reply.value("version", 0) << "\n";
    return 0;
  }
  if (*drop) {
    Status st = Ask(socket, json{{"op", "drop"}, {"name", name}}, &reply);
    return st.ok() ? 0 : Fail(st);
  }
  return 0;
}
