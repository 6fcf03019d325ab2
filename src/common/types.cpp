#include "imlane/types.h"

#include <algorithm>
#include <cctype>

namespace imlane {

bool IsValidTypeId(uint8_t raw) { return raw >= 1 && raw <= 10; }

size_t FixedWidth(TypeId type) {
  switch (type) {
    case TypeId::kInt8: return 1;
    case TypeId::kInt16: return 2;
    case TypeId::kInt32:
    case TypeId::kFloat:
    case TypeId::kDate: return 4;
    case TypeId::kInt64:
    case TypeId::kDouble:
    case TypeId::kTimestamp: return 8;
    case TypeId::kBoolean:
    case TypeId::kVarchar: return 0;
  }
  return 0;
}

const char* TypeName(TypeId type) {
  switch (type) {
    case TypeId::kBoolean: return "BOOLEAN";
    case TypeId::kInt8: return "TINYINT";
    case TypeId::kInt16: return "SMALLINT";
    case TypeId::kInt32: return "INTEGER";
    case TypeId::kInt64: return "BIGINT";
    case TypeId::kFloat: return "FLOAT";
    case TypeId::kDouble: return "DOUBLE";
    case TypeId::kVarchar: return "VARCHAR";
    case TypeId::kDate: return "DATE";
    case TypeId::kTimestamp: return "TIMESTAMP";
  }
  return "UNKNOWN";
}

const char* ArrowFormat(TypeId type) {
  switch (type) {
    case TypeId::kBoolean: return "b";
    case TypeId::kInt8: return "c";
    case TypeId::kInt16: return "s";
    case TypeId::kInt32: return "i";
    case TypeId::kInt64: return "l";
    case TypeId::kFloat: return "f";
    case TypeId::kDouble: return "g";
    case TypeId::kVarchar: return "u";
    case TypeId::kDate: return "tdD";
    case TypeId::kTimestamp: return "tsu:";
  }
  return "";
}

namespace {
std::string Trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) b++;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) e--;
  return s.substr(b, e - b);
}
}  // namespace

Result<TypeId> ParseType(const std::string& raw) {
  std::string name = Trim(raw);
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::toupper(c); });
  struct Alias {
    const char* name;
    TypeId type;
  };
  static const Alias kAliases[] = {
      {"BOOLEAN", TypeId::kBoolean},     {"BOOL", TypeId::kBoolean},
      {"TINYINT", TypeId::kInt8},        {"INT8", TypeId::kInt8},
      {"SMALLINT", TypeId::kInt16},      {"INT16", TypeId::kInt16},
      {"INT2", TypeId::kInt16},          {"INTEGER", TypeId::kInt32},
      {"INT", TypeId::kInt32},           {"INT32", TypeId::kInt32},
      {"INT4", TypeId::kInt32},          {"BIGINT", TypeId::kInt64},
      {"INT64", TypeId::kInt64},         {"LONG", TypeId::kInt64},
      {"FLOAT", TypeId::kFloat},         {"REAL", TypeId::kFloat},
      {"FLOAT4", TypeId::kFloat},        {"FLOAT32", TypeId::kFloat},
      {"DOUBLE", TypeId::kDouble},       {"FLOAT8", TypeId::kDouble},
      {"FLOAT64", TypeId::kDouble},      {"DOUBLE PRECISION", TypeId::kDouble},
      {"VARCHAR", TypeId::kVarchar},     {"TEXT", TypeId::kVarchar},
      {"STRING", TypeId::kVarchar},      {"DATE", TypeId::kDate},
      {"TIMESTAMP", TypeId::kTimestamp},
  };
  for (const auto& a : kAliases) {
    if (name == a.name) return a.type;
  }
  return Status::InvalidArgument("unknown type '" + Trim(raw) +
                                 "' (supported: BOOLEAN, TINYINT, SMALLINT, INTEGER, BIGINT, FLOAT, "
                                 "DOUBLE, VARCHAR, DATE, TIMESTAMP)");
}

Result<std::vector<TypeId>> ParseTypeList(const std::string& list) {
  std::vector<TypeId> out;
  if (Trim(list).empty()) return out;
  size_t start = 0;
  while (true) {
    size_t comma = list.find(',', start);
    std::string item = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    auto t = ParseType(item);
    if (!t.ok()) return t.status().WithContext("type #" + std::to_string(out.size() + 1) + " of '" + list + "'");
    out.push_back(*t);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string TypeListToString(const std::vector<TypeId>& types) {
  std::string s;
  for (size_t i = 0; i < types.size(); i++) {
    if (i) s += ", ";
    s += TypeName(types[i]);
  }
  return s;
}

}  // namespace imlane
