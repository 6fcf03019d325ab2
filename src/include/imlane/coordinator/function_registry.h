// Function registry: name -> code, SQL signature, options, version. Each (name, version) has its
// own function id, which is what Lanes and executors refer to.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "imlane/common/function_definition.h"
#include "imlane/common/protocol.h"

namespace imlane {

// One committed version of a function: its definition with the id Lanes and executors use.
struct FunctionVersion {
  uint32_t fid = 0;
  uint32_t version = 0;
  FunctionDefinition def;
  std::string source_ref;  // the file path given, or "<inline>"
  json options;
};

class FunctionRegistry {
 public:
  // Returns the entry a registration would produce: the current one when nothing changed, else a
  // new version with a fresh id. Does not store it (see Commit).
  FunctionVersion Prepare(const FunctionDefinition& def, const std::string& source_ref, const json& options);
  void Commit(const FunctionVersion& fn);
  bool Drop(const std::string& name);
  std::optional<FunctionVersion> Find(const std::string& name) const;
  std::optional<FunctionVersion> FindById(uint32_t fid) const;
  std::vector<FunctionVersion> List() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, FunctionVersion> by_name_;
  std::map<uint32_t, FunctionVersion> by_id_;  // every version ever committed, for messages
  uint32_t next_fid_ = 1;
};

}  // namespace imlane
