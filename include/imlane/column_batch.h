// Plain C++ columns: the simplest engine batch, used by examples, tests and engines without a
// columnar format of their own. Values are stored in the Arrow layout so they copy in bulk.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "imlane/bit_util.h"
#include "imlane/types.h"

namespace imlane {

class Column {
 public:
  explicit Column(TypeId type = TypeId::kDouble) : type_(type) { offsets_.push_back(0); }

  // Fixed-width columns from values (DATE as int32 days, TIMESTAMP as int64 microseconds).
  template <typename T>
  static Column FromValues(TypeId type, const std::vector<T>& values) {
    Column c(type);
    c.Reserve(values.size());
    for (const T& v : values) c.Append(v);
    return c;
  }
  template <typename T>
  static Column FromValues(const std::vector<T>& values) {
    return FromValues(TypeTraits<T>::kType, values);
  }
  template <typename T>
  static Column FromOptionals(TypeId type, const std::vector<std::optional<T>>& values) {
    Column c(type);
    for (const auto& v : values) v ? c.Append(*v) : c.AppendNull();
    return c;
  }
  static Column FromStrings(const std::vector<std::optional<std::string>>& values);
  static Column FromBools(const std::vector<std::optional<bool>>& values);

  TypeId type() const { return type_; }
  size_t length() const { return length_; }
  size_t null_count() const { return null_count_; }
  bool IsNull(size_t i) const { return !validity_.empty() && !bit_util::GetBit(validity_.data(), i); }
  template <typename T>
  T Get(size_t i) const {
    T v;
    std::memcpy(&v, data_.data() + i * sizeof(T), sizeof(T));
    return v;
  }
  bool GetBool(size_t i) const { return data_[i] != 0; }
  std::string_view GetString(size_t i) const {
    return std::string_view(reinterpret_cast<const char*>(data_.data()) + offsets_[i],
                            static_cast<size_t>(offsets_[i + 1] - offsets_[i]));
  }

  void Reserve(size_t rows);
  // Appends one value; T must match the column's width (bool for BOOLEAN, one byte per value).
  template <typename T>
  void Append(T value) {
    const auto* p = reinterpret_cast<const uint8_t*>(&value);
    data_.insert(data_.end(), p, p + sizeof(T));
    MarkValid(true);
  }
  void Append(bool value) {
    data_.push_back(value ? 1 : 0);
    MarkValid(true);
  }
  void AppendString(std::string_view value);
  void Append(const std::string& value) { AppendString(value); }
  void Append(const char* value) { AppendString(value); }
  void AppendNull();

  // Raw buffers: fixed-width values (BOOLEAN: one byte each), Arrow validity bitmap (empty when no
  // NULL), VARCHAR offsets.
  const std::vector<uint8_t>& data() const { return data_; }
  const std::vector<uint8_t>& validity() const { return validity_; }
  const std::vector<int32_t>& offsets() const { return offsets_; }

 private:
  void MarkValid(bool valid);

  TypeId type_;
  size_t length_ = 0;
  size_t null_count_ = 0;
  std::vector<uint8_t> data_;
  std::vector<uint8_t> validity_;
  std::vector<int32_t> offsets_;
};

struct ColumnBatch {
  std::vector<Column> columns;
  size_t num_rows() const { return columns.empty() ? 0 : columns[0].length(); }
};

}  // namespace imlane
