#include "sql_input.hpp"

#include <cctype>

namespace imlane {
namespace duckdb_shell {

namespace {

// Scans `text`; reports whether it ends outside quotes and comments, and whether the last thing
// outside them (blanks and comments aside) was a `;` and whether anything but blanks was there.
struct Scan {
  bool outside = true;
  bool ends_with_semicolon = false;
  bool any_code = false;
};

Scan ScanText(const std::string &text) {
  enum class State { kCode, kSingle, kDouble, kLineComment, kBlockComment, kDollar };
  State state = State::kCode;
  std::string dollar_tag;  // "$tag$" of the open dollar quote
  Scan scan;
  const size_t n = text.size();
  for (size_t i = 0; i < n; i++) {
    const char c = text[i];
    const char next = i + 1 < n ? text[i + 1] : '\0';
    switch (state) {
      case State::kCode:
        if (c == '-' && next == '-') {
          state = State::kLineComment;
          i++;
        } else if (c == '/' && next == '*') {
          state = State::kBlockComment;
          i++;
        } else if (c == '\'') {
          state = State::kSingle;
        } else if (c == '"') {
          state = State::kDouble;
        } else if (c == '$') {
          // $$ or $tag$ (letters, digits, _): a dollar quote; a lone $1 is a parameter.
          size_t j = i + 1;
          while (j < n && (std::isalnum(static_cast<unsigned char>(text[j])) || text[j] == '_')) j++;
          if (j < n && text[j] == '$' && (j == i + 1 || !std::isdigit(static_cast<unsigned char>(text[i + 1])))) {
            dollar_tag = text.substr(i, j - i + 1);
            state = State::kDollar;
            i = j;
          }
        }
        if (!std::isspace(static_cast<unsigned char>(c)) && state == State::kCode) {
          scan.any_code = true;
          scan.ends_with_semicolon = c == ';';
        } else if (state == State::kSingle || state == State::kDouble || state == State::kDollar) {
          scan.any_code = true;
          scan.ends_with_semicolon = false;
        }
        break;
      case State::kSingle:  // '' inside is an escaped quote: leaving and re-entering gives the same
        if (c == '\'') state = State::kCode;
        break;
      case State::kDouble:
        if (c == '"') state = State::kCode;
        break;
      case State::kLineComment:
        if (c == '\n') state = State::kCode;
        break;
      case State::kBlockComment:
        if (c == '*' && next == '/') {
          state = State::kCode;
          i++;
        }
        break;
      case State::kDollar:
        if (c == '$' && text.compare(i, dollar_tag.size(), dollar_tag) == 0) {
          i += dollar_tag.size() - 1;
          state = State::kCode;
        }
        break;
    }
  }
  scan.outside = state == State::kCode || state == State::kLineComment;
  return scan;
}

}  // namespace

bool InputComplete(const std::string &text) {
  const Scan scan = ScanText(text);
  return scan.outside && scan.ends_with_semicolon;
}

bool InputBlank(const std::string &text) {
  const Scan scan = ScanText(text);
  return scan.outside && !scan.any_code;
}

}  // namespace duckdb_shell
}  // namespace imlane
