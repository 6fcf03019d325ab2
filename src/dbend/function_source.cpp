#include "imlane/dbend/function_source.h"

#include <sys/stat.h>

#include <climits>
#include <cstdlib>

#include "imlane/common/system.h"

namespace imlane {

namespace {

bool LooksLikePath(const std::string& source) {
  if (source.find('\n') != std::string::npos) return false;
  const bool py_suffix = source.size() > 3 && source.rfind(".py") == source.size() - 3;
  return py_suffix || FileExists(source);
}

}  // namespace

Result<ResolvedFunction> ResolveFunctionSource(const FunctionSpec& spec) {
  ResolvedFunction out;
  FunctionDefinition& def = out.definition;
  def.name = spec.name;
  def.entry = spec.entry;
  def.arg_types = spec.arg_types;
  def.return_types = spec.return_types;
  def.null_handling = spec.null_handling;
  def.exception_handling = spec.exception_handling;
  def.context_cache = spec.context_cache;
  def.backend = spec.backend;
  def.replicas = spec.replicas;
  def.retries = spec.retries;
  if (!LooksLikePath(spec.source)) {
    def.source = spec.source;
    def.filename = "<inline:" + spec.name + ">";
    out.source_ref = "<inline>";
    return out;
  }
  struct stat st;
  if (stat(spec.source.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Status::NotFound("cannot register function '", spec.name, "': source file '", spec.source,
                            "' does not exist");
  }
  IMLANE_ASSIGN_OR_RETURN(def.source, ReadFile(spec.source));
  char resolved[PATH_MAX];
  def.filename = realpath(spec.source.c_str(), resolved) ? resolved : spec.source;
  out.source_ref = def.filename;
  return out;
}

}  // namespace imlane
