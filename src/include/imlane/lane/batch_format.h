// Wire format of a batch in a Lane (internal). A batch is a BatchHeaderWire followed by one
// ColumnWire per column, then the column buffers. All offsets are from the start of the region.
#pragma once

#include <cstdint>

namespace imlane {

constexpr uint32_t kBatchMagic = 0x48544142;  // "BATH" little-endian
constexpr uint16_t kBatchFormatVersion = 1;
constexpr uint64_t kBufferAlignment = 64;  // Arrow's recommended buffer alignment
constexpr uint32_t kMaxColumns = 4096;

struct BatchHeaderWire {
  uint32_t magic;
  uint16_t version;
  uint16_t reserved;
  uint32_t num_columns;
  uint32_t reserved2;
  uint64_t num_rows;
  uint64_t total_bytes;  // from the batch's own offset to the end of its last buffer
};
static_assert(sizeof(BatchHeaderWire) == 32, "wire layout");

struct ColumnWire {
  uint8_t type;
  uint8_t reserved[7];
  uint64_t null_count;
  uint64_t validity_offset;  // 0: no bitmap, every value valid
  uint64_t data_offset;
  uint64_t data_bytes;
  uint64_t offsets_offset;  // VARCHAR only: (num_rows + 1) int32
};
static_assert(sizeof(ColumnWire) == 48, "wire layout");

inline uint64_t AlignUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

}  // namespace imlane
