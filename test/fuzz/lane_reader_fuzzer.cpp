// libFuzzer target: whatever bytes a peer leaves in a Lane or sends as a control message, the
// readers must reject it cleanly: no crash, no exception, no out-of-bounds access (ASan), no UB
// (UBSan).
//
// Modes (the first input byte, or IMLANE_FUZZ_MODE=structured for the structure-aware mode only):
//   0  a Lane region, read by BatchLayout::Open and the column readers
//   1  raw bytes as a control message (the JSON parser, then every decoder)
//   2  structure-aware: a valid message or reply of a real op (test/unit/message_cases.h) with
//      fields replaced, added or removed by values built from the input (wrong types and shapes,
//      nested junk, huge numbers, strings that are not UTF-8), decoded by every Decode* function
//      the coordinator, the executors and DBEnd use, before and after a trip over the wire format.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "../unit/message_cases.h"
#include "imlane/batch_view.h"
#include "imlane/common/messages.h"
#include "imlane/common/protocol.h"
#include "imlane/lane/batch_layout.h"

using namespace imlane;

namespace {

bool g_structured_only = false;

const std::vector<testing::MessageCase>& Templates() {
  static const std::vector<testing::MessageCase> all = [] {
    std::vector<testing::MessageCase> v = testing::CoordinatorRequests();
    for (auto& c : testing::ExecutorRequests()) v.push_back(c);
    for (auto& c : testing::Replies()) v.push_back(c);
    v.push_back({"shutdown", {{"op", "shutdown"}}});
    v.push_back({"add_lane", {{"op", "add_lane"}, {"lane_id", 1}}});
    v.push_back({"ready", {{"op", "ready"}, {"pid", 1}}});
    return v;
  }();
  return all;
}

const char* const kNames[] = {"op",
                              "id",
                              "ok",
                              "code",
                              "error",
                              "name",
                              "source_b64",
                              "filename",
                              "source_ref",
                              "entry",
                              "arg_types",
                              "return_types",
                              "null_handling",
                              "exception_handling",
                              "context_cache",
                              "options",
                              "executors",
                              "slots_per_executor",
                              "lane_bytes",
                              "lane_ids",
                              "index",
                              "reason",
                              "fid",
                              "lane_id",
                              "pid",
                              "protocol",
                              "python_env",
                              "version",
                              "lanes",
                              "executor",
                              "dropped",
                              "functions",
                              "batches",
                              "rows",
                              "busy_ns",
                              "errors",
                              "loads",
                              "cache_hits",
                              "cache_misses",
                              "cache_bytes",
                              "cache_saved_s",
                              "mean_batch_rows",
                              "busy_s",
                              "executors_used",
                              "source"};
const char* const kWords[] = {"register",
                              "acquire",
                              "drop",
                              "release",
                              "kill_executor",
                              "reset_cache",
                              "status",
                              "hello",
                              "shutdown",
                              "load",
                              "unload",
                              "add_lane",
                              "remove_lane",
                              "stats",
                              "ready",
                              "DOUBLE",
                              "VARCHAR",
                              "BIGINT",
                              "NOPE",
                              "default",
                              "special",
                              "return_null",
                              "f",
                              "",
                              "<inline:f>",
                              "ZGVmIHB5ZnVuKHgpOiByZXR1cm4geAo="};

json Value(FuzzedDataProvider& p, int depth);

json Interesting(FuzzedDataProvider& p) {
  switch (p.ConsumeIntegralInRange<int>(0, 9)) {
    case 0: return 0;
    case 1: return -1;
    case 2: return static_cast<uint64_t>(std::numeric_limits<uint32_t>::max()) + 1;
    case 3: return std::numeric_limits<int64_t>::min();
    case 4: return std::numeric_limits<uint64_t>::max();
    case 5: return 1e300;
    case 6: return -0.0;
    case 7: return std::numeric_limits<int32_t>::max();
    case 8: return 4.5;
    default: return std::numeric_limits<double>::min();
  }
}

json Object(FuzzedDataProvider& p, int depth) {
  json o = json::object();
  const int n = p.ConsumeIntegralInRange<int>(0, 4);
  for (int i = 0; i < n; i++) {
    std::string key = p.ConsumeBool() ? kNames[p.ConsumeIntegralInRange<size_t>(0, std::size(kNames) - 1)]
                                      : p.ConsumeRandomLengthString(12);
    o[key] = Value(p, depth + 1);
  }
  return o;
}

json Value(FuzzedDataProvider& p, int depth) {
  const int kind = p.ConsumeIntegralInRange<int>(0, depth >= 4 ? 8 : 11);
  switch (kind) {
    case 0: return nullptr;
    case 1: return p.ConsumeBool();
    case 2: return p.ConsumeIntegral<int64_t>();
    case 3: return p.ConsumeIntegral<uint64_t>();
    case 4: return p.ConsumeFloatingPoint<double>();
    case 5: return Interesting(p);
    case 6: return p.ConsumeRandomLengthString(32);  // may be invalid UTF-8
    case 7: return kWords[p.ConsumeIntegralInRange<size_t>(0, std::size(kWords) - 1)];
    case 8: return Base64Encode(p.ConsumeRandomLengthString(48));
    case 9: {
      json a = json::array();
      const int n = p.ConsumeIntegralInRange<int>(0, 4);
      for (int i = 0; i < n; i++) a.push_back(Value(p, depth + 1));
      return a;
    }
    default: return Object(p, depth);
  }
}

// Every decoder, and the message again after the wire format (what SendJson / RecvJson do).
void DecodeEverything(const json& msg) {
  DecodeAllForFuzzing(msg);
  const std::string wire = msg.dump(-1, ' ', false, json::error_handler_t::replace);
  json back = json::parse(wire, nullptr, /*allow_exceptions=*/false);
  if (back.is_discarded()) std::abort();  // what we send must parse
  DecodeAllForFuzzing(back);
  (void)ReplyTo(back, ErrorReply(Status::ProtocolError("x")));
}

void Structured(const uint8_t* data, size_t size) {
  FuzzedDataProvider p(data, size);
  const auto& templates = Templates();
  json msg = templates[p.ConsumeIntegralInRange<size_t>(0, templates.size() - 1)].valid;
  const int edits = p.ConsumeIntegralInRange<int>(0, 6);
  for (int e = 0; e < edits && p.remaining_bytes() > 0; e++) {
    std::vector<json::json_pointer> paths;
    testing::detail::Collect(msg, json::json_pointer(), &paths);
    switch (p.ConsumeIntegralInRange<int>(0, 3)) {
      case 0:
      case 1:  // replace a value anywhere (a field, a list element, a nested field)
        if (!paths.empty()) msg[paths[p.ConsumeIntegralInRange<size_t>(0, paths.size() - 1)]] = Value(p, 1);
        break;
      case 2:  // add or overwrite a top-level field
        msg[kNames[p.ConsumeIntegralInRange<size_t>(0, std::size(kNames) - 1)]] = Value(p, 1);
        break;
      default:  // remove one
        if (!paths.empty()) {
          const auto at = paths[p.ConsumeIntegralInRange<size_t>(0, paths.size() - 1)];
          json& parent = msg[at.parent_pointer()];
          if (parent.is_object()) parent.erase(at.back());
        }
    }
  }
  DecodeEverything(msg);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* mode = std::getenv("IMLANE_FUZZ_MODE");
  g_structured_only = mode != nullptr && std::strcmp(mode, "structured") == 0;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (g_structured_only) {
    Structured(data, size);
    return 0;
  }
  if (size < 1) return 0;
  const uint8_t mode = data[0] % 3;
  data++;
  size--;
  if (mode == 0) {
    // A Lane region: the batch at offset 0 spans the whole input. Copied so it is 64-byte aligned
    // like shared memory, and exactly as long as the input so ASan sees any overrun.
    std::vector<uint8_t> region(data, data + size);
    auto view = BatchLayout::Open(region.data(), region.size(), 0, region.size());
    if (!view.ok()) return 0;
    uint64_t sink = 0;
    for (size_t c = 0; c < view->num_columns(); c++) {
      const ColumnView& col = view->column(c);
      for (size_t r = 0; r < col.length(); r++) {
        if (col.IsNull(r)) continue;
        if (col.type() == TypeId::kVarchar) {
          sink += col.GetString(r).size();
        } else if (col.type() == TypeId::kBoolean) {
          sink += col.GetBool(r);
        } else {
          sink += col.data()[r * FixedWidth(col.type())];
        }
      }
    }
    volatile uint64_t keep = sink;
    (void)keep;
  } else if (mode == 1) {
    // A control message, decoded the way the coordinator, the executors and DBEnd decode theirs.
    json msg = json::parse(std::string(reinterpret_cast<const char*>(data), size), nullptr, false);
    if (msg.is_discarded() || !msg.is_object()) return 0;
    DecodeEverything(msg);
  } else {
    Structured(data, size);
  }
  return 0;
}
