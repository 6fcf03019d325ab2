// What an engine registers: an AI function's name, its Python source (code, or the path of a .py
// file read by the engine's process), its SQL signature and its NULL / exception handling.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "imlane/function_options.h"
#include "imlane/status.h"
#include "imlane/types.h"

namespace imlane {

struct FunctionSpec {
  std::string name;
  std::string source;  // path to a .py file, or inline Python code
  std::vector<TypeId> arg_types;
  std::vector<TypeId> return_types;
  std::string entry;  // optional: which object in the source to call
  NullHandling null_handling = NullHandling::kDefault;
  ExceptionHandling exception_handling = ExceptionHandling::kDefault;
  bool context_cache = true;  // memoise the function's model loaders in the executors (holistic UDFs)
  // Scale-out (docs/scale-out.md): run on Ray actors ('ray'), local executors ('local') or both.
  Backend backend = Backend::kLocal;
  int replicas = 0;                  // Ray actors; 0: one per CPU of the cluster
  int retries = kDefaultRayRetries;  // resends of a batch whose actor died; 0: off (the function is not pure)

  // From SQL-style type lists: Make("f", "f.py", "DOUBLE, VARCHAR", "INTEGER").
  static Result<FunctionSpec> Make(std::string name, std::string source, const std::string& arg_types,
                                   const std::string& return_types, std::string entry = "");
};

// What a context knows of a function it uses: the registered signature and its share of executors.
struct FunctionInfo {
  std::string name;
  uint32_t version = 0;
  std::vector<TypeId> arg_types;
  std::vector<TypeId> return_types;
  int executors = 0;  // executors serving this context
  int slots = 0;      // in-flight slots of this context
};

}  // namespace imlane
