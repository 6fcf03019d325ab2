#include "duckdb_table_converter.hpp"

#include <cstring>

#include "imlane/utf8.h"

namespace imlane {

using duckdb::LogicalType;
using duckdb::LogicalTypeId;

Result<TypeId> LaneTypeOf(const LogicalType &type) {
  switch (type.id()) {
    case LogicalTypeId::BOOLEAN: return TypeId::kBoolean;
    case LogicalTypeId::TINYINT: return TypeId::kInt8;
    case LogicalTypeId::SMALLINT: return TypeId::kInt16;
    case LogicalTypeId::INTEGER: return TypeId::kInt32;
    case LogicalTypeId::BIGINT: return TypeId::kInt64;
    case LogicalTypeId::FLOAT: return TypeId::kFloat;
    case LogicalTypeId::DOUBLE: return TypeId::kDouble;
    case LogicalTypeId::VARCHAR: return TypeId::kVarchar;
    case LogicalTypeId::DATE: return TypeId::kDate;
    case LogicalTypeId::TIMESTAMP: return TypeId::kTimestamp;
    default: return Status::InvalidArgument("type " + type.ToString() + " cannot be passed to an IMLane function");
  }
}

LogicalType DuckDBTypeOf(TypeId type) {
  switch (type) {
    case TypeId::kBoolean: return LogicalType::BOOLEAN;
    case TypeId::kInt8: return LogicalType::TINYINT;
    case TypeId::kInt16: return LogicalType::SMALLINT;
    case TypeId::kInt32: return LogicalType::INTEGER;
    case TypeId::kInt64: return LogicalType::BIGINT;
    case TypeId::kFloat: return LogicalType::FLOAT;
    case TypeId::kDouble: return LogicalType::DOUBLE;
    case TypeId::kVarchar: return LogicalType::VARCHAR;
    case TypeId::kDate: return LogicalType::DATE;
    case TypeId::kTimestamp: return LogicalType::TIMESTAMP;
  }
  return LogicalType::SQLNULL;
}

namespace {

template <class T>
Status WriteFixed(const duckdb::UnifiedVectorFormat &f, bool flat, size_t offset, size_t count, ColumnBuilder &col) {
  const T *data = reinterpret_cast<const T *>(f.data);
  if (flat) {
    // One bulk copy; DuckDB's validity mask is Arrow-compatible (LSB first) or absent.
    auto *mask = reinterpret_cast<const uint8_t *>(f.validity.GetData());
    return col.AppendValues(data + offset, count, mask, offset);
  }
  for (size_t i = offset; i < offset + count; i++) {
    auto idx = f.sel->get_index(i);
    IMLANE_RETURN_NOT_OK(f.validity.RowIsValid(idx) ? col.Append<T>(data[idx]) : col.AppendNull());
  }
  return Status::OK();
}

}  // namespace

Status TableConverter<duckdb::DataChunk, duckdb::Vector>::Write(const duckdb::DataChunk &in, size_t offset,
                                                                size_t count, BatchBuilder *out) {
  if (in.ColumnCount() != out->num_columns()) {
    return Status::InvalidArgument("chunk has " + std::to_string(in.ColumnCount()) + " columns, the function takes " +
                                   std::to_string(out->num_columns()));
  }
  auto &chunk = const_cast<duckdb::DataChunk &>(in);  // ToUnifiedFormat is not const, but only reads
  for (size_t c = 0; c < in.ColumnCount(); c++) {
    duckdb::Vector &v = chunk.data[c];
    ColumnBuilder &col = out->column(c);
    IMLANE_ASSIGN_OR_RETURN(TypeId t, LaneTypeOf(v.GetType()));
    if (t != col.type()) {
      return Status::InvalidArgument(std::string("argument ") + std::to_string(c + 1) + " is " + TypeName(t) +
                                     ", the function expects " + TypeName(col.type()));
    }
    duckdb::UnifiedVectorFormat f;
    v.ToUnifiedFormat(in.size(), f);
    const bool flat = v.GetVectorType() == duckdb::VectorType::FLAT_VECTOR;
    switch (t) {
      case TypeId::kInt8: IMLANE_RETURN_NOT_OK(WriteFixed<int8_t>(f, flat, offset, count, col)); break;
      case TypeId::kInt16: IMLANE_RETURN_NOT_OK(WriteFixed<int16_t>(f, flat, offset, count, col)); break;
      case TypeId::kInt32:
      case TypeId::kDate: IMLANE_RETURN_NOT_OK(WriteFixed<int32_t>(f, flat, offset, count, col)); break;
      case TypeId::kInt64:
      case TypeId::kTimestamp: IMLANE_RETURN_NOT_OK(WriteFixed<int64_t>(f, flat, offset, count, col)); break;
      case TypeId::kFloat: IMLANE_RETURN_NOT_OK(WriteFixed<float>(f, flat, offset, count, col)); break;
      case TypeId::kDouble: IMLANE_RETURN_NOT_OK(WriteFixed<double>(f, flat, offset, count, col)); break;
      case TypeId::kBoolean: {
        const auto *data = reinterpret_cast<const uint8_t *>(f.data);
        if (flat) {
          IMLANE_RETURN_NOT_OK(col.AppendBooleanBytes(data + offset, count,
                                                      reinterpret_cast<const uint8_t *>(f.validity.GetData()), offset));
          break;
        }
        for (size_t i = offset; i < offset + count; i++) {
          auto idx = f.sel->get_index(i);
          IMLANE_RETURN_NOT_OK(f.validity.RowIsValid(idx) ? col.AppendBool(data[idx] != 0) : col.AppendNull());
        }
        break;
      }
      case TypeId::kVarchar: {
        const auto *data = reinterpret_cast<const duckdb::string_t *>(f.data);
        for (size_t i = offset; i < offset + count; i++) {
          auto idx = f.sel->get_index(i);
          if (!f.validity.RowIsValid(idx)) {
            IMLANE_RETURN_NOT_OK(col.AppendNull());
          } else {
            IMLANE_RETURN_NOT_OK(col.AppendString(std::string_view(data[idx].GetData(), data[idx].GetSize())));
          }
        }
        break;
      }
    }
  }
  return Status::OK();
}

Status TableConverter<duckdb::DataChunk, duckdb::Vector>::ReadColumn(const ColumnView &in, size_t offset, size_t count,
                                                                     duckdb::Vector *out) {
  out->SetVectorType(duckdb::VectorType::FLAT_VECTOR);
  return ReadColumnAt(in, offset, count, out, 0);
}

Status ReadColumnAt(const ColumnView &in, size_t offset, size_t count, duckdb::Vector *out, size_t out_offset) {
  if (offset + count > in.length()) return Status::InvalidArgument("read past the end of a result column");
  IMLANE_ASSIGN_OR_RETURN(TypeId t, LaneTypeOf(out->GetType()));
  if (t != in.type()) {
    return Status::InvalidArgument(std::string("result column is ") + TypeName(in.type()) + ", the SQL type is " +
                                   TypeName(t));
  }
  auto &validity = duckdb::FlatVector::Validity(*out);
  if (t == TypeId::kVarchar) {
    auto *data = duckdb::FlatVector::GetData<duckdb::string_t>(*out) + out_offset;
    for (size_t i = 0; i < count; i++) {
      if (in.IsNull(offset + i)) {
        validity.SetInvalid(out_offset + i);
      } else {
        // The executor can still write its Lane: copy first, then validate the copy DuckDB keeps.
        std::string_view s;
        if (!in.StringAt(offset + i, &s)) return StringOutOfBounds({}, offset + i);
        data[i] = duckdb::StringVector::AddString(*out, s.data(), s.size());
        const std::string_view copy(data[i].GetData(), data[i].GetSize());
        const size_t bad = FindInvalidUtf8(copy);
        if (bad != copy.size()) {
          data[i] = duckdb::string_t();  // never leave the bytes readable as a string
          return InvalidUtf8Result({}, offset + i, copy, bad);
        }
      }
    }
    return Status::OK();
  }
  if (t == TypeId::kBoolean) {
    auto *data = duckdb::FlatVector::GetData<bool>(*out) + out_offset;
    for (size_t i = 0; i < count; i++) data[i] = in.GetBool(offset + i);
  } else {
    const size_t w = FixedWidth(t);
    std::memcpy(duckdb::FlatVector::GetData(*out) + out_offset * w, in.data() + offset * w, count * w);
  }
  if (in.null_count() > 0) {
    for (size_t i = 0; i < count; i++) {
      if (in.IsNull(offset + i)) validity.SetInvalid(out_offset + i);
    }
  }
  return Status::OK();
}

}  // namespace imlane
