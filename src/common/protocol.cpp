#include "imlane/common/protocol.h"

#include <atomic>

namespace imlane {

Status ReplyStatus(const json& reply) {
  if (!reply.is_object()) return Status::ProtocolError("reply is not a JSON object");
  auto ok = reply.find("ok");
  if (ok != reply.end() && ok->is_boolean() && ok->get<bool>()) return Status::OK();
  auto code_field = reply.find("code");
  int code = code_field != reply.end() && code_field->is_number_integer() ? code_field->get<int>()
                                                                          : static_cast<int>(StatusCode::kInternal);
  if (code <= 0 || code > static_cast<int>(StatusCode::kInternal)) code = static_cast<int>(StatusCode::kInternal);
  auto error = reply.find("error");
  return Status(static_cast<StatusCode>(code),
                error != reply.end() && error->is_string() ? error->get<std::string>() : "unknown error");
}

Status SendJson(int sock, const json& message, const std::vector<int>& fds) {
  return SendMessage(sock, message.dump(), fds);
}

Status RecvJson(int sock, json* message, std::vector<UniqueFd>* fds, int timeout_ms) {
  std::string payload;
  IMLANE_RETURN_NOT_OK(RecvMessage(sock, &payload, fds, timeout_ms));
  *message = json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (message->is_discarded() || !message->is_object()) return Status::ProtocolError("malformed control message");
  return Status::OK();
}

Status CallJson(int sock, const json& request, json* reply, std::vector<UniqueFd>* fds, int timeout_ms,
                const std::vector<int>& send_fds) {
  // Every request carries an id that its reply echoes: a reply that arrives after its caller timed
  // out is recognised and skipped instead of answering the next request.
  static std::atomic<uint64_t> next_id{1};
  json req = request;
  const uint64_t id = next_id++;
  req["id"] = id;
  IMLANE_RETURN_NOT_OK(SendJson(sock, req, send_fds));
  std::vector<UniqueFd> ignored;
  while (true) {
    IMLANE_RETURN_NOT_OK(RecvJson(sock, reply, fds ? fds : &ignored, timeout_ms));
    auto got = reply->find("id");
    if (got != reply->end() && got->is_number_unsigned() && got->get<uint64_t>() == id) break;
  }
  return ReplyStatus(*reply);
}

json ReplyTo(const json& request, json reply) {
  auto id = request.find("id");
  if (id != request.end() && id->is_number_unsigned()) reply["id"] = *id;
  return reply;
}

json TypesToJson(const std::vector<TypeId>& types) {
  json a = json::array();
  for (TypeId t : types) a.push_back(TypeName(t));
  return a;
}

Result<std::vector<TypeId>> TypesFromJson(const json& j) {
  if (!j.is_array()) return Status::ProtocolError("type list is not an array");
  std::vector<TypeId> out;
  for (const auto& e : j) {
    if (!e.is_string()) return Status::ProtocolError("type name is not a string");
    IMLANE_ASSIGN_OR_RETURN(TypeId t, ParseType(e.get<std::string>()));
    out.push_back(t);
  }
  return out;
}

void FunctionOptionsToJson(const FunctionDefinition& def, json* msg) {
  (*msg)["null_handling"] = NullHandlingName(def.null_handling);
  (*msg)["exception_handling"] = ExceptionHandlingName(def.exception_handling);
  (*msg)["context_cache"] = def.context_cache;
}

Status FunctionOptionsFromJson(const json& msg, FunctionDefinition* def) {
  if (msg.contains("null_handling")) {
    IMLANE_ASSIGN_OR_RETURN(std::string name, Field<std::string>(msg, "null_handling"));
    IMLANE_ASSIGN_OR_RETURN(def->null_handling, ParseNullHandling(name));
  }
  if (msg.contains("exception_handling")) {
    IMLANE_ASSIGN_OR_RETURN(std::string name, Field<std::string>(msg, "exception_handling"));
    IMLANE_ASSIGN_OR_RETURN(def->exception_handling, ParseExceptionHandling(name));
  }
  if (msg.contains("context_cache")) {
    IMLANE_ASSIGN_OR_RETURN(def->context_cache, Field<bool>(msg, "context_cache"));
  }
  return Status::OK();
}

}  // namespace imlane
