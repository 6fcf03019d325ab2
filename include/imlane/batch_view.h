// Reading a columnar batch inside a Lane: BatchView and its ColumnViews, valid while the Lane slot
// that holds them is (see PulledBatch). The layout of every column is the Arrow columnar format
// (validity bitmap, values, int32 offsets and bytes for VARCHAR).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "imlane/bit_util.h"
#include "imlane/status.h"
#include "imlane/types.h"

namespace imlane {

// Read-only view of one column; valid while the memory it points into is.
class ColumnView {
 public:
  ColumnView() = default;
  ColumnView(TypeId type, size_t length, size_t null_count, const uint8_t* validity, const uint8_t* data,
             const int32_t* offsets, size_t data_bytes)
      : type_(type),
        length_(length),
        null_count_(null_count),
        validity_(validity),
        data_(data),
        offsets_(offsets),
        data_bytes_(data_bytes) {}

  TypeId type() const { return type_; }
  size_t length() const { return length_; }
  size_t null_count() const { return null_count_; }
  // Arrow validity bitmap (bit set = valid), or nullptr when the column has no NULLs.
  const uint8_t* validity() const { return validity_; }
  const uint8_t* data() const { return data_; }
  size_t data_bytes() const { return data_bytes_; }
  const int32_t* offsets() const { return offsets_; }

  bool IsValid(size_t i) const { return validity_ == nullptr || bit_util::GetBit(validity_, i); }
  bool IsNull(size_t i) const { return !IsValid(i); }
  template <typename T>
  const T* values() const {
    return reinterpret_cast<const T*>(data_);
  }
  template <typename T>
  T Get(size_t i) const {
    T v;
    std::memcpy(&v, data_ + i * sizeof(T), sizeof(T));
    return v;
  }
  bool GetBool(size_t i) const { return bit_util::GetBit(data_, i); }
  std::string_view GetString(size_t i) const {
    return std::string_view(reinterpret_cast<const char*>(data_) + offsets_[i],
                            static_cast<size_t>(offsets_[i + 1] - offsets_[i]));
  }
  // Row i's string for a reader of a Lane its producer can still write (a result): the offsets were
  // checked when the batch was opened but may have changed since, so they are read once here and
  // checked again. False when they point outside the column. The bytes can change too: copy them,
  // then validate the copy (FindInvalidUtf8 in imlane/utf8.h).
  bool StringAt(size_t i, std::string_view* out) const {
    const int32_t begin = __atomic_load_n(offsets_ + i, __ATOMIC_RELAXED);
    const int32_t end = __atomic_load_n(offsets_ + i + 1, __ATOMIC_RELAXED);
    if (begin < 0 || end < begin || static_cast<size_t>(end) > data_bytes_) return false;
    *out = std::string_view(reinterpret_cast<const char*>(data_) + begin, static_cast<size_t>(end - begin));
    return true;
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

  size_t num_rows() const { return num_rows_; }
  size_t num_columns() const { return columns_.size(); }
  const ColumnView& column(size_t i) const { return columns_[i]; }
  uint64_t total_bytes() const { return total_bytes_; }

 private:
  friend class BatchLayout;  // opens (and validates) views over a Lane; internal to IMLane
  size_t num_rows_ = 0;
  uint64_t total_bytes_ = 0;
  std::vector<ColumnView> columns_;
};

}  // namespace imlane
