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
  // Text fields (names, paths, error messages) that are not UTF-8 are sent with U+FFFD instead of
  // throwing; code never is text here (SourceToJson sends its bytes).
  return SendMessage(sock, message.dump(-1, ' ', false, json::error_handler_t::replace), fds);
}

Status RecvJson(int sock, json* message, std::vector<UniqueFd>* fds, int timeout_ms, const RecvLimits& limits) {
  std::string payload;
  IMLANE_RETURN_NOT_OK(RecvMessage(sock, &payload, fds, timeout_ms, limits));
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
  std::vector<UniqueFd> ignored;
  Status sent = SendJson(sock, req, send_fds);
  if (!sent.ok()) {
    // A peer that refused us (a connection cap) answered and closed before reading: its answer
    // says why, which "peer closed the connection" would not.
    if (sent.code() == StatusCode::kUnavailable && RecvJson(sock, reply, fds ? fds : &ignored, 0).ok() &&
        !ReplyStatus(*reply).ok()) {
      return ReplyStatus(*reply);
    }
    return sent;
  }
  while (true) {
    IMLANE_RETURN_NOT_OK(RecvJson(sock, reply, fds ? fds : &ignored, timeout_ms));
    auto got = reply->find("id");
    if (got != reply->end() && got->is_number_unsigned() && got->get<uint64_t>() == id) break;
    // An error without an id answers a request the peer could not read (too large, refused).
    if (got == reply->end() && !ReplyStatus(*reply).ok()) break;
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
  (*msg)["backend"] = BackendName(def.backend);
  (*msg)["replicas"] = def.replicas;
  (*msg)["retries"] = def.retries;
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
  IMLANE_ASSIGN_OR_RETURN(std::string backend, OptionalField<std::string>(msg, "backend", "local"));
  IMLANE_ASSIGN_OR_RETURN(def->backend, ParseBackend(backend));
  IMLANE_ASSIGN_OR_RETURN(def->replicas, OptionalField<int>(msg, "replicas", 0));
  IMLANE_ASSIGN_OR_RETURN(def->retries, OptionalField<int>(msg, "retries", kDefaultRayRetries));
  if (def->replicas < 0 || def->replicas > kMaxReplicas) {
    return Status::InvalidArgument("replicas must be between 0 (one per CPU of the Ray cluster) and ", kMaxReplicas,
                                   ", got ", def->replicas);
  }
  if (def->retries < 0 || def->retries > 100) {
    return Status::InvalidArgument("retries must be between 0 (off) and 100, got ", def->retries);
  }
  return Status::OK();
}

const char* JsonKind(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a float";
    default: return "an unexpected value";
  }
}

Result<json> OptionalArrayField(const json& j, const char* name) {
  IMLANE_ASSIGN_OR_RETURN(json v, OptionalField<json>(j, name, json::array()));
  if (!v.is_array()) return Status::ProtocolError("message field '", name, "' is not an array (got ", JsonKind(v), ")");
  return v;
}

Result<json> OptionalObjectField(const json& j, const char* name) {
  IMLANE_ASSIGN_OR_RETURN(json v, OptionalField<json>(j, name, json::object()));
  if (!v.is_object())
    return Status::ProtocolError("message field '", name, "' is not an object (got ", JsonKind(v), ")");
  return v;
}

namespace {
constexpr char kBase64Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}  // namespace

std::string Base64Encode(const std::string& bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) | (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                       static_cast<uint8_t>(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kBase64Alphabet[(v >> s) & 63]);
  }
  if (i < bytes.size()) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out.push_back(kBase64Alphabet[(v >> 18) & 63]);
    out.push_back(kBase64Alphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < bytes.size() ? kBase64Alphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

Result<std::string> Base64Decode(const std::string& text) {
  if (text.size() % 4 != 0)
    return Status::ProtocolError("base64 text of ", text.size(), " characters (not a multiple of 4)");
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    uint32_t v = 0;
    int pad = 0;
    for (size_t k = 0; k < 4; k++) {
      const char c = text[i + k];
      int d;
      if (c >= 'A' && c <= 'Z') {
        d = c - 'A';
      } else if (c >= 'a' && c <= 'z') {
        d = c - 'a' + 26;
      } else if (c >= '0' && c <= '9') {
        d = c - '0' + 52;
      } else if (c == '+') {
        d = 62;
      } else if (c == '/') {
        d = 63;
      } else if (c == '=' && i + 4 == text.size() && k >= 2 && (k == 3 || text[i + 3] == '=')) {
        d = 0;
        pad++;
      } else {
        return Status::ProtocolError("invalid base64 character at offset ", i + k);
      }
      if (pad > 0 && c != '=') return Status::ProtocolError("invalid base64 padding");
      v = (v << 6) | static_cast<uint32_t>(d);
    }
    out.push_back(static_cast<char>((v >> 16) & 0xff));
    if (pad < 2) out.push_back(static_cast<char>((v >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(v & 0xff));
  }
  return out;
}

void SourceToJson(const std::string& source, json* msg) { (*msg)["source_b64"] = Base64Encode(source); }

Result<std::string> SourceFromJson(const json& msg) {
  IMLANE_ASSIGN_OR_RETURN(std::string text, OptionalField<std::string>(msg, "source_b64", std::string()));
  auto bytes = Base64Decode(text);
  if (!bytes.ok()) return bytes.status().WithContext("message field 'source_b64'");
  return bytes;
}

}  // namespace imlane
