// Where batches go inside a Lane, and the internal entry points of the public BatchBuilder and
// BatchView that only IMLane itself calls: placing a builder in a region and opening a view over
// bytes written by another process. Every placement rule of the Lane lives here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "imlane/batch_builder.h"
#include "imlane/batch_view.h"
#include "imlane/lane/batch_format.h"

namespace imlane {

class BatchLayout {
 public:
  // Bytes a batch of `rows` rows of `types` needs when its VARCHAR columns hold `string_bytes`
  // bytes in total.
  static uint64_t RequiredBytes(const std::vector<TypeId>& types, size_t rows, uint64_t string_bytes);

  // Request and result share one arena: the request starts at the arena, the result right after
  // it. The client keeps back ResultReserve() bytes so that the fixed-width part of any result of
  // `rows` rows fits; VARCHAR results use whatever is left.
  static uint64_t ResultReserve(const std::vector<TypeId>& return_types, size_t rows) {
    return RequiredBytes(return_types, rows, 0) + kBufferAlignment;
  }
  static uint64_t ResultOffset(uint64_t request_offset, uint64_t request_bytes) {
    return AlignUp(request_offset + request_bytes, kBufferAlignment);
  }

  // Starts `builder` at region + offset with `available` bytes of room.
  static Status Start(BatchBuilder* builder, uint8_t* region, size_t region_bytes, uint64_t offset, uint64_t available,
                      const std::vector<TypeId>& types, size_t capacity_rows) {
    return builder->Start(region, region_bytes, offset, available, types, capacity_rows);
  }

  // Validates the batch at [offset, offset + bytes) of the region [region, region + region_bytes):
  // magic, counts, type ids, every buffer inside the batch, string offsets monotonic and in bounds,
  // null counts matching the bitmaps. Nothing is dereferenced before it has been checked.
  static Result<BatchView> Open(const uint8_t* region, size_t region_bytes, uint64_t offset, uint64_t bytes);
};

}  // namespace imlane
