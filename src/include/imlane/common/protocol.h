// Control-plane messages: JSON objects over the coordinator's Unix socket and the executors'
// control sockets. Every request has "op"; every reply has "ok" and, on failure, "code" and "error".
#pragma once

#include <limits>
#include <type_traits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "imlane/common/unix_socket.h"
#include "imlane/status.h"
#include "imlane/types.h"

namespace imlane {

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
Status RecvJson(int sock, json* message, std::vector<UniqueFd>* fds, int timeout_ms);
// Sends a request and waits for its reply; a reply with ok=false becomes its Status.
Status CallJson(int sock, const json& request, json* reply, std::vector<UniqueFd>* fds, int timeout_ms,
                const std::vector<int>& send_fds = {});

// `reply` with the request's id attached, so that CallJson can pair them.
json ReplyTo(const json& request, json reply);

json TypesToJson(const std::vector<TypeId>& types);
Result<std::vector<TypeId>> TypesFromJson(const json& j);

// Runs a message handler; a field of the wrong type (nlohmann throws) becomes a ProtocolError reply
// instead of taking the process down.
template <typename Handler>
json HandleGuarded(Handler&& handler) {
  try {
    return handler();
  } catch (const std::exception& e) {
    return ErrorReply(Status::ProtocolError(std::string("malformed message: ") + e.what()));
  }
}

// An integer field from a peer, or `fallback` when it is missing, not an integer (a float such as
// 3e30 would overflow on conversion) or out of T's range.
template <typename T>
T IntegerOr(const json& j, const char* name, T fallback) {
  auto it = j.find(name);
  if (it == j.end()) return fallback;
  if (it->is_number_unsigned()) {
    uint64_t v = it->get<uint64_t>();
    return v <= static_cast<uint64_t>(std::numeric_limits<T>::max()) ? static_cast<T>(v) : fallback;
  }
  if (it->is_number_integer()) {
    int64_t v = it->get<int64_t>();
    if (std::numeric_limits<T>::is_signed) {
      return v >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
                     v <= static_cast<int64_t>(std::numeric_limits<T>::max())
                 ? static_cast<T>(v)
                 : fallback;
    }
    return v >= 0 && static_cast<uint64_t>(v) <= static_cast<uint64_t>(std::numeric_limits<T>::max()) ? static_cast<T>(v)
                                                                                                    : fallback;
  }
  return fallback;
}

// Typed field access with a clear error for a missing or mistyped field.
template <typename T>
Result<T> Field(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end()) return Status::ProtocolError(std::string("message lacks field '") + name + "'");
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    if (!it->is_number_integer()) {
      return Status::ProtocolError(std::string("message field '") + name + "' is not an integer");
    }
  }
  try {
    return it->get<T>();
  } catch (const std::exception&) {
    return Status::ProtocolError(std::string("message field '") + name + "' has the wrong type");
  }
}

}  // namespace imlane
