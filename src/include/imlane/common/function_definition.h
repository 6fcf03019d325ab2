// An AI function as IMLane's processes pass it around: the resolved Python code, its SQL
// signature and how it treats NULLs and exceptions. DBEnd builds one from the engine's FunctionSpec, the coordinator's
// registry stores it (as FunctionVersion), and executors load it. It is the one shared description of a function.
#pragma once

#include <string>
#include <vector>

#include "imlane/function_options.h"
#include "imlane/types.h"

namespace imlane {

struct FunctionDefinition {
  std::string name;
  std::string source;    // Python code
  std::string filename;  // shown in tracebacks: the file path, or "<inline:name>"
  std::string entry;     // optional: which object of the source is the function
  std::vector<TypeId> arg_types;
  std::vector<TypeId> return_types;
  // Applied by the executor's runtime, so they hold for every engine (see function_options.h).
  NullHandling null_handling = NullHandling::kDefault;
  ExceptionHandling exception_handling = ExceptionHandling::kDefault;
  bool context_cache = true;  // the executor memoises its model loaders (_runtime/context_cache.py)
  // Ray (docs/scale-out.md): where batches run, how many actors, how often a batch whose actor died is resent.
  Backend backend = Backend::kLocal;
  int replicas = 0;  // 0: one actor per CPU of the cluster
  int retries = kDefaultRayRetries;
};

}  // namespace imlane
