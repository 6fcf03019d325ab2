// IMBridge's DDL for prediction functions, read from one statement's text (no DuckDB dependency):
//
//   CREATE PYTHON_UDF name ( [arg TYPE {, arg TYPE}] ) RETURNS TYPE {"<python code>"} [;]
//   CREATE PYTHON_UDF name ( [arg TYPE {, arg TYPE}] ) RETURNS TYPE FILE_PATH '<path>' [;]
//   DROP PYTHON_UDF [IF EXISTS] name [;]
//
// Keywords are case-insensitive; SQL comments may precede the statement. Names are identifiers,
// plain ([A-Za-z_][A-Za-z0-9_$]*, kept as written) or double-quoted ("" for a quote). Argument names
// are read and ignored; types are IMLane's (imlane::ParseType: INTEGER, REAL, STRING, DOUBLE
// PRECISION, ...) and come out normalised (FLOAT, VARCHAR, DOUBLE). The code runs from the first
// {" after the return type to the last "} of the statement, and is kept byte for byte; it may
// contain quotes, braces and "} itself. The path is a SQL string literal ('' for a quote).
#pragma once

#include <string>

namespace imlane {
namespace duckdb_integration {

struct PythonUdfStatement {
  enum class Kind { kCreate, kDrop };
  Kind kind = Kind::kCreate;
  std::string name;
  // CREATE: the Python code, or the FILE_PATH path; the types as imlane_create_function takes them.
  std::string source;
  bool from_file = false;
  std::string arg_types;  // "FLOAT, VARCHAR"
  std::string return_type;
  // DROP
  bool if_exists = false;
};

struct PythonUdfParse {
  enum class Outcome {
    kNotPythonUdf,  // not CREATE PYTHON_UDF / DROP PYTHON_UDF: someone else's statement
    kParsed,
    kError,  // ours but malformed: `error` names the problem
  };
  Outcome outcome = Outcome::kNotPythonUdf;
  PythonUdfStatement statement;
  std::string error;
};

PythonUdfParse ParsePythonUdfStatement(const std::string &text);

}  // namespace duckdb_integration
}  // namespace imlane
