// When the shell's input holds a complete statement: DuckDB's parser then splits it, but it cannot
// say "not finished yet", so the shell must know where a statement can end. It can end only at a
// `;` outside quotes ('...', "..."), comments (-- to the end of the line, /* ... */) and dollar
// quotes ($$...$$, $tag$...$tag$): a `;` or a quote inside any of them belongs to the statement.
#pragma once

#include <string>

namespace imlane {
namespace duckdb_shell {

// True when `text` ends, after blanks and comments, with a `;` that is outside every quote and
// comment: the shell may run it (and DuckDB's parser splits it into statements).
bool InputComplete(const std::string &text);

// True when `text` holds only blanks and comments.
bool InputBlank(const std::string &text);

}  // namespace duckdb_shell
}  // namespace imlane
