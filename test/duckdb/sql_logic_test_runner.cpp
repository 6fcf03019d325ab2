// A small runner for SQL logic tests in DuckDB's sqllogictest format (the subset IMLane's tests use),
// against a fresh in-memory DuckDB with IMLane loaded and a coordinator of its own.
//
//   imlane_sql_logic_test FILE.test
//
// Records, separated by blank lines; lines starting with '#' are comments:
//   statement ok                   the SQL (one or more lines) must succeed
//   statement error                the SQL must fail; after an optional `----` line, the error
//                                  message must contain the text below it (lines joined by \n)
//   query <types> [rowsort|nosort] the SQL's result must equal the rows after `----`, one row per
//                                  line, values separated by tabs, one type letter per column
//                                  (I, R, T, B, ...: only their number is checked); `rowsort`
//                                  sorts both sides first
// Values are compared as DuckDB prints them (Value::ToString), NULL as `NULL`, the empty string as
// `(empty)`. An expected value `<REGEX>:re` must match the whole actual value (`.` also matches a
// newline), `<!REGEX>:re` must not. In SQL and expected text, `__TEST_DIR__` is the directory of
// the test file (for UDF files next to it) and `__TEMP_DIR__` a scratch directory of this run.
//
// Each run gets its own socket and settings (imlane_socket in a fresh temporary directory, two
// executors, 16 MiB Lanes), so tests never share a coordinator. The first mismatch fails the run:
// it prints the file, the line, the SQL, what was expected and what came back.
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "duckdb.hpp"
#include "imlane_duckdb.hpp"

namespace {

struct Record {
  enum Kind { kStatementOk, kStatementError, kQuery } kind;
  int line = 0;  // of the record's first line
  std::string sql;
  std::string types;  // query: one letter per column
  bool rowsort = false;
  bool has_expected = false;          // a `----` line followed
  std::vector<std::string> expected;  // query: rows; statement error: the message's lines
};

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) s.replace(p, from.size(), to);
  return s;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) out.push_back(cur);
  if (!s.empty() && s.back() == sep) out.push_back("");
  if (s.empty()) out.push_back("");
  return out;
}

std::string Join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); i++) out += (i ? sep : "") + parts[i];
  return out;
}

// Parses `path`; on a malformed record prints file:line and returns false.
bool Parse(const std::string& path, const std::vector<std::pair<std::string, std::string>>& placeholders,
           std::vector<Record>* records) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << path << ": cannot read\n";
    return false;
  }
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
    for (auto& [from, to] : placeholders) l = Replace(l, from, to);
    lines.push_back(l);
  }
  size_t i = 0;
  auto blank = [&](size_t k) { return lines[k].find_first_not_of(" \t") == std::string::npos; };
  while (i < lines.size()) {
    if (blank(i) || lines[i][0] == '#') {
      i++;
      continue;
    }
    Record r;
    r.line = static_cast<int>(i + 1);
    std::istringstream header(lines[i]);
    std::string word, arg, sort;
    header >> word >> arg >> sort;
    if (word == "statement" && arg == "ok") {
      r.kind = Record::kStatementOk;
    } else if (word == "statement" && arg == "error") {
      r.kind = Record::kStatementError;
    } else if (word == "query" && !arg.empty() && (sort.empty() || sort == "rowsort" || sort == "nosort")) {
      r.kind = Record::kQuery;
      r.types = arg;
      r.rowsort = sort == "rowsort";
    } else {
      std::cerr << path << ":" << r.line << ": unknown record: " << lines[i] << "\n";
      return false;
    }
    i++;
    std::vector<std::string> sql;
    while (i < lines.size() && !blank(i) && lines[i] != "----") sql.push_back(lines[i++]);
    if (sql.empty()) {
      std::cerr << path << ":" << r.line << ": record without SQL\n";
      return false;
    }
    r.sql = Join(sql, "\n");
    if (i < lines.size() && lines[i] == "----") {
      r.has_expected = true;
      i++;
      while (i < lines.size() && !blank(i)) r.expected.push_back(lines[i++]);
    }
    if (r.kind == Record::kStatementOk && r.has_expected) {
      std::cerr << path << ":" << r.line << ": `statement ok` takes no expected result\n";
      return false;
    }
    records->push_back(std::move(r));
  }
  return true;
}

// `.` of the pattern also matches a newline (DuckDB's runner matches with RE2's dot_nl).
std::regex DotAll(const std::string& pattern) {
  std::string out;
  bool escaped = false, in_class = false;
  for (char c : pattern) {
    if (escaped) {
      out += c;
      escaped = false;
    } else if (c == '\\') {
      out += c;
      escaped = true;
    } else if (in_class) {
      out += c;
      in_class = c != ']';
    } else if (c == '[') {
      out += c;
      in_class = true;
    } else {
      out += c == '.' ? std::string("[\\s\\S]") : std::string(1, c);
    }
  }
  return std::regex(out);
}

bool ValueMatches(const std::string& expected, const std::string& actual) {
  static const std::string kRegex = "<REGEX>:", kNotRegex = "<!REGEX>:";
  if (expected.rfind(kRegex, 0) == 0) return std::regex_match(actual, DotAll(expected.substr(kRegex.size())));
  if (expected.rfind(kNotRegex, 0) == 0) return !std::regex_match(actual, DotAll(expected.substr(kNotRegex.size())));
  return expected == actual;
}

bool TextContains(const std::string& text, const std::string& expected) {
  static const std::string kRegex = "<REGEX>:";
  if (expected.rfind(kRegex, 0) == 0) return std::regex_match(text, DotAll(expected.substr(kRegex.size())));
  return text.find(expected) != std::string::npos;
}

std::string Format(const duckdb::Value& v) {
  if (v.IsNull()) return "NULL";
  std::string s = v.ToString();
  return s.empty() ? "(empty)" : s;
}

class Runner {
 public:
  Runner(std::string path, std::string dir) : path_(std::move(path)), dir_(std::move(dir)) {
    db_ = std::make_unique<duckdb::DuckDB>(nullptr);
    imlane::duckdb_integration::LoadIMLane(*db_->instance);
    con_ = std::make_unique<duckdb::Connection>(*db_);
  }
  ~Runner() {
    con_.reset();
    db_.reset();
  }

  // Settings of this run's own coordinator, before anything uses IMLane.
  bool Setup() {
    for (const std::string& sql :
         {"SET imlane_socket = '" + dir_ + "/imlane.sock'", std::string("SET imlane_executors = 2"),
          std::string("SET imlane_lane_bytes = 16777216")}) {
      auto r = con_->Query(sql);
      if (r->HasError()) {
        std::cerr << path_ << ": set-up failed: " << sql << "\n" << r->GetError() << "\n";
        return false;
      }
    }
    return true;
  }

  bool Run(const Record& r) {
    auto result = con_->Query(r.sql);
    switch (r.kind) {
      case Record::kStatementOk:
        if (!result->HasError()) return true;
        return Fail(r, "success", "error: " + result->GetError());
      case Record::kStatementError: {
        if (!result->HasError()) return Fail(r, "an error", "success");
        const std::string want = Join(r.expected, "\n");
        if (!r.has_expected || TextContains(result->GetError(), want)) return true;
        return Fail(r, "an error containing: " + want, "error: " + result->GetError());
      }
      case Record::kQuery: return CheckQuery(r, *result);
    }
    return false;
  }

 private:
  bool CheckQuery(const Record& r, duckdb::MaterializedQueryResult& result) {
    if (result.HasError()) return Fail(r, Join(r.expected, "\n"), "error: " + result.GetError());
    if (result.ColumnCount() != r.types.size()) {
      return Fail(r, std::to_string(r.types.size()) + " columns (" + r.types + ")",
                  std::to_string(result.ColumnCount()) + " columns");
    }
    std::vector<std::vector<std::string>> actual;
    for (duckdb::idx_t row = 0; row < result.RowCount(); row++) {
      std::vector<std::string> values;
      for (duckdb::idx_t c = 0; c < result.ColumnCount(); c++) values.push_back(Format(result.GetValue(c, row)));
      actual.push_back(std::move(values));
    }
    std::vector<std::vector<std::string>> expected;
    for (auto& line : r.expected) expected.push_back(Split(line, '\t'));
    if (r.rowsort) {
      std::sort(actual.begin(), actual.end());
      std::sort(expected.begin(), expected.end());
    }
    bool same = actual.size() == expected.size();
    for (size_t row = 0; same && row < actual.size(); row++) {
      same = actual[row].size() == expected[row].size();
      for (size_t c = 0; same && c < actual[row].size(); c++) same = ValueMatches(expected[row][c], actual[row][c]);
    }
    if (same) return true;
    std::vector<std::string> want, got;
    for (auto& row : expected) want.push_back(Join(row, "\t"));
    for (auto& row : actual) got.push_back(Join(row, "\t"));
    return Fail(r, std::to_string(want.size()) + " rows:\n" + Join(want, "\n"),
                std::to_string(got.size()) + " rows:\n" + Join(got, "\n"));
  }

  bool Fail(const Record& r, const std::string& expected, const std::string& actual) {
    std::cerr << path_ << ":" << r.line << ": mismatch\n"
              << "SQL:\n"
              << r.sql << "\n"
              << "expected " << expected << "\n"
              << "actual " << actual << "\n";
    return false;
  }

  std::string path_, dir_;
  std::unique_ptr<duckdb::DuckDB> db_;
  std::unique_ptr<duckdb::Connection> con_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " FILE.test\n";
    return 2;
  }
  const std::string path = std::filesystem::absolute(argv[1]).lexically_normal().string();
  char tmpl[] = "/tmp/imlane-sqllogic-XXXXXX";
  const char* made = mkdtemp(tmpl);
  if (made == nullptr) {
    std::cerr << "mkdtemp failed\n";
    return 2;
  }
  const std::string dir = made;
  // An isolated coordinator: nothing in this run may fall back to the per-user default socket.
  setenv("IMLANE_SOCKET", (dir + "/imlane.sock").c_str(), 1);
  std::vector<Record> records;
  int rc = 0;
  if (!Parse(path, {{"__TEST_DIR__", std::filesystem::path(path).parent_path().string()}, {"__TEMP_DIR__", dir}},
             &records)) {
    rc = 1;
  } else {
    Runner runner(path, dir);
    if (!runner.Setup()) rc = 1;
    for (size_t i = 0; rc == 0 && i < records.size(); i++) {
      if (!runner.Run(records[i])) rc = 1;
    }
    if (rc == 0) std::cout << path << ": " << records.size() << " records passed\n";
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return rc;
}
