#include "imlane/types.h"

#include <algorithm>
#include <cctype>
#include <cstring>

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
  const std::string supported =
      " (supported: BOOLEAN, TINYINT, SMALLINT, INTEGER, BIGINT, FLOAT, DOUBLE, VARCHAR, DATE, TIMESTAMP)";
  // SQL types a user will try that IMLane does not carry (yet): say so, and what to declare instead.
  struct Unsupported {
    const char* prefix;
    const char* hint;
  };
  static const Unsupported kUnsupported[] = {
      {"DECIMAL", "declare DOUBLE and pass CAST(x AS DOUBLE)"},
      {"NUMERIC", "declare DOUBLE and pass CAST(x AS DOUBLE)"},
      {"HUGEINT", "declare BIGINT or DOUBLE"},
      {"UBIGINT", "declare BIGINT or DOUBLE"},
      {"UINTEGER", "declare BIGINT"},
      {"USMALLINT", "declare INTEGER"},
      {"UTINYINT", "declare SMALLINT"},
      {"TIMESTAMPTZ", "declare TIMESTAMP and pass CAST(x AS TIMESTAMP) (UTC)"},
      {"TIMESTAMP WITH TIME ZONE", "declare TIMESTAMP and pass CAST(x AS TIMESTAMP) (UTC)"},
      {"TIME", "declare VARCHAR or BIGINT"},
      {"INTERVAL", "declare BIGINT (e.g. epoch_us(x)) or VARCHAR"},
      {"BLOB", "declare VARCHAR (text)"},
      {"BYTEA", "declare VARCHAR (text)"},
      {"UUID", "declare VARCHAR and pass CAST(x AS VARCHAR)"},
      {"JSON", "declare VARCHAR"},
      {"LIST", "pass each element as its own argument, or a VARCHAR"},
      {"STRUCT",
       "declare several return types (returns 'DOUBLE, INTEGER') through the DBEnd API, or one "
       "column per value"},
      {"MAP", "declare VARCHAR"},
      {"UNION", "declare VARCHAR"},
      {"ENUM", "declare VARCHAR and pass CAST(x AS VARCHAR)"},
  };
  const bool is_array = !name.empty() && name.back() == ']';
  for (const auto& u : kUnsupported) {
    const size_t n = std::strlen(u.prefix);
    const bool match =
        name.compare(0, n, u.prefix) == 0 && (name.size() == n || name[n] == '(' || name[n] == ' ' || name[n] == '[');
    if (match || (is_array && std::string(u.prefix) == "LIST")) {
      return Status::InvalidArgument("type '" + Trim(raw) + "' is not supported by IMLane functions: " + u.hint +
                                     supported);
    }
  }
  return Status::InvalidArgument("unknown type '" + Trim(raw) + "'" + supported);
}

Result<std::vector<TypeId>> ParseTypeList(const std::string& list) {
  std::vector<TypeId> out;
  if (Trim(list).empty()) return out;
  size_t start = 0;
  while (true) {
    // The next comma outside parentheses and brackets: DECIMAL(10,2) and STRUCT(a INT, b INT) are one
    // type each (and then named as unsupported), not two broken ones.
    size_t comma = std::string::npos;
    int depth = 0;
    for (size_t i = start; i < list.size() && comma == std::string::npos; i++) {
      if (list[i] == '(' || list[i] == '[') depth++;
      if ((list[i] == ')' || list[i] == ']') && depth > 0) depth--;
      if (list[i] == ',' && depth == 0) comma = i;
    }
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
