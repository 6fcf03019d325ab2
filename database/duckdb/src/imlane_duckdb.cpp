// LoadIMLane: what IMLane adds to a DuckDB database. Each piece lives in its own file.
#include "imlane_duckdb.hpp"

#include "duckdb.hpp"
#include "duckdb/main/extension/extension_loader.hpp"
#include "function/imlane_create_function.hpp"
#include "function/imlane_drop_function.hpp"
#include "function/imlane_functions.hpp"
#include "function/imlane_reset_cache.hpp"
#include "function/imlane_settings.hpp"
#include "function/imlane_status.hpp"
#include "optimizer/imlane_optimizer.hpp"
#include "parser/imlane_parser_extension.hpp"

namespace imlane {
namespace duckdb_integration {

void LoadIMLane(duckdb::DatabaseInstance &db) {
  if (!IMLaneSettings::Register(duckdb::DBConfig::GetConfig(db))) return;  // already loaded
  duckdb::ExtensionLoader loader(db, "imlane");
  loader.RegisterFunction(IMLaneCreateFunction::GetFunction());
  loader.RegisterFunction(IMLaneDropFunction::GetFunction());
  loader.RegisterFunction(IMLaneFunctionsFunction::GetFunction());
  loader.RegisterFunction(IMLaneStatusFunction::GetFunction());
  loader.RegisterFunction(IMLaneResetCacheFunction::GetFunctions());
  IMLaneOptimizer::Register(db);
  IMLaneParserExtension::Register(db);
}

}  // namespace duckdb_integration
}  // namespace imlane
