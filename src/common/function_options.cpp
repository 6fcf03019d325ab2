#include "imlane/function_options.h"

namespace imlane {

const char* NullHandlingName(NullHandling v) { return v == NullHandling::kSpecial ? "special" : "default"; }

const char* ExceptionHandlingName(ExceptionHandling v) {
  return v == ExceptionHandling::kReturnNull ? "return_null" : "default";
}

Result<NullHandling> ParseNullHandling(const std::string& name) {
  if (name == "default") return NullHandling::kDefault;
  if (name == "special") return NullHandling::kSpecial;
  return Status::InvalidArgument("null_handling must be 'default' or 'special', got '", name, "'");
}

Result<ExceptionHandling> ParseExceptionHandling(const std::string& name) {
  if (name == "default") return ExceptionHandling::kDefault;
  if (name == "return_null") return ExceptionHandling::kReturnNull;
  return Status::InvalidArgument("exception_handling must be 'default' or 'return_null', got '", name, "'");
}

const char* BackendName(Backend v) {
  switch (v) {
    case Backend::kLocal: return "local";
    case Backend::kRay: return "ray";
    case Backend::kBoth: return "both";
  }
  return "local";
}

Result<Backend> ParseBackend(const std::string& name) {
  if (name == "local") return Backend::kLocal;
  if (name == "ray") return Backend::kRay;
  if (name == "both") return Backend::kBoth;
  return Status::InvalidArgument("backend must be 'local', 'ray' or 'both', got '", name, "'");
}

}  // namespace imlane
