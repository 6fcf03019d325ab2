// The embedded CPython of one executor: loads AI functions into their own namespaces and runs a
// batch from a Lane through one of them, writing the result into the Lane.
#pragma once

#include <cstdint>
#include <functional>
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

  // The Ray bridge (imlane-executor --ray-address, _runtime/ray_bridge.py). Once configured, every
  // function this executor loads runs on a pool of Ray actors; the coordinator hands a bridge only
  // functions whose backend is 'ray' or 'both'.
  Status ConfigureRay(const std::string& address, const std::string& runtime_dir);
  // Called, from any thread, when a remote batch finished (or a replacement actor is ready); set
  // before any function loads.
  void SetRemoteWake(std::function<void()> wake);
  bool IsRemote(uint32_t function_id) const;
  // Sends the batch to an actor and returns its token at once; the columns have been copied out of the
  // Lane (into Ray's object store) when it returns.
  Result<uint64_t> Submit(uint32_t function_id, const BatchView& in);
  struct FinishedRemote {
    uint32_t function_id;
    uint64_t token;
  };
  // Appends the remote batches whose outcome is known (batches whose actor died are resent instead).
  void TakeFinished(std::vector<FinishedRemote>* out);
  // Writes a finished remote batch's result into `out` (started like Run's), or returns its error.
  Status FinishRemote(uint32_t function_id, uint64_t token, size_t rows, BatchBuilder* out);
  // The function's actors, nodes and per-actor counters as JSON text ("" for a local function).
  std::string RemoteStats(uint32_t function_id) const;
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
