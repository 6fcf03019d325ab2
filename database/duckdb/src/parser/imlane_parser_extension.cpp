#include "parser/imlane_parser_extension.hpp"

#include <sys/stat.h>

#include "function/imlane_create_function.hpp"
#include "function/imlane_drop_function.hpp"
#include "parser/python_udf_statement.hpp"

namespace imlane {
namespace duckdb_integration {

using namespace duckdb;  // NOLINT: DuckDB glue

namespace {

struct PythonUdfParseData : public ParserExtensionParseData {
  explicit PythonUdfParseData(PythonUdfStatement statement_p) : statement(std::move(statement_p)) {}

  unique_ptr<ParserExtensionParseData> Copy() const override { return make_uniq<PythonUdfParseData>(statement); }

  string ToString() const override {
    if (statement.kind == PythonUdfStatement::Kind::kDrop) {
      return std::string("DROP PYTHON_UDF ") + (statement.if_exists ? "IF EXISTS " : "") + statement.name;
    }
    return "CREATE PYTHON_UDF " + statement.name + "(" + statement.arg_types + ") RETURNS " + statement.return_type +
           (statement.from_file ? " FILE_PATH '" + statement.source + "'" : " {\"" + statement.source + "\"}");
  }

  PythonUdfStatement statement;
};

}  // namespace

ParserExtensionParseResult IMLaneParserExtension::Parse(ParserExtensionInfo *, const std::string &query) {
  PythonUdfParse parsed = ParsePythonUdfStatement(query);
  switch (parsed.outcome) {
    case PythonUdfParse::Outcome::kNotPythonUdf: return ParserExtensionParseResult();  // DuckDB's error
    case PythonUdfParse::Outcome::kError: return ParserExtensionParseResult(parsed.error);
    case PythonUdfParse::Outcome::kParsed: break;
  }
  return ParserExtensionParseResult(make_uniq<PythonUdfParseData>(std::move(parsed.statement)));
}

ParserExtensionPlanResult IMLaneParserExtension::Plan(ParserExtensionInfo *, ClientContext &,
                                                      unique_ptr<ParserExtensionParseData> parse_data) {
  const PythonUdfStatement &stmt = static_cast<PythonUdfParseData &>(*parse_data).statement;
  ParserExtensionPlanResult result;
  result.return_type = StatementReturnType::NOTHING;  // DDL, like CREATE FUNCTION
  if (stmt.kind == PythonUdfStatement::Kind::kDrop) {
    result.function = IMLaneDropFunction::GetFunction(stmt.if_exists);
    result.parameters = {Value(stmt.name)};
    return result;
  }
  if (stmt.from_file) {
    // Checked here: imlane_create_function would take a source that names no file for Python code.
    struct stat st;
    if (stat(stmt.source.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      throw IOException("CREATE PYTHON_UDF %s: FILE_PATH '%s' is not a file", stmt.name, stmt.source);
    }
  }
  result.function = IMLaneCreateFunction::GetFunction();
  result.parameters = {Value(stmt.name), Value(stmt.source), Value(stmt.arg_types), Value(stmt.return_type)};
  return result;
}

void IMLaneParserExtension::Register(DatabaseInstance &db) {
  ParserExtension ext;
  ext.parse_function = Parse;
  ext.plan_function = Plan;
  DBConfig::GetConfig(db).parser_extensions.push_back(std::move(ext));
}

}  // namespace duckdb_integration
}  // namespace imlane
