// imlane-executor: one process, one embedded CPython. Started by the coordinator, never by hand.
#include <malloc.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdlib>

#include "imlane/common/system.h"
#include "imlane/executor/executor.h"
#include "imlane/executor/python_runtime.h"

using namespace imlane;

int main(int argc, char** argv) {
  CLI::App app{
      "imlane-executor: runs IMLane AI functions in an embedded Python interpreter.\n"
      "It is started and supervised by the coordinator (`imlane serve`), not by hand."};
  int control_fd = -1, bell_fd = -1, index = 0, spin_us = 100, blas_threads = 1;
  int64_t context_cache_mb = 2048;
  std::string runtime_dir, python_env;
  app.add_option("--control-fd", control_fd, "inherited control socket")->required();
  app.add_option("--bell-fd", bell_fd, "inherited bell region (memfd)")->required();
  app.add_option("--index", index, "executor index, for logs");
  app.add_option("--runtime-dir", runtime_dir, "directory holding the imlane Python package (imlane/_runtime/)")
      ->required();
  app.add_option("--spin-us", spin_us, "busy-wait after a batch before sleeping, microseconds");
  app.add_option("--context-cache-mb", context_cache_mb, "bound of the model-loader cache, MiB of model files");
  app.add_option("--python-env", python_env, "virtualenv whose site-packages functions import (imlane serve --python-env)");
  app.add_option("--blas-threads", blas_threads, "threads for BLAS/OpenMP inside this executor");
  CLI11_PARSE(app, argc, argv);

  // One malloc arena: a load runs on a thread of its own, and each extra arena reserves 64 MiB of
  // address space, which counts against the executor's RLIMIT_AS (the GIL serialises Python anyway).
  mallopt(M_ARENA_MAX, 1);
  // Die with the coordinator, even if it is SIGKILLed (the coordinator also sets this before exec).
  prctl(PR_SET_PDEATHSIG, SIGKILL);
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
  ExecutorOptions options;
  options.executor_index = index;
  options.spin_ns = static_cast<int64_t>(spin_us) * 1000;
  Executor executor(UniqueFd(control_fd), bell.MoveValue(), &python, options);
  return executor.Run();
}
