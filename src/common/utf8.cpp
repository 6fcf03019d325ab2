#include "imlane/utf8.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

namespace imlane {

size_t FindInvalidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    // ASCII fast path, 8 bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      if (w & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= n) break;
    const uint8_t c = p[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len;
    uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return i;
    }
    if (i + len > n || p[i + 1] < lo || p[i + 1] > hi) return i;
    for (size_t k = 2; k < len; k++) {
      if ((p[i + k] & 0xC0) != 0x80) return i;
    }
    i += len;
  }
  return n;
}

static std::string Where(std::string_view function) {
  return function.empty() ? std::string() : "imlane function '" + std::string(function) + "': ";
}

Status InvalidUtf8Result(std::string_view function, size_t row, std::string_view value, size_t bad_offset) {
  char byte[8];
  std::snprintf(byte, sizeof(byte), "0x%02x", static_cast<unsigned>(static_cast<uint8_t>(value[bad_offset])));
  return Status::InvalidArgument(Where(function), "VARCHAR result at row ", row, " is not valid UTF-8 (byte ", byte,
                                 " at offset ", bad_offset, " of ", value.size(), " bytes)");
}

Status StringOutOfBounds(std::string_view function, size_t row) {
  return Status::InvalidArgument(Where(function), "VARCHAR result at row ", row,
                                 " has string offsets outside its column (the Lane was changed after it was checked)");
}

}  // namespace imlane
