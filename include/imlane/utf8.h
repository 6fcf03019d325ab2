// UTF-8 validation of VARCHAR results. A reader validates the bytes it copied out of a Lane, never
// the Lane itself: the executor that wrote them can still write there (see ColumnView::StringAt).
#pragma once

#include <cstddef>
#include <string_view>

#include "imlane/status.h"

namespace imlane {

// Offset of the first byte of the first invalid UTF-8 sequence in s (overlong forms, surrogates and
// code points above U+10FFFF are invalid, as for DuckDB and PostgreSQL), or s.size() when s is valid.
size_t FindInvalidUtf8(std::string_view s);

// The error for a VARCHAR result that is not UTF-8: names the row, the offending byte and the type.
// `function` is put in front when not empty.
Status InvalidUtf8Result(std::string_view function, size_t row, std::string_view value, size_t bad_offset);

// The error for a VARCHAR result whose string offsets point outside its column.
Status StringOutOfBounds(std::string_view function, size_t row);

}  // namespace imlane
