// libFuzzer target: whatever bytes a peer leaves in a Lane or sends as a control message, the
// readers must reject it cleanly: no crash, no out-of-bounds access (ASan), no UB (UBSan).
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "imlane/batch_view.h"
#include "imlane/common/protocol.h"
#include "imlane/lane/batch_layout.h"

using namespace imlane;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  data++;
  size--;
  if (mode % 2 == 0) {
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
  } else {
    // A control message, decoded the way the coordinator and the executor decode theirs.
    json msg = json::parse(std::string(reinterpret_cast<const char*>(data), size), nullptr, false);
    if (msg.is_discarded() || !msg.is_object()) return 0;
    (void)ReplyStatus(msg);
    (void)Field<std::string>(msg, "op");
    (void)Field<uint64_t>(msg, "lane_id");
    (void)Field<uint32_t>(msg, "fid");
    (void)IntegerOr<uint32_t>(msg, "fid", 0);
    (void)IntegerOr<int>(msg, "index", -1);
    (void)HandleGuarded([&] { return json{{"name", msg.value("name", "")}}; });
    auto it = msg.find("arg_types");
    if (it != msg.end()) (void)TypesFromJson(*it);
  }
  return 0;
}
