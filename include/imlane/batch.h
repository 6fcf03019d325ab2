// Columnar batches inside a Lane: BatchBuilder writes one, BatchView reads (and validates) one.
// The layout of every column is the Arrow columnar format (validity bitmap, values, int32 offsets
// and bytes for VARCHAR); buffer positions are offsets from the start of the shared region, so both
// processes can read them whatever address they mapped the region at.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "imlane/status.h"
#include "imlane/types.h"

namespace imlane {

// Read-only view of one column; valid while the memory it points into is.
class ColumnView {
 public:
  ColumnView() = default;
  ColumnView(TypeId type, size_t length, size_t null_count, const uint8_t* validity, const uint8_t* data,
             const int32_t* offsets, size_t data_bytes)
      : type_(type), length_(length), null_count_(null_count), validity_(validity), data_(data),
        offsets_(offsets), data_bytes_(data_bytes) {}

  TypeId type() const { return type_; }
  size_t length() const { return length_; }
  size_t null_count() const { return null_count_; }
  // Arrow validity bitmap (bit set = valid), or nullptr when the column has no NULLs.
  const uint8_t* validity() const { return validity_; }
  const uint8_t* data() const { return data_; }
  size_t data_bytes() const { return data_bytes_; }
  const int32_t* offsets() const { return offsets_; }

  bool IsValid(size_t i) const { return validity_ == nullptr || ((validity_[i >> 3] >> (i & 7)) & 1); }
  bool IsNull(size_t i) const { return !IsValid(i); }
  template <typename T>
  const T* values() const { return reinterpret_cast<const T*>(data_); }
  template <typename T>
  T Get(size_t i) const {
    T v;
    std::memcpy(&v, data_ + i * sizeof(T), sizeof(T));
    return v;
  }
  bool GetBool(size_t i) const { return (data_[i >> 3] >> (i & 7)) & 1; }
  std::string_view GetString(size_t i) const {
    return std::string_view(reinterpret_cast<const char*>(data_) + offsets_[i],
                            static_cast<size_t>(offsets_[i + 1] - offsets_[i]));
  }

 private:
  TypeId type_ = TypeId::kInt32;
  size_t length_ = 0;
  size_t null_count_ = 0;
  const uint8_t* validity_ = nullptr;
  const uint8_t* data_ = nullptr;
  const int32_t* offsets_ = nullptr;
  size_t data_bytes_ = 0;
};

class BatchView {
 public:
  BatchView() = default;
  // Validates the batch at [offset, offset + bytes) of the region [region, region + region_bytes):
  // magic, counts, type ids, every buffer inside the batch, string offsets monotonic and in bounds,
  // null counts matching the bitmaps. Nothing is dereferenced before it has been checked.
  static Result<BatchView> Open(const uint8_t* region, size_t region_bytes, uint64_t offset, uint64_t bytes);

  size_t num_rows() const { return num_rows_; }
  size_t num_columns() const { return columns_.size(); }
  const ColumnView& column(size_t i) const { return columns_[i]; }
  uint64_t total_bytes() const { return total_bytes_; }

 private:
  size_t num_rows_ = 0;
  uint64_t total_bytes_ = 0;
  std::vector<ColumnView> columns_;
};

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

  // Bytes a batch of `rows` rows of `types` needs when its VARCHAR columns hold `string_bytes` bytes
  // in total.
  static uint64_t RequiredBytes(const std::vector<TypeId>& types, size_t rows, uint64_t string_bytes);

  // Starts a batch at region + offset with `available` bytes of room.
  Status Start(uint8_t* region, size_t region_bytes, uint64_t offset, uint64_t available,
               const std::vector<TypeId>& types, size_t capacity_rows);

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
  uint8_t* region_ = nullptr;
  uint64_t offset_ = 0;
  uint64_t available_ = 0;
  size_t capacity_rows_ = 0;
  size_t forced_rows_ = 0;
  uint64_t end_ = 0;  // one past the last reserved byte, relative to the region
  std::vector<ColumnBuilder> columns_;
};

}  // namespace imlane
