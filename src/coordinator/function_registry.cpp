#include "imlane/coordinator/function_registry.h"

namespace imlane {

FunctionVersion FunctionRegistry::Prepare(const FunctionDefinition& def, const std::string& source_ref,
                                          const json& options) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_name_.find(def.name);
  if (it != by_name_.end()) {
    const FunctionDefinition& cur = it->second.def;
    if (cur.source == def.source && cur.entry == def.entry && cur.arg_types == def.arg_types &&
        cur.return_types == def.return_types && cur.null_handling == def.null_handling &&
        cur.exception_handling == def.exception_handling && cur.context_cache == def.context_cache &&
        cur.backend == def.backend && cur.replicas == def.replicas && cur.retries == def.retries &&
        it->second.options == options) {
      return it->second;  // same function again: keep its version, and its warm executors
    }
  }
  FunctionVersion fn;
  fn.fid = next_fid_++;
  fn.version = it == by_name_.end() ? 1 : it->second.version + 1;
  fn.def = def;
  fn.source_ref = source_ref;
  fn.options = options;
  return fn;
}

void FunctionRegistry::Commit(const FunctionVersion& fn) {
  std::lock_guard<std::mutex> lock(mu_);
  by_name_[fn.def.name] = fn;
  by_id_[fn.fid] = fn;
}

bool FunctionRegistry::Drop(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  return by_name_.erase(name) > 0;
}

std::optional<FunctionVersion> FunctionRegistry::Find(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return std::nullopt;
  return it->second;
}

std::optional<FunctionVersion> FunctionRegistry::FindById(uint32_t fid) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_id_.find(fid);
  if (it == by_id_.end()) return std::nullopt;
  return it->second;
}

std::vector<FunctionVersion> FunctionRegistry::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<FunctionVersion> out;
  for (const auto& [name, fn] : by_name_) out.push_back(fn);
  return out;
}

}  // namespace imlane
