// Control-plane messages: JSON objects over the coordinator's Unix socket and the executors'
// control sockets. Every request has "op"; every reply has "ok" and, on failure, "code" and "error".
#pragma once

#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "imlane/common/function_definition.h"
#include "imlane/common/unix_socket.h"
#include "imlane/status.h"
#include "imlane/types.h"

namespace imlane {

// `imlane serve`'s exit status when another coordinator holds its socket's lock (EX_TEMPFAIL).
constexpr int kExitSocketTaken = 75;

using json = nlohmann::json;

constexpr int kProtocolVersion = 1;

inline json OkReply() { return json{{"ok", true}}; }
inline json ErrorReply(const Status& st) {
  return json{{"ok", false}, {"code", static_cast<int>(st.code())}, {"error", st.message()}};
}
// The Status a reply carries.
Status ReplyStatus(const json& reply);

Status SendJson(int sock, const json& message, const std::vector<int>& fds = {});
// Receives and parses one message; malformed JSON is a ProtocolError.
Status RecvJson(int sock, json* message, std::vector<UniqueFd>* fds, int timeout_ms,
                const RecvLimits& limits = RecvLimits());
// Sends a request and waits for its reply; a reply with ok=false becomes its Status.
Status CallJson(int sock, const json& request, json* reply, std::vector<UniqueFd>* fds, int timeout_ms,
                const std::vector<int>& send_fds = {});

// `reply` with the request's id attached, so that CallJson can pair them.
json ReplyTo(const json& request, json reply);

json TypesToJson(const std::vector<TypeId>& types);
Result<std::vector<TypeId>> TypesFromJson(const json& j);

// A function's null_handling and exception_handling in a register or load message, by name. An
// absent field is "default" (as from `imlane register`); an unknown one is an InvalidArgument.
void FunctionOptionsToJson(const FunctionDefinition& def, json* msg);
Status FunctionOptionsFromJson(const json& msg, FunctionDefinition* def);

// Runs a message handler. Handlers decode with Field/OptionalField and never throw on peer data;
// this is the last line of defence (a bug, bad_alloc) so that one message cannot take the process down.
template <typename Handler>
json HandleGuarded(Handler&& handler) {
  try {
    return handler();
  } catch (const std::exception& e) {
    return ErrorReply(Status::ProtocolError(std::string("malformed message: ") + e.what()));
  }
}

// A JSON value from a peer as integer type T: nothing when it is not an integer (a float such as
// 3e30 would overflow on conversion) or outside T's range.
template <typename T>
std::optional<T> CheckedInteger(const json& v) {
  static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>, "integer types only");
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u <= static_cast<uint64_t>(std::numeric_limits<T>::max())) return static_cast<T>(u);
    return std::nullopt;
  }
  if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    if constexpr (std::numeric_limits<T>::is_signed) {
      if (i >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
          i <= static_cast<int64_t>(std::numeric_limits<T>::max())) {
        return static_cast<T>(i);
      }
    } else if (i >= 0 && static_cast<uint64_t>(i) <= static_cast<uint64_t>(std::numeric_limits<T>::max())) {
      return static_cast<T>(i);
    }
  }
  return std::nullopt;
}

// An integer field from a peer, or `fallback` when it is missing, not an integer or out of range.
template <typename T>
T IntegerOr(const json& j, const char* name, T fallback) {
  if (!j.is_object()) return fallback;
  auto it = j.find(name);
  if (it == j.end()) return fallback;
  return CheckedInteger<T>(*it).value_or(fallback);
}

// A JSON value's kind, for error messages ("a string", "an array", ...).
const char* JsonKind(const json& v);

// The one checked decoder of peer data: every field of every control message and reply goes
// through Field / OptionalField / IntegerOr (nlohmann's value(), get<>() and operator[] throw on a
// wrong type and must not touch what a peer sent). Supported T: integers (range-checked), bool,
// double, std::string and json (any value).
template <typename T>
Result<T> DecodeValue(const json& v, const char* name) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    std::optional<T> i = CheckedInteger<T>(v);
    if (!i) {
      if (v.is_number()) return Status::ProtocolError("message field '", name, "' is not an integer in range");
      return Status::ProtocolError("message field '", name, "' is not an integer (got ", JsonKind(v), ")");
    }
    return *i;
  } else if constexpr (std::is_same_v<T, json>) {
    return v;
  } else if constexpr (std::is_floating_point_v<T>) {
    // nlohmann would turn true/false into 1/0: only a JSON number is a number here.
    if (!v.is_number())
      return Status::ProtocolError("message field '", name, "' is not a number (got ", JsonKind(v), ")");
    return v.get<T>();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean())
      return Status::ProtocolError("message field '", name, "' is not a boolean (got ", JsonKind(v), ")");
    return v.get<bool>();
  } else {
    static_assert(std::is_same_v<T, std::string>, "Field<T>: integer, bool, double, std::string or json");
    if (!v.is_string())
      return Status::ProtocolError("message field '", name, "' is not a string (got ", JsonKind(v), ")");
    return v.get<std::string>();
  }
}

// A required field with a clear error when it is missing or of the wrong type. Never throws.
template <typename T>
Result<T> Field(const json& j, const char* name) {
  if (!j.is_object()) return Status::ProtocolError("message is not an object (looking for '", name, "')");
  auto it = j.find(name);
  if (it == j.end()) return Status::ProtocolError("message lacks field '", name, "'");
  return DecodeValue<T>(*it, name);
}

// An optional field: `fallback` when it is missing (or null), a ProtocolError naming it when it has
// the wrong type. Never throws.
template <typename T>
Result<T> OptionalField(const json& j, const char* name, T fallback) {
  if (!j.is_object()) return Status::ProtocolError("message is not an object (looking for '", name, "')");
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return fallback;
  return DecodeValue<T>(*it, name);
}

// An optional field that must be an array (or an object): the empty one when missing.
Result<json> OptionalArrayField(const json& j, const char* name);
Result<json> OptionalObjectField(const json& j, const char* name);

// A function's Python source travels as base64 of its bytes ("source_b64"): a file need not be
// UTF-8 (a latin-1 file with a coding cookie is valid Python), and JSON strings must be.
void SourceToJson(const std::string& source, json* msg);
Result<std::string> SourceFromJson(const json& msg);
std::string Base64Encode(const std::string& bytes);
Result<std::string> Base64Decode(const std::string& text);

}  // namespace imlane
