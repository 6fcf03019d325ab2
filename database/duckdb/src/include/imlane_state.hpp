// Per-database IMLane state, kept in DuckDB's object cache so it lives and dies with the database:
// the DBEnd context (created on first use, with the imlane_* settings of that moment) and the
// functions registered through SQL.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "duckdb.hpp"
#include "duckdb/storage/object_cache.hpp"
#include "imlane/dbend_context.h"

namespace imlane {
namespace duckdb_integration {

struct SqlFunction {
  std::string name;
  std::string source;
  std::vector<TypeId> arg_types;
  std::vector<TypeId> return_types;
};

class IMLaneState : public duckdb::ObjectCacheEntry {
 public:
  static std::string ObjectType() { return "imlane_state"; }
  std::string GetObjectType() override { return ObjectType(); }

  // The database's DBEnd context; the first call connects (or starts the coordinator).
  Result<DBEndContext *> Context(duckdb::ClientContext &context);

  std::mutex mu;
  std::map<std::string, SqlFunction> functions;

 private:
  std::unique_ptr<DBEndContext> ctx_;
};

IMLaneState &GetState(duckdb::ClientContext &context);

// Current value of an imlane_* setting.
int64_t IntSetting(duckdb::ClientContext &context, const char *name, int64_t fallback);
std::string StringSetting(duckdb::ClientContext &context, const char *name);

// Throws the DuckDB exception that carries an IMLane error to the SQL user.
[[noreturn]] void ThrowStatus(const Status &st);

}  // namespace duckdb_integration
}  // namespace imlane
