#include "imlane/function_spec.h"

namespace imlane {

Result<FunctionSpec> FunctionSpec::Make(std::string name, std::string source, const std::string& arg_types,
                                        const std::string& return_types, std::string entry) {
  FunctionSpec spec;
  spec.name = std::move(name);
  spec.source = std::move(source);
  spec.entry = std::move(entry);
  IMLANE_ASSIGN_OR_RETURN(spec.arg_types, ParseTypeList(arg_types));
  IMLANE_ASSIGN_OR_RETURN(spec.return_types, ParseTypeList(return_types));
  return spec;
}

}  // namespace imlane
