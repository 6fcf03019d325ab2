// How a function treats NULL arguments and its own exceptions: DuckDB's create_function options
// (null_handling, exception_handling), part of a function's definition so that every engine and
// every executor applies them the same way (in the executor's Python runtime, _runtime/calling.py).
#pragma once

#include <cstdint>
#include <string>

#include "imlane/status.h"

namespace imlane {

enum class NullHandling : uint8_t {
  kDefault,  // a row with a NULL argument is NULL; the function never sees it
  kSpecial,  // the function sees NULLs (masked numbers and BOOLEAN, NaT / None; columns.py)
};

enum class ExceptionHandling : uint8_t {
  kDefault,     // an exception fails the query
  kReturnNull,  // the rows whose call raises are NULL (result-shape errors still fail)
};

// Where the function runs: the coordinator's local executor processes, a pool of Ray actors
// (imlane serve --ray-address; docs/scale-out.md), or both, with batches going to whichever has a free slot.
enum class Backend : uint8_t { kLocal, kRay, kBoth };

// The SQL / wire names: "default" | "special", "default" | "return_null".
const char* NullHandlingName(NullHandling v);
const char* ExceptionHandlingName(ExceptionHandling v);
// InvalidArgument naming the option and its accepted values for anything else.
Result<NullHandling> ParseNullHandling(const std::string& name);
Result<ExceptionHandling> ParseExceptionHandling(const std::string& name);
const char* BackendName(Backend v);  // "local" | "ray" | "both"
Result<Backend> ParseBackend(const std::string& name);
// Ray actors per function: 0 picks one per CPU of the cluster; more than this is refused.
constexpr int kMaxReplicas = 1024;
constexpr int kDefaultRayRetries = 3;  // a batch whose actor died is sent again this often

}  // namespace imlane
