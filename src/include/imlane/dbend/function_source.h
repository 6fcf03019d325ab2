// Resolving the source an engine gives for a function: inline code, or the path of a .py file
// that the engine's process reads (relative to its working directory).
#pragma once

#include <string>

#include "imlane/common/function_definition.h"
#include "imlane/function_spec.h"
#include "imlane/status.h"

namespace imlane {

struct ResolvedFunction {
  FunctionDefinition definition;
  std::string source_ref;  // the resolved file path, or "<inline>"
};

// A source without a line break that names a .py file, or an existing file, is a path; anything
// else is code.
Result<ResolvedFunction> ResolveFunctionSource(const FunctionSpec& spec);

}  // namespace imlane
