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

class PythonRuntime {
 public:
  PythonRuntime();
  ~PythonRuntime();

  // Starts the interpreter and imports numpy and imlane._runtime from runtime_dir (which holds imlane/).
  Status Start(const std::string& runtime_dir);
  // Compiles the source in a fresh namespace and builds the function's one-off context
  // (pyinitial() or the class's __init__), once.
  Status Load(uint32_t function_id, const FunctionDefinition& def);
  void Unload(uint32_t function_id);
  const FunctionDefinition* Definition(uint32_t function_id) const;
  // Calls the function on `in`; the result goes into `out`, started by the caller with the
  // function's return types and in.num_rows() rows.
  Status Run(uint32_t function_id, const BatchView& in, BatchBuilder* out);

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
