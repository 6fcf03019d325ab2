// Per-database IMLane state, kept in DuckDB's object cache so it lives and dies with the database:
// the DBEnd context (created on first use, with the imlane_* settings of that moment) and the
// functions registered through SQL.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "duckdb.hpp"
#include "duckdb/storage/object_cache.hpp"
#include "imlane/dbend_context.h"

namespace imlane {
namespace duckdb_integration {

class IMLaneState : public duckdb::ObjectCacheEntry {
 public:
  static std::string ObjectType() { return "imlane_state"; }
  std::string GetObjectType() override { return ObjectType(); }

  // The database's DBEnd context; the first call connects (or starts the coordinator). Once that
  // coordinator has gone (killed, restarted), the next call connects again (starting an embedded
  // coordinator if the settings say so) and registers the functions this database created there
  // once more; a query still holding the old context fails cleanly with the coordinator's loss.
  Result<std::shared_ptr<DBEndContext>> Context(duckdb::ClientContext &context);
  // The settings the live context was set up with; none before the first use or once its
  // coordinator has gone (the next use reads the settings again). For SET's checks.
  std::optional<Settings> LiveSettings();

  std::mutex mu;
  // The functions registered through this database's SQL (imlane_create_function), by name.
  std::map<std::string, FunctionSpec> functions;
  // Per-function pinned batch rows (imlane_create_function(..., batch_size := N)); absent or 0 =
  // the imlane_batch_size setting. Guarded by `mu`.
  std::map<std::string, size_t> batch_rows;
  size_t PinnedBatchRows(const std::string &name);
  // The functions created with side_effects := true (VOLATILE in DuckDB). A planning property of
  // DuckDB alone, so it stays here rather than in the definition executors see. Guarded by `mu`.
  std::set<std::string> side_effects;

 private:
  std::shared_ptr<DBEndContext> ctx_;
  Settings ctx_settings_;  // what ctx_ was set up with
};

IMLaneState &GetState(duckdb::ClientContext &context);

// Throws the DuckDB exception that carries an IMLane error to the SQL user.
[[noreturn]] void ThrowStatus(const Status &st);

// Throws when a query was bound with other argument types than the version it pinned: it was
// planned before a re-registration that changed the signature and started after it.
void CheckBoundSignature(const FunctionPin &pin, const duckdb::vector<duckdb::LogicalType> &bound);

}  // namespace duckdb_integration
}  // namespace imlane
