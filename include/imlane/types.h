// The column types a Lane carries and how they map to the Arrow columnar format.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "imlane/status.h"

namespace imlane {

// Wire values are stable: they appear in Lane batch headers.
enum class TypeId : uint8_t {
  kBoolean = 1,  // Arrow boolean: bit-packed, LSB first
  kInt8 = 2,
  kInt16 = 3,
  kInt32 = 4,
  kInt64 = 5,
  kFloat = 6,       // IEEE float32
  kDouble = 7,      // IEEE float64
  kVarchar = 8,     // Arrow utf8: int32 offsets (n+1) + bytes
  kDate = 9,        // Arrow date32: int32 days since 1970-01-01
  kTimestamp = 10,  // Arrow timestamp[us]: int64 microseconds since the epoch, no time zone
};

bool IsValidTypeId(uint8_t raw);
// Bytes per value for fixed-width types; 0 for BOOLEAN (bits) and VARCHAR (variable).
size_t FixedWidth(TypeId type);
// SQL-style name: "DOUBLE", "VARCHAR", ...
const char* TypeName(TypeId type);
// Arrow C Data Interface format string: "g", "u", "tdD", "tsu:", ...
const char* ArrowFormat(TypeId type);
// Parses one SQL type name, case-insensitive, accepting common aliases (INTEGER, BIGINT, REAL, TEXT...).
Result<TypeId> ParseType(const std::string& name);
// Parses "DOUBLE, DOUBLE, VARCHAR" into a list; an empty string gives an empty list.
Result<std::vector<TypeId>> ParseTypeList(const std::string& list);
std::string TypeListToString(const std::vector<TypeId>& types);

// C++ value type for each fixed-width TypeId, for typed access.
// A table reads better one line per type.
// clang-format off
template <typename T> struct TypeTraits;
template <> struct TypeTraits<int8_t> { static constexpr TypeId kType = TypeId::kInt8; };
template <> struct TypeTraits<int16_t> { static constexpr TypeId kType = TypeId::kInt16; };
template <> struct TypeTraits<int32_t> { static constexpr TypeId kType = TypeId::kInt32; };
template <> struct TypeTraits<int64_t> { static constexpr TypeId kType = TypeId::kInt64; };
template <> struct TypeTraits<float> { static constexpr TypeId kType = TypeId::kFloat; };
template <> struct TypeTraits<double> { static constexpr TypeId kType = TypeId::kDouble; };
// clang-format on

}  // namespace imlane
