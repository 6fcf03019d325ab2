#include "parser/python_udf_statement.hpp"

#include <cctype>
#include <vector>

#include "imlane/types.h"

namespace imlane {
namespace duckdb_integration {

namespace {

bool IsIdentStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}
bool IsIdentChar(char c) { return IsIdentStart(c) || std::isdigit(static_cast<unsigned char>(c)) || c == '$'; }

// A cursor over the statement's text. Failures set `error` (the first one wins) and return false.
class Scanner {
 public:
  explicit Scanner(const std::string &text) : text_(text) {}

  size_t pos() const { return pos_; }
  bool AtEnd() {
    SkipSpace();
    return pos_ >= text_.size();
  }
  char Peek() {
    SkipSpace();
    return pos_ < text_.size() ? text_[pos_] : '\0';
  }
  bool StartsWith(const char *s) {
    SkipSpace();
    return text_.compare(pos_, std::char_traits<char>::length(s), s) == 0;
  }
  bool Consume(char c) {
    if (Peek() != c) return false;
    pos_++;
    return true;
  }

  // Whitespace and SQL comments (-- to the end of the line, /* ... */).
  void SkipSpace() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (std::isspace(static_cast<unsigned char>(c))) {
        pos_++;
      } else if (text_.compare(pos_, 2, "--") == 0) {
        const size_t eol = text_.find('\n', pos_);
        pos_ = eol == std::string::npos ? text_.size() : eol + 1;
      } else if (text_.compare(pos_, 2, "/*") == 0) {
        const size_t close = text_.find("*/", pos_ + 2);
        pos_ = close == std::string::npos ? text_.size() : close + 2;
      } else {
        return;
      }
    }
  }

  // The next word if it is `keyword` (case-insensitive, a whole word).
  bool ConsumeKeyword(const char *keyword) {
    SkipSpace();
    const size_t n = std::char_traits<char>::length(keyword);
    if (pos_ + n > text_.size()) return false;
    for (size_t i = 0; i < n; i++) {
      if (std::toupper(static_cast<unsigned char>(text_[pos_ + i])) != keyword[i]) return false;
    }
    if (pos_ + n < text_.size() && IsIdentChar(text_[pos_ + n])) return false;
    pos_ += n;
    return true;
  }

  // A plain word ([A-Za-z_][A-Za-z0-9_$]*), or "" if there is none here.
  std::string Word() {
    SkipSpace();
    if (pos_ >= text_.size() || !IsIdentStart(text_[pos_])) return "";
    const size_t start = pos_;
    while (pos_ < text_.size() && IsIdentChar(text_[pos_])) pos_++;
    return text_.substr(start, pos_ - start);
  }

  // A plain or double-quoted identifier. Returns false if there is none here, or (with `error` set)
  // if a quoted one is not closed.
  bool Identifier(std::string &out) {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == '"') return Quoted('"', "identifier", out);
    out = Word();
    return !out.empty();
  }

  // A SQL string literal ('...', '' for a quote).
  bool StringLiteral(std::string &out) {
    SkipSpace();
    return pos_ < text_.size() && text_[pos_] == '\'' && Quoted('\'', "string", out);
  }

  // The text up to the next ',' or ')' outside parentheses, trimmed; `pos` stays on that character.
  std::string UntilCommaOrClose() {
    SkipSpace();
    const size_t start = pos_;
    int depth = 0;
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (depth == 0 && (c == ',' || c == ')')) break;
      if (c == '(') depth++;
      if (c == ')') depth--;
      pos_++;
    }
    size_t end = pos_;
    while (end > start && std::isspace(static_cast<unsigned char>(text_[end - 1]))) end--;
    return text_.substr(start, end - start);
  }

  void Seek(size_t pos) { pos_ = pos; }
  const std::string &text() const { return text_; }

  bool Fail(const std::string &message) {
    if (error.empty()) error = message;
    return false;
  }

  std::string error;
  std::string context;  // what the statement is so far, for the errors the scanner reports itself

 private:
  bool Quoted(char quote, const char *what, std::string &out) {
    out.clear();
    for (size_t i = pos_ + 1; i < text_.size(); i++) {
      if (text_[i] != quote) {
        out += text_[i];
      } else if (i + 1 < text_.size() && text_[i + 1] == quote) {
        out += quote;
        i++;
      } else {
        pos_ = i + 1;
        return true;
      }
    }
    return Fail(context + ": unterminated quoted " + what + " " + text_.substr(pos_, 20) + "...");
  }

  const std::string &text_;
  size_t pos_ = 0;
};

// One type, as imlane_create_function will take it: IMLane's name for it.
bool NormalisedType(Scanner &s, const std::string &type, const std::string &where, std::string &out) {
  std::string collapsed;  // "DOUBLE   PRECISION" -> "DOUBLE PRECISION"
  for (char c : type) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!collapsed.empty() && collapsed.back() != ' ') collapsed += ' ';
    } else {
      collapsed += c;
    }
  }
  auto parsed = ParseType(collapsed);
  if (!parsed.ok()) return s.Fail(where + ": " + parsed.status().message());
  out = TypeName(*parsed);
  return true;
}

// After the statement: an optional ';', then nothing.
bool End(Scanner &s, const std::string &ctx, const std::string &after) {
  s.Consume(';');
  if (s.AtEnd()) return true;
  return s.Fail(ctx + ": unexpected text after " + after + ": '" + s.text().substr(s.pos(), 20) + "'");
}

bool ParseCreate(Scanner &s, PythonUdfStatement &out) {
  out.kind = PythonUdfStatement::Kind::kCreate;
  const std::string stmt = "CREATE PYTHON_UDF";
  s.context = stmt;
  if (!s.Identifier(out.name)) return s.Fail(stmt + ": expected the function name after PYTHON_UDF");
  const std::string ctx = stmt + " " + out.name;
  s.context = ctx;
  if (!s.Consume('(')) return s.Fail(ctx + ": expected '(' and the argument list after the function name");

  std::vector<std::string> args;
  if (!s.Consume(')')) {
    while (true) {
      const size_t n = args.size() + 1;
      std::string arg;
      if (!s.Identifier(arg)) {
        return s.Fail(ctx + ": expected the name of argument " + std::to_string(n) + " (arguments are 'name TYPE')");
      }
      const std::string where = ctx + ": argument " + std::to_string(n) + " (" + arg + ")";
      const std::string type = s.UntilCommaOrClose();
      if (s.AtEnd()) return s.Fail(ctx + ": the argument list is not closed by ')'");
      if (type.empty()) return s.Fail(where + " has no type (arguments are 'name TYPE')");
      std::string normalised;
      if (!NormalisedType(s, type, where, normalised)) return false;
      args.push_back(normalised);
      if (s.Consume(')')) break;
      s.Consume(',');
    }
  }
  for (size_t i = 0; i < args.size(); i++) out.arg_types += (i ? ", " : "") + args[i];

  if (!s.ConsumeKeyword("RETURNS")) return s.Fail(ctx + ": expected RETURNS <type> after the argument list");
  std::string returns;  // words up to the body ('{') or FILE_PATH
  while (true) {
    const size_t before = s.pos();
    if (s.Peek() == '{' || s.ConsumeKeyword("FILE_PATH")) {
      s.Seek(before);
      break;
    }
    const std::string word = s.Word();
    if (word.empty()) break;
    returns += (returns.empty() ? "" : " ") + word;
  }
  if (returns.empty()) return s.Fail(ctx + ": expected the return type after RETURNS");
  if (!NormalisedType(s, returns, ctx + ": return type", out.return_type)) return false;

  const std::string body_forms = "{\"<python code>\"} or FILE_PATH '<path>'";
  if (s.StartsWith("{\"")) {
    const size_t open = s.pos() + 2;
    const size_t close = s.text().rfind("\"}");
    if (close == std::string::npos || close < open) {
      return s.Fail(ctx +
                    ": the Python code is not terminated: it starts with {\" and must end with \"} (DuckDB "
                    "also ends a statement at a ';' that its tokenizer sees outside quotes, as in a Python "
                    "string \"a;b\")");
    }
    out.source = s.text().substr(open, close - open);
    bool blank = true;
    for (char c : out.source) blank = blank && std::isspace(static_cast<unsigned char>(c));
    if (blank) return s.Fail(ctx + ": the Python code between {\" and \"} is empty");
    s.Seek(close + 2);
    return End(s, ctx, "the closing \"}");
  }
  if (s.ConsumeKeyword("FILE_PATH")) {
    if (!s.StringLiteral(out.source)) {
      return s.Fail(ctx + ": expected a quoted path after FILE_PATH, as in FILE_PATH '/path/udf.py'");
    }
    if (out.source.empty()) return s.Fail(ctx + ": the FILE_PATH is empty");
    out.from_file = true;
    return End(s, ctx, "the FILE_PATH");
  }
  return s.Fail(ctx + ": expected " + body_forms + " after RETURNS " + returns);
}

bool ParseDrop(Scanner &s, PythonUdfStatement &out) {
  out.kind = PythonUdfStatement::Kind::kDrop;
  const std::string stmt = "DROP PYTHON_UDF";
  s.context = stmt;
  const size_t before = s.pos();
  if (s.ConsumeKeyword("IF")) {
    if (s.ConsumeKeyword("EXISTS")) {
      out.if_exists = true;
    } else {
      s.Seek(before);  // a function named "if"
    }
  }
  if (!s.Identifier(out.name)) {
    return s.Fail(stmt + ": expected the function name after " + (out.if_exists ? "IF EXISTS" : "PYTHON_UDF"));
  }
  return End(s, stmt + " " + out.name, "the function name");
}

}  // namespace

PythonUdfParse ParsePythonUdfStatement(const std::string &text) {
  PythonUdfParse result;
  Scanner s(text);
  bool ok;
  if (s.ConsumeKeyword("CREATE") && s.ConsumeKeyword("PYTHON_UDF")) {
    ok = ParseCreate(s, result.statement);
  } else {
    s.Seek(0);
    if (!(s.ConsumeKeyword("DROP") && s.ConsumeKeyword("PYTHON_UDF"))) return result;  // kNotPythonUdf
    ok = ParseDrop(s, result.statement);
  }
  if (ok) {
    result.outcome = PythonUdfParse::Outcome::kParsed;
  } else {
    result.outcome = PythonUdfParse::Outcome::kError;
    result.error = s.error;
  }
  return result;
}

}  // namespace duckdb_integration
}  // namespace imlane
