// Writing a columnar batch straight into a Lane: BatchBuilder lays the batch out for its capacity
// before any value is written, and ColumnBuilder appends each value exactly once, in the Arrow
// columnar layout. Engines get a started builder from DBEndContext::BeginBatch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "imlane/status.h"
#include "imlane/types.h"

namespace imlane {

class BatchBuilder;

// Appends values to one column of a BatchBuilder, straight into the Lane.
class ColumnBuilder {
 public:
  TypeId type() const { return type_; }
  size_t length() const { return length_; }
  size_t capacity() const { return capacity_; }

  // Fixed-width values (not BOOLEAN/VARCHAR); `validity` is an optional Arrow bitmap whose bit
  // `bit_offset` belongs to values[0].
  Status AppendValues(const void* values, size_t count, const uint8_t* validity = nullptr, size_t bit_offset = 0);
  // BOOLEAN from one byte per value (0 = false).
  Status AppendBooleanBytes(const uint8_t* bytes, size_t count, const uint8_t* validity = nullptr,
                            size_t bit_offset = 0);
  Status AppendString(std::string_view value);
  Status AppendNull();
  Status AppendNulls(size_t count);
  template <typename T>
  Status Append(T value) {
    return AppendValues(&value, 1);
  }
  Status AppendBool(bool value) {
    uint8_t b = value ? 1 : 0;
    return AppendBooleanBytes(&b, 1);
  }
  // Room for `count` fixed-width values written by the caller; they count as valid rows.
  Result<uint8_t*> ReserveValues(size_t count);
  // Marks row `row` (already appended) as NULL.
  void SetNull(size_t row);
  // Drops rows from `rows` on (undoes a partial append).
  void Truncate(size_t rows);

 private:
  friend class BatchBuilder;
  Status CheckRoom(size_t count) const;
  void SetValidRange(size_t start, size_t count, bool valid);
  void CopyValidity(const uint8_t* validity, size_t bit_offset, size_t count);

  TypeId type_ = TypeId::kInt32;
  size_t index_ = 0;
  size_t capacity_ = 0;
  size_t length_ = 0;
  size_t null_count_ = 0;
  bool has_bitmap_ = false;
  uint8_t* validity_ = nullptr;
  uint8_t* data_ = nullptr;
  int32_t* offsets_ = nullptr;
  size_t string_capacity_ = 0;  // VARCHAR: bytes available for values
  uint64_t validity_offset_ = 0;
  uint64_t data_offset_ = 0;
  uint64_t offsets_offset_ = 0;
};

// Lays out a batch of up to `capacity_rows` rows directly in the Lane so that each value is written
// exactly once. Fixed-width columns get room for capacity_rows values; VARCHAR columns share the rest
// of the space equally for their bytes.
class BatchBuilder {
 public:
  BatchBuilder() = default;
  BatchBuilder(const BatchBuilder&) = delete;
  BatchBuilder& operator=(const BatchBuilder&) = delete;

  size_t num_columns() const { return columns_.size(); }
  ColumnBuilder& column(size_t i) { return columns_[i]; }
  size_t capacity_rows() const { return capacity_rows_; }
  // Rows so far: the length of the first column (all must agree at Finish).
  size_t num_rows() const { return columns_.empty() ? forced_rows_ : columns_[0].length(); }
  // For a batch without columns: its row count.
  void SetRowsForEmptySchema(size_t rows) { forced_rows_ = rows; }

  // Drops every column back to `rows` rows, e.g. after an append that did not fit.
  void Truncate(size_t rows) {
    for (auto& c : columns_) c.Truncate(rows);
  }

  // Writes the batch header; returns the bytes the batch occupies from its offset.
  Result<uint64_t> Finish();

 private:
  friend class BatchLayout;  // places (Start) a batch inside a Lane; internal to IMLane
  Status Start(uint8_t* region, size_t region_bytes, uint64_t offset, uint64_t available,
               const std::vector<TypeId>& types, size_t capacity_rows);

  uint8_t* region_ = nullptr;
  uint64_t offset_ = 0;
  uint64_t available_ = 0;
  size_t capacity_rows_ = 0;
  size_t forced_rows_ = 0;
  uint64_t end_ = 0;  // one past the last reserved byte, relative to the region
  std::vector<ColumnBuilder> columns_;
};

}  // namespace imlane
