#include <algorithm>
#include <climits>
#include <cstring>
#include <string>

#include "imlane/batch_builder.h"
#include "imlane/bit_util.h"
#include "imlane/lane/batch_layout.h"

namespace imlane {

namespace {

using bit_util::BytesForBits;
using bit_util::GetBit;

uint64_t ValueBytes(TypeId type, size_t rows) {
  if (type == TypeId::kBoolean) return BytesForBits(rows);
  return static_cast<uint64_t>(rows) * FixedWidth(type);
}

size_t CountNulls(const uint8_t* validity, size_t bit_offset, size_t count) {
  return validity == nullptr ? 0 : count - bit_util::CountSetBits(validity, bit_offset, count);
}

}  // namespace

uint64_t BatchLayout::RequiredBytes(const std::vector<TypeId>& types, size_t rows, uint64_t string_bytes) {
  uint64_t pos = AlignUp(sizeof(BatchHeaderWire) + sizeof(ColumnWire) * types.size(), kBufferAlignment);
  for (TypeId t : types) {
    pos += AlignUp(BytesForBits(rows), kBufferAlignment);
    if (t == TypeId::kVarchar) {
      pos += AlignUp((static_cast<uint64_t>(rows) + 1) * 4, kBufferAlignment) + kBufferAlignment;
    } else {
      pos += AlignUp(ValueBytes(t, rows), kBufferAlignment);
    }
  }
  return pos + string_bytes;
}

Status BatchBuilder::Start(uint8_t* region, size_t region_bytes, uint64_t offset, uint64_t available,
                           const std::vector<TypeId>& types, size_t capacity_rows) {
  if (offset % kBufferAlignment != 0 || offset > region_bytes || available > region_bytes - offset) {
    return Status::InvalidArgument("batch placement outside the Lane region");
  }
  if (types.size() > kMaxColumns) {
    return Status::InvalidArgument("batch has " + std::to_string(types.size()) + " columns; at most " +
                                   std::to_string(kMaxColumns) + " are supported");
  }
  region_ = region;
  offset_ = offset;
  available_ = available;
  capacity_rows_ = capacity_rows;
  forced_rows_ = 0;
  columns_.assign(types.size(), ColumnBuilder());

  const uint64_t limit = offset + available;
  const uint64_t fixed_need = BatchLayout::RequiredBytes(types, capacity_rows, 0);
  size_t n_strings = static_cast<size_t>(std::count(types.begin(), types.end(), TypeId::kVarchar));
  if (fixed_need > available) {
    return Status::CapacityExceeded("a batch of " + std::to_string(capacity_rows) + " rows of (" +
                                    TypeListToString(types) + ") needs " + std::to_string(fixed_need) +
                                    " bytes but the Lane has " + std::to_string(available) +
                                    " bytes free; use a smaller batch or larger lane_bytes");
  }
  uint64_t pos = offset + AlignUp(sizeof(BatchHeaderWire) + sizeof(ColumnWire) * types.size(), kBufferAlignment);
  for (size_t i = 0; i < types.size(); i++) {
    ColumnBuilder& c = columns_[i];
    c.type_ = types[i];
    c.index_ = i;
    c.capacity_ = capacity_rows;
    c.validity_offset_ = pos;
    c.validity_ = region + pos;
    pos += AlignUp(BytesForBits(capacity_rows), kBufferAlignment);
    if (types[i] == TypeId::kVarchar) {
      c.offsets_offset_ = pos;
      c.offsets_ = reinterpret_cast<int32_t*>(region + pos);
      c.offsets_[0] = 0;
      pos += AlignUp((static_cast<uint64_t>(capacity_rows) + 1) * 4, kBufferAlignment);
    } else {
      c.data_offset_ = pos;
      c.data_ = region + pos;
      pos += AlignUp(ValueBytes(types[i], capacity_rows), kBufferAlignment);
      if (types[i] == TypeId::kBoolean) std::memset(c.data_, 0, BytesForBits(capacity_rows));
    }
  }
  end_ = pos;
  if (n_strings > 0) {
    // VARCHAR bytes share what is left; int32 offsets cap each column at 2 GiB.
    uint64_t share = (limit - pos) / n_strings / kBufferAlignment * kBufferAlignment;
    share = std::min<uint64_t>(share, INT32_MAX);
    for (auto& c : columns_) {
      if (c.type_ != TypeId::kVarchar) continue;
      c.data_offset_ = pos;
      c.data_ = region + pos;
      c.string_capacity_ = share;
      pos += share;
    }
  }
  return Status::OK();
}

Result<uint64_t> BatchBuilder::Finish() {
  const size_t rows = num_rows();
  uint64_t end = end_;
  for (const auto& c : columns_) {
    if (c.length_ != rows) {
      return Status::InvalidArgument("column " + std::to_string(c.index_) + " has " + std::to_string(c.length_) +
                                     " rows but column 0 has " + std::to_string(rows));
    }
    if (c.type_ == TypeId::kVarchar) end = std::max<uint64_t>(end, c.data_offset_ + c.offsets_[rows]);
  }
  auto* header = reinterpret_cast<BatchHeaderWire*>(region_ + offset_);
  header->magic = kBatchMagic;
  header->version = kBatchFormatVersion;
  header->reserved = 0;
  header->num_columns = static_cast<uint32_t>(columns_.size());
  header->reserved2 = 0;
  header->num_rows = rows;
  uint64_t total = AlignUp(end, kBufferAlignment) - offset_;
  header->total_bytes = total;
  auto* wire = reinterpret_cast<ColumnWire*>(region_ + offset_ + sizeof(BatchHeaderWire));
  for (size_t i = 0; i < columns_.size(); i++) {
    const ColumnBuilder& c = columns_[i];
    ColumnWire w{};
    w.type = static_cast<uint8_t>(c.type_);
    w.null_count = c.null_count_;
    w.validity_offset = c.has_bitmap_ ? c.validity_offset_ : 0;
    w.data_offset = c.data_offset_;
    w.data_bytes = c.type_ == TypeId::kVarchar ? static_cast<uint64_t>(c.offsets_[rows]) : ValueBytes(c.type_, rows);
    w.offsets_offset = c.offsets_offset_;
    std::memcpy(&wire[i], &w, sizeof(w));
  }
  return total;
}

// ---- ColumnBuilder -------------------------------------------------------------------------

Status ColumnBuilder::CheckRoom(size_t count) const {
  if (count > capacity_ - length_) {
    return Status::CapacityExceeded("column " + std::to_string(index_) + " (" + TypeName(type_) +
                                    "): " + std::to_string(length_ + count) + " rows exceed the batch capacity of " +
                                    std::to_string(capacity_) + " rows");
  }
  return Status::OK();
}

void ColumnBuilder::SetValidRange(size_t start, size_t count, bool valid) {
  if (!has_bitmap_) {
    if (valid) return;
    bit_util::SetBitsTo(validity_, 0, start, true);  // everything before the first NULL was valid
    has_bitmap_ = true;
  }
  bit_util::SetBitsTo(validity_, start, count, valid);
}

void ColumnBuilder::CopyValidity(const uint8_t* validity, size_t bit_offset, size_t count) {
  size_t nulls = CountNulls(validity, bit_offset, count);
  if (nulls == 0) {
    SetValidRange(length_, count, true);
    return;
  }
  SetValidRange(length_, 0, false);  // makes sure the bitmap exists
  for (size_t i = 0; i < count; i++) bit_util::SetBitTo(validity_, length_ + i, GetBit(validity, bit_offset + i));
  null_count_ += nulls;
}

Status ColumnBuilder::AppendValues(const void* values, size_t count, const uint8_t* validity, size_t bit_offset) {
  if (type_ == TypeId::kBoolean || type_ == TypeId::kVarchar) {
    return Status::InvalidArgument(std::string("AppendValues on a ") + TypeName(type_) + " column");
  }
  IMLANE_RETURN_NOT_OK(CheckRoom(count));
  size_t width = FixedWidth(type_);
  std::memcpy(data_ + length_ * width, values, count * width);
  CopyValidity(validity, bit_offset, count);
  length_ += count;
  return Status::OK();
}

Status ColumnBuilder::AppendBooleanBytes(const uint8_t* bytes, size_t count, const uint8_t* validity,
                                         size_t bit_offset) {
  if (type_ != TypeId::kBoolean) {
    return Status::InvalidArgument(std::string("AppendBooleanBytes on a ") + TypeName(type_) + " column");
  }
  IMLANE_RETURN_NOT_OK(CheckRoom(count));
  for (size_t i = 0; i < count; i++) bit_util::SetBitTo(data_, length_ + i, bytes[i] != 0);
  CopyValidity(validity, bit_offset, count);
  length_ += count;
  return Status::OK();
}

Status ColumnBuilder::AppendString(std::string_view value) {
  if (type_ != TypeId::kVarchar) {
    return Status::InvalidArgument(std::string("AppendString on a ") + TypeName(type_) + " column");
  }
  IMLANE_RETURN_NOT_OK(CheckRoom(1));
  uint64_t used = static_cast<uint64_t>(offsets_[length_]);
  if (value.size() > string_capacity_ - used) {
    return Status::CapacityExceeded(
        "VARCHAR column " + std::to_string(index_) + ": a value of " + std::to_string(value.size()) +
        " bytes does not fit; " + std::to_string(string_capacity_ - used) + " of " + std::to_string(string_capacity_) +
        " bytes for this column's strings are left in the Lane");
  }
  std::memcpy(data_ + used, value.data(), value.size());
  offsets_[length_ + 1] = static_cast<int32_t>(used + value.size());
  SetValidRange(length_, 1, true);
  length_++;
  return Status::OK();
}

Status ColumnBuilder::AppendNull() { return AppendNulls(1); }

Status ColumnBuilder::AppendNulls(size_t count) {
  IMLANE_RETURN_NOT_OK(CheckRoom(count));
  if (type_ == TypeId::kVarchar) {
    int32_t used = offsets_[length_];
    for (size_t i = 1; i <= count; i++) offsets_[length_ + i] = used;
  } else if (type_ == TypeId::kBoolean) {
    bit_util::SetBitsTo(data_, length_, count, false);
  } else {
    std::memset(data_ + length_ * FixedWidth(type_), 0, count * FixedWidth(type_));
  }
  SetValidRange(length_, count, false);
  null_count_ += count;
  length_ += count;
  return Status::OK();
}

Result<uint8_t*> ColumnBuilder::ReserveValues(size_t count) {
  if (type_ == TypeId::kBoolean || type_ == TypeId::kVarchar) {
    return Status::InvalidArgument(std::string("ReserveValues on a ") + TypeName(type_) + " column");
  }
  IMLANE_RETURN_NOT_OK(CheckRoom(count));
  uint8_t* out = data_ + length_ * FixedWidth(type_);
  SetValidRange(length_, count, true);
  length_ += count;
  return out;
}

void ColumnBuilder::Truncate(size_t rows) {
  if (rows >= length_) return;
  if (has_bitmap_) null_count_ -= CountNulls(validity_, rows, length_ - rows);
  length_ = rows;
}

void ColumnBuilder::SetNull(size_t row) {
  if (row >= length_) return;
  SetValidRange(length_, 0, false);
  if (GetBit(validity_, row)) {
    bit_util::SetBitTo(validity_, row, false);
    null_count_++;
  }
}

}  // namespace imlane
