#include <string>

#include "imlane/batch_view.h"
#include "imlane/bit_util.h"
#include "imlane/lane/batch_layout.h"

namespace imlane {

namespace {

// True when [off, off + len) lies inside [lo, hi), without overflow.
bool InRange(uint64_t off, uint64_t len, uint64_t lo, uint64_t hi) { return off >= lo && off <= hi && len <= hi - off; }

Status Corrupt(size_t col, const std::string& what) {
  return Status::ProtocolError("corrupt batch: column " + std::to_string(col) + ": " + what);
}

}  // namespace

Result<BatchView> BatchLayout::Open(const uint8_t* region, size_t region_bytes, uint64_t offset, uint64_t bytes) {
  if (!InRange(offset, bytes, 0, region_bytes) || bytes < sizeof(BatchHeaderWire) || offset % 8 != 0) {
    return Status::ProtocolError("corrupt batch: placement [" + std::to_string(offset) + ", +" + std::to_string(bytes) +
                                 ") is outside the " + std::to_string(region_bytes) + "-byte Lane or misaligned");
  }
  BatchHeaderWire h;
  std::memcpy(&h, region + offset, sizeof(h));
  if (h.magic != kBatchMagic || h.version != kBatchFormatVersion) {
    return Status::ProtocolError("corrupt batch: bad magic or version");
  }
  if (h.num_columns > kMaxColumns ||
      sizeof(BatchHeaderWire) + sizeof(ColumnWire) * static_cast<uint64_t>(h.num_columns) > bytes) {
    return Status::ProtocolError("corrupt batch: " + std::to_string(h.num_columns) + " columns do not fit");
  }
  if (h.total_bytes > bytes) {
    return Status::ProtocolError("corrupt batch: claims " + std::to_string(h.total_bytes) + " bytes, only " +
                                 std::to_string(bytes) + " available");
  }
  if (h.num_rows > (uint64_t{1} << 40)) return Status::ProtocolError("corrupt batch: absurd row count");
  const uint64_t lo = offset, hi = offset + h.total_bytes;
  const uint64_t n = h.num_rows;
  BatchView view;
  view.num_rows_ = n;
  view.total_bytes_ = h.total_bytes;
  view.columns_.reserve(h.num_columns);
  for (size_t i = 0; i < h.num_columns; i++) {
    ColumnWire w;
    std::memcpy(&w, region + offset + sizeof(BatchHeaderWire) + i * sizeof(ColumnWire), sizeof(w));
    if (!IsValidTypeId(w.type)) return Corrupt(i, "unknown type id " + std::to_string(w.type));
    TypeId type = static_cast<TypeId>(w.type);
    const uint8_t* validity = nullptr;
    if (w.validity_offset != 0) {
      if (!InRange(w.validity_offset, bit_util::BytesForBits(n), lo, hi))
        return Corrupt(i, "validity bitmap out of bounds");
      validity = region + w.validity_offset;
      const uint64_t valid = bit_util::CountSetBits(validity, 0, n);
      if (n - valid != w.null_count) {
        return Corrupt(i, "null_count " + std::to_string(w.null_count) + " disagrees with bitmap (" +
                              std::to_string(n - valid) + ")");
      }
    } else if (w.null_count != 0) {
      return Corrupt(i, "null_count without a validity bitmap");
    }
    if (w.data_offset % 8 != 0) return Corrupt(i, "misaligned data buffer");
    const int32_t* offsets = nullptr;
    if (type == TypeId::kVarchar) {
      if (w.offsets_offset % 4 != 0 || !InRange(w.offsets_offset, (n + 1) * 4, lo, hi)) {
        return Corrupt(i, "string offsets out of bounds");
      }
      if (!InRange(w.data_offset, w.data_bytes, lo, hi)) return Corrupt(i, "string data out of bounds");
      offsets = reinterpret_cast<const int32_t*>(region + w.offsets_offset);
      if (offsets[0] < 0) return Corrupt(i, "negative first string offset");
      for (uint64_t r = 0; r < n; r++) {
        if (offsets[r + 1] < offsets[r]) return Corrupt(i, "string offsets decrease at row " + std::to_string(r));
      }
      if (static_cast<uint64_t>(offsets[n]) > w.data_bytes) return Corrupt(i, "string offsets past the data");
    } else {
      uint64_t need = type == TypeId::kBoolean ? bit_util::BytesForBits(n) : n * FixedWidth(type);
      if (w.data_bytes != need) {
        return Corrupt(i, std::string(TypeName(type)) + " data has " + std::to_string(w.data_bytes) + " bytes, " +
                              std::to_string(n) + " rows need " + std::to_string(need));
      }
      if (!InRange(w.data_offset, w.data_bytes, lo, hi)) return Corrupt(i, "data out of bounds");
    }
    view.columns_.emplace_back(type, n, w.null_count, validity, region + w.data_offset, offsets, w.data_bytes);
  }
  return view;
}

}  // namespace imlane
