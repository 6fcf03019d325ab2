// imlane-executor: one process, one embedded CPython. Started by the coordinator, never by hand.
#include <malloc.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdlib>

#include "imlane/common/log.h"
#include "imlane/common/system.h"
#include "imlane/executor/executor.h"
#include "imlane/executor/python_runtime.h"

using namespace imlane;

namespace {

pid_t g_executor_group = 0;

void KillExecutorGroup(int) {
  killpg(g_executor_group, SIGKILL);  // the guard is in the group too
  _exit(0);
}

// Forks the executor's group guard: a process that holds no descriptor and waits for the executor to
// go, however it goes (SIGKILL, a crash, the coordinator's death through PR_SET_PDEATHSIG), and then
// kills the executor's process group, so that the processes a function started (subprocess, fork)
// never outlive it, keep its Lanes mapped or hold a pipe open. Only when the executor leads its own
// group (imlane serve makes it so): otherwise the group is someone else's.
void StartGroupGuard() {
  const pid_t executor = getpid();
  if (getpgrp() != executor) return;
  g_executor_group = executor;
  if (fork() != 0) return;  // the executor (or no guard if fork failed)
  struct sigaction sa {};
  sa.sa_handler = KillExecutorGroup;
  sigaction(SIGTERM, &sa, nullptr);
  sigset_t only_term;
  sigfillset(&only_term);
  sigdelset(&only_term, SIGTERM);
  sigprocmask(SIG_SETMASK, &only_term, nullptr);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != executor) KillExecutorGroup(0);  // it went before the death signal was armed
  syscall(SYS_close_range, 0u, ~0u, 0u);
  prctl(PR_SET_NAME, "imlane-guard");
  for (;;) pause();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "imlane-executor: runs IMLane AI functions in an embedded Python interpreter.\n"
      "It is started and supervised by the coordinator (`imlane serve`), not by hand."};
  int control_fd = -1, bell_fd = -1, index = 0, spin_us = 100, blas_threads = 1;
  int64_t context_cache_mb = 2048, memory_budget_mb = 0;
  std::string runtime_dir, python_env, ray_address;
  app.add_option("--control-fd", control_fd, "inherited control socket")->required();
  app.add_option("--bell-fd", bell_fd, "inherited bell region (memfd)")->required();
  app.add_option("--index", index, "executor index, for logs");
  app.add_option("--runtime-dir", runtime_dir, "directory holding the imlane Python package (imlane/_runtime/)")
      ->required();
  app.add_option("--spin-us", spin_us, "busy-wait after a batch before sleeping, microseconds");
  app.add_option("--context-cache-mb", context_cache_mb, "bound of the model-loader cache, MiB of model files");
  app.add_option("--python-env", python_env,
                 "virtualenv whose site-packages functions import (imlane serve --python-env)");
  app.add_option("--memory-budget-mb", memory_budget_mb,
                 "the functions' memory budget; the address-space limit is kept at it plus the mapped Lanes");
  app.add_option("--ray-address", ray_address,
                 "be a Ray bridge: run functions on actors of this cluster (imlane serve --ray-address)");
  app.add_option("--blas-threads", blas_threads, "threads for BLAS/OpenMP inside this executor");
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "lowest level logged (the coordinator's): debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  CLI11_PARSE(app, argc, argv);
  LogLevel level = LogLevel::kInfo;
  ParseLogLevel(log_level, &level);
  SetLogLevel(level);

  // One malloc arena: a load runs on a thread of its own, and each extra arena reserves 64 MiB of
  // address space, which counts against the executor's RLIMIT_AS (the GIL serialises Python anyway).
  mallopt(M_ARENA_MAX, 1);
  // Die with the coordinator, even if it is SIGKILLed (the coordinator also sets this before exec).
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  StartGroupGuard();
  // Parallelism comes from several executors; a model must not spawn threads on every core.
  std::string threads = std::to_string(blas_threads);
  for (const char* var : {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                          "VECLIB_MAXIMUM_THREADS"}) {
    setenv(var, threads.c_str(), 1);
  }

  auto bell = SharedRegion::Attach(bell_fd);
  if (!bell.ok()) {
    Log(LogLevel::kError, "executor", bell.status().ToString());
    return 2;
  }
  bell->CloseFd();
  PythonRuntime python;
  Status st =
      python.Start(runtime_dir, static_cast<uint64_t>(std::max<int64_t>(context_cache_mb, 0)) << 20, python_env);
  if (!st.ok()) {
    Log(LogLevel::kError, "executor", st.ToString());
    return 3;
  }
  if (!ray_address.empty()) {
    st = python.ConfigureRay(ray_address, runtime_dir);
    if (!st.ok()) {
      Log(LogLevel::kError, "executor", st.ToString());
      return 3;
    }
  }
  ExecutorOptions options;
  options.ray_bridge = !ray_address.empty();
  options.executor_index = index;
  options.spin_ns = static_cast<int64_t>(spin_us) * 1000;
  options.memory_budget_bytes = static_cast<uint64_t>(std::max<int64_t>(memory_budget_mb, 0)) << 20;
  Executor executor(UniqueFd(control_fd), bell.MoveValue(), &python, options);
  return executor.Run();
}
