// The parser extension that accepts IMBridge's DDL (parser/python_udf_statement.hpp) unchanged:
//   CREATE PYTHON_UDF name(arg TYPE, ...) RETURNS TYPE {"<code>"}  -> imlane_create_function(name, code, ...)
//   CREATE PYTHON_UDF ... RETURNS TYPE FILE_PATH '<path>'          -> imlane_create_function(name, path, ...)
//   DROP PYTHON_UDF [IF EXISTS] name                                -> imlane_drop_function(name[, if_exists])
// DuckDB hands it each statement its own parser rejected (a script is split at the ';'s its tokenizer
// sees); a malformed IMBridge statement is a Parser Error naming the problem, anything else keeps
// DuckDB's own error. The plan is a scan of the table function, which returns no result set.
#pragma once

#include "duckdb.hpp"
#include "duckdb/parser/parser_extension.hpp"

namespace imlane {
namespace duckdb_integration {

struct IMLaneParserExtension {
  // Pushed into the database's DBConfig, like the optimizer extension.
  static void Register(duckdb::DatabaseInstance &db);
  static duckdb::ParserExtensionParseResult Parse(duckdb::ParserExtensionInfo *info, const std::string &query);
  static duckdb::ParserExtensionPlanResult Plan(duckdb::ParserExtensionInfo *info, duckdb::ClientContext &context,
                                                duckdb::unique_ptr<duckdb::ParserExtensionParseData> parse_data);
};

}  // namespace duckdb_integration
}  // namespace imlane
