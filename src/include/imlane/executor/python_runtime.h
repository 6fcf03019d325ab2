// The embedded CPython of one executor: loads AI functions into their own namespaces and runs a
// batch from a Lane through one of them, writing the result into the Lane.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "imlane/batch_builder.h"
#include "imlane/batch_view.h"
#include "imlane/common/function_definition.h"
#include "imlane/status.h"
#include "imlane/types.h"

namespace imlane {

// What the inference-context cache did for one function in this executor.
struct ContextCacheStats {
  uint64_t hits = 0, misses = 0;
  uint64_t bytes = 0;    // model-file bytes of the objects it holds for the function
  double saved_s = 0.0;  // load time the hits did not spend
};

class PythonRuntime {
 public:
  PythonRuntime();
  ~PythonRuntime();

  // Starts the interpreter and imports numpy and imlane._runtime from runtime_dir (which holds imlane/).
  // context_cache_bytes bounds the memoised model loaders (imlane/_runtime/context_cache.py).
  // python_env, if not empty, is a virtualenv (CheckPythonEnv) whose site-packages are imported
  // before the system ones, as its own python3 would.
  Status Start(const std::string& runtime_dir, uint64_t context_cache_bytes, const std::string& python_env = "");
  // Compiles the source in a fresh namespace and builds the function's one-off context
  // (pyinitial() or the class's __init__), once.
  Status Load(uint32_t function_id, const FunctionDefinition& def);
  void Unload(uint32_t function_id);
  const FunctionDefinition* Definition(uint32_t function_id) const;
  // Calls the function on `in`; the result goes into `out`, started by the caller with the
  // function's return types and in.num_rows() rows.
  Status Run(uint32_t function_id, const BatchView& in, BatchBuilder* out);
  ContextCacheStats CacheStats(uint32_t function_id) const;
  // Empties the inference-context cache, or only the objects loaded by function `name`; returns how many went.
  Result<int> ResetCache(const std::string& name);

  // Takes the GIL on a thread other than the interpreter's own (a load thread).
  class AcquireGil {
   public:
    AcquireGil();
    ~AcquireGil();

   private:
    int state_;
  };
  // Lets other threads run Python while this one waits (the GIL is held otherwise).
  class ReleaseGil {
   public:
    ReleaseGil();
    ~ReleaseGil();

   private:
    void* state_;
  };

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace imlane
