// Valid control messages and replies of every kind, and their malformed variants: each field (and
// each element of a list, each field of a nested object) replaced by a value of another type or
// shape. Shared by the decoder unit tests and the integration tests that send them to a real
// coordinator and a real executor.
#pragma once

#include <string>
#include <vector>

#include "imlane/common/protocol.h"

namespace imlane::testing {

struct MessageCase {
  std::string kind;  // the op, or "<op> reply"
  json valid;
};

inline std::vector<MessageCase> CoordinatorRequests() {
  const std::string source = Base64Encode("def pyfun(x):\n    return x\n");
  return {
      {"register",
       {{"op", "register"},
        {"name", "f"},
        {"source_b64", source},
        {"filename", "<inline:f>"},
        {"source_ref", "<inline>"},
        {"entry", "pyfun"},
        {"arg_types", {"DOUBLE", "VARCHAR"}},
        {"return_types", {"DOUBLE"}},
        {"null_handling", "default"},
        {"exception_handling", "default"},
        {"context_cache", true},
        {"options", {{"batch_size", 64}}}}},
      {"acquire",
       {{"op", "acquire"}, {"name", "f"}, {"executors", 1}, {"slots_per_executor", 1}, {"lane_bytes", 1048576}}},
      {"drop", {{"op", "drop"}, {"name", "f"}}},
      {"lookup", {{"op", "lookup"}, {"name", "f"}}},
      {"abandon", {{"op", "abandon"}, {"lane_ids", {1, 2}}, {"reason", "test"}}},
      {"release", {{"op", "release"}, {"lane_ids", {1, 2}}}},
      {"kill_executor", {{"op", "kill_executor"}, {"index", 0}, {"reason", "test"}}},
      {"reset_cache", {{"op", "reset_cache"}, {"name", "f"}}},
      {"status", {{"op", "status"}}},
      {"hello", {{"op", "hello"}}},
  };
}

inline std::vector<MessageCase> ExecutorRequests() {
  const std::string source = Base64Encode("def pyfun(x):\n    return x\n");
  return {
      {"load",
       {{"op", "load"},
        {"fid", 7},
        {"name", "f"},
        {"source_b64", source},
        {"filename", "<inline:f>"},
        {"entry", "pyfun"},
        {"arg_types", {"DOUBLE"}},
        {"return_types", {"DOUBLE"}},
        {"null_handling", "default"},
        {"exception_handling", "default"},
        {"context_cache", true}}},
      {"unload", {{"op", "unload"}, {"fid", 7}}},
      {"remove_lane", {{"op", "remove_lane"}, {"lane_id", 9}}},
      {"reset_cache", {{"op", "reset_cache"}, {"name", "f"}}},
      {"stats", {{"op", "stats"}}},
  };
}

inline std::vector<MessageCase> Replies() {
  return {
      {"hello reply", {{"ok", true}, {"protocol", 1}, {"python_env", "/venv"}}},
      {"register reply", {{"ok", true}, {"fid", 3}, {"version", 1}}},
      {"acquire reply",
       {{"ok", true},
        {"fid", 3},
        {"version", 1},
        {"arg_types", {"DOUBLE"}},
        {"return_types", {"DOUBLE"}},
        {"lanes", {{{"lane_id", 1}, {"executor", 0}}}},
        {"executors", {{{"index", 0}}}}}},
      {"reset_cache reply", {{"ok", true}, {"dropped", 2}}},
      {"stats reply",
       {{"ok", true},
        {"functions",
         {{{"fid", 1},
           {"batches", 2},
           {"rows", 3},
           {"busy_ns", 4},
           {"errors", 0},
           {"loads", 1},
           {"cache_hits", 0},
           {"cache_misses", 0},
           {"cache_bytes", 0},
           {"cache_saved_s", 0.5}}}}}},
      {"status reply",
       {{"ok", true},
        {"functions",
         {{{"name", "f"},
           {"version", 1},
           {"arg_types", {"DOUBLE"}},
           {"return_types", {"DOUBLE"}},
           {"source", "<inline>"},
           {"null_handling", "default"},
           {"exception_handling", "default"},
           {"executors_used", 1},
           {"executors_loaded", 1},
           {"loads", 1},
           {"batches", 2},
           {"rows", 3},
           {"errors", 0},
           {"cache_hits", 0},
           {"cache_misses", 0},
           {"cache_bytes", 0},
           {"mean_batch_rows", 1.5},
           {"busy_s", 0.25},
           {"cache_saved_s", 0.5}}}}}},
  };
}

// A value of every type and shape, the numbers at and beyond every range the decoders use.
inline std::vector<json> JunkValues() {
  return {json(5),
          json(-1),
          json(1.5),
          json(1e300),
          json(-1e300),
          json(18446744073709551615ull),
          json(INT64_MIN),
          json(4294967296ull),
          json("x"),
          json(""),
          json(true),
          json::array(),
          json::array({1, "a", nullptr}),
          json::object(),
          json{{"a", json::array({json{{"b", nullptr}}, 3.5})}}};
}

struct Mutation {
  std::string kind, field;  // field: the name the error must give
  std::string where;        // JSON pointer of the replaced value
  json message;
};

namespace detail {

inline bool IsInteger(const json& v) { return v.is_number_integer() || v.is_number_unsigned(); }

// Whether `junk` may stand where `valid` stood and still decode: same type, an integer where a
// float was, or an integer that (a different but valid one) fits the range of the original's field.
inline bool Acceptable(const json& valid, const json& junk) {
  if (valid.is_string()) return junk.is_string();
  if (valid.is_boolean()) return junk.is_boolean();
  if (valid.is_number_float()) return junk.is_number();
  if (IsInteger(valid)) {
    if (!IsInteger(junk)) return false;
    // Small non-negative integers fit every field; the extremes are refused by every field but the
    // 64-bit ones, and those are not worth special-casing: they are left out.
    return junk.is_number_unsigned() ? junk.get<uint64_t>() <= 0x7fffffff : junk.get<int64_t>() >= 0;
  }
  if (valid.is_array()) return junk.is_array() && junk.empty();  // an empty list is a valid list
  return false;
}

inline bool Ambiguous(const json& valid, const json& junk) {
  // Negative or huge integers for integer fields: valid for some (index -1, 64-bit ids), not others.
  return IsInteger(valid) && IsInteger(junk) && !Acceptable(valid, junk);
}

inline void Collect(const json& node, const json::json_pointer& at, std::vector<json::json_pointer>* out) {
  if (!at.empty()) out->push_back(at);
  if (node.is_object()) {
    for (auto it = node.begin(); it != node.end(); ++it) Collect(it.value(), at / it.key(), out);
  } else if (node.is_array()) {
    for (size_t i = 0; i < node.size(); i++) Collect(node[i], at / i, out);
  }
}

inline std::string FieldName(const json::json_pointer& at) {
  std::string name;
  for (json::json_pointer p = at; !p.empty(); p = p.parent_pointer()) {
    const std::string& token = p.back();
    if (token.find_first_not_of("0123456789") != std::string::npos) return token;
  }
  return name;
}

}  // namespace detail

// Every malformed variant of `c`: every value in it (top-level fields, list elements, nested
// fields) replaced by each junk value that cannot be valid there. `include_op`: also the op.
inline std::vector<Mutation> Mutations(const MessageCase& c, bool include_op = true) {
  std::vector<json::json_pointer> paths;
  detail::Collect(c.valid, json::json_pointer(), &paths);
  std::vector<Mutation> out;
  for (const auto& at : paths) {
    const std::string field = detail::FieldName(at);
    const std::string where = at.to_string();
    if (field == "ok" || (field == "op" && !include_op)) continue;
    if (where.rfind("/options/", 0) == 0) continue;  // the content of options is opaque
    const json& valid = c.valid[at];
    for (const json& junk : JunkValues()) {
      if (detail::Acceptable(valid, junk) || detail::Ambiguous(valid, junk)) continue;
      if (valid.is_object() && junk.is_object()) continue;  // an object of other fields: defaults
      json m = c.valid;
      m[at] = junk;
      out.push_back({c.kind, field, where, m});
    }
  }
  return out;
}

}  // namespace imlane::testing
