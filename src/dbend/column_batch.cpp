#include "imlane/column_batch.h"

#include "imlane/table_converter.h"
#include "imlane/utf8.h"

namespace imlane {

Column Column::FromStrings(const std::vector<std::optional<std::string>>& values) {
  Column c(TypeId::kVarchar);
  for (const auto& v : values) v ? c.AppendString(*v) : c.AppendNull();
  return c;
}

Column Column::FromBools(const std::vector<std::optional<bool>>& values) {
  Column c(TypeId::kBoolean);
  for (const auto& v : values) v ? c.Append(*v) : c.AppendNull();
  return c;
}

void Column::Reserve(size_t rows) {
  size_t width = type_ == TypeId::kBoolean ? 1 : FixedWidth(type_);
  if (width) data_.reserve(rows * width);
  if (type_ == TypeId::kVarchar) offsets_.reserve(rows + 1);
}

void Column::MarkValid(bool valid) {
  if (type_ == TypeId::kVarchar) offsets_.push_back(static_cast<int32_t>(data_.size()));
  const size_t i = length_++;
  if (valid && validity_.empty()) return;
  // First NULL: every earlier row was valid.
  if (validity_.empty()) validity_.assign(bit_util::BytesForBits(length_) + 64, 0xFF);
  if (validity_.size() < bit_util::BytesForBits(length_)) validity_.resize(validity_.size() * 2, 0xFF);
  bit_util::SetBitTo(validity_.data(), i, valid);
  null_count_ += !valid;
}

void Column::AppendString(std::string_view value) {
  data_.insert(data_.end(), value.begin(), value.end());
  MarkValid(true);
}

void Column::AppendNull() {
  size_t width = type_ == TypeId::kBoolean ? 1 : FixedWidth(type_);
  data_.insert(data_.end(), width, 0);
  MarkValid(false);
}

Status TableConverter<ColumnBatch, Column>::Write(const ColumnBatch& in, size_t offset, size_t count,
                                                  BatchBuilder* out) {
  if (in.columns.size() != out->num_columns()) {
    return Status::InvalidArgument("batch has " + std::to_string(in.columns.size()) + " columns, the function takes " +
                                   std::to_string(out->num_columns()));
  }
  for (size_t c = 0; c < in.columns.size(); c++) {
    const Column& col = in.columns[c];
    ColumnBuilder& dst = out->column(c);
    if (col.type() != dst.type()) {
      return Status::InvalidArgument("argument " + std::to_string(c + 1) + " is " + TypeName(col.type()) +
                                     ", the function expects " + TypeName(dst.type()));
    }
    if (offset + count > col.length()) {
      return Status::InvalidArgument("column " + std::to_string(c) + " has " + std::to_string(col.length()) +
                                     " rows, fewer than " + std::to_string(offset + count));
    }
    const uint8_t* validity = col.validity().empty() ? nullptr : col.validity().data();
    if (col.type() == TypeId::kVarchar) {
      for (size_t r = offset; r < offset + count; r++) {
        IMLANE_RETURN_NOT_OK(col.IsNull(r) ? dst.AppendNull() : dst.AppendString(col.GetString(r)));
      }
    } else if (col.type() == TypeId::kBoolean) {
      IMLANE_RETURN_NOT_OK(dst.AppendBooleanBytes(col.data().data() + offset, count, validity, offset));
    } else {
      IMLANE_RETURN_NOT_OK(
          dst.AppendValues(col.data().data() + offset * FixedWidth(col.type()), count, validity, offset));
    }
  }
  return Status::OK();
}

Status TableConverter<ColumnBatch, Column>::ReadColumn(const ColumnView& in, size_t offset, size_t count, Column* out) {
  if (offset + count > in.length()) return Status::InvalidArgument("read past the end of a result column");
  if (out->type() != in.type()) {
    return Status::InvalidArgument(std::string("result column is ") + TypeName(in.type()) + ", target column is " +
                                   TypeName(out->type()));
  }
  out->Reserve(out->length() + count);
  const size_t width = FixedWidth(in.type());
  for (size_t r = offset; r < offset + count; r++) {
    if (in.IsNull(r)) {
      out->AppendNull();
    } else if (in.type() == TypeId::kVarchar) {
      // The executor can still write its Lane: copy first, then validate the copy.
      std::string_view s;
      if (!in.StringAt(r, &s)) return StringOutOfBounds({}, r);
      const size_t start = out->data().size();
      out->AppendString(s);
      const std::string_view copy(reinterpret_cast<const char*>(out->data().data()) + start, s.size());
      const size_t bad = FindInvalidUtf8(copy);
      if (bad != copy.size()) return InvalidUtf8Result({}, r, copy, bad);
    } else if (in.type() == TypeId::kBoolean) {
      out->Append(in.GetBool(r));
    } else if (width == 1) {
      out->Append(in.Get<int8_t>(r));
    } else if (width == 2) {
      out->Append(in.Get<int16_t>(r));
    } else if (width == 4) {
      out->Append(in.Get<int32_t>(r));
    } else {
      out->Append(in.Get<int64_t>(r));
    }
  }
  return Status::OK();
}

}  // namespace imlane
