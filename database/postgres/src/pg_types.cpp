// PostgreSQL values <-> Lane columns. PostgreSQL counts dates and timestamps from 2000-01-01, the
// Lane (Arrow date32 / timestamp[us]) from 1970-01-01.
#include "imlane_pg.h"

#include <limits>

#include "imlane/utf8.h"

extern "C" {
#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/timestamp.h"
}

namespace imlane {
namespace pg {

namespace {
constexpr int32_t kDaysFrom1970To2000 = POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE;  // 10957
constexpr int64_t kMicrosFrom1970To2000 = int64_t{kDaysFrom1970To2000} * USECS_PER_DAY;
}  // namespace

Oid PgTypeOf(TypeId type) {
  switch (type) {
    case TypeId::kBoolean: return BOOLOID;
    case TypeId::kInt8:  // PostgreSQL has no 1-byte integer: TINYINT travels as smallint
    case TypeId::kInt16: return INT2OID;
    case TypeId::kInt32: return INT4OID;
    case TypeId::kInt64: return INT8OID;
    case TypeId::kFloat: return FLOAT4OID;
    case TypeId::kDouble: return FLOAT8OID;
    case TypeId::kVarchar: return TEXTOID;
    case TypeId::kDate: return DATEOID;
    case TypeId::kTimestamp: return TIMESTAMPOID;
  }
  return InvalidOid;
}

const char* PgTypeName(TypeId type) {
  switch (type) {
    case TypeId::kBoolean: return "boolean";
    case TypeId::kInt8:
    case TypeId::kInt16: return "smallint";
    case TypeId::kInt32: return "integer";
    case TypeId::kInt64: return "bigint";
    case TypeId::kFloat: return "real";
    case TypeId::kDouble: return "double precision";
    case TypeId::kVarchar: return "text";
    case TypeId::kDate: return "date";
    case TypeId::kTimestamp: return "timestamp";
  }
  return "?";
}

Status AppendDatum(ColumnBuilder* out, TypeId type, Datum value, bool isnull) {
  if (isnull) return out->AppendNull();
  switch (type) {
    case TypeId::kBoolean: return out->AppendBool(DatumGetBool(value));
    case TypeId::kInt8: {
      int16 v = DatumGetInt16(value);
      if (v < -128 || v > 127) return Status::InvalidArgument("value ", v, " is out of range for TINYINT");
      return out->Append<int8_t>(static_cast<int8_t>(v));
    }
    case TypeId::kInt16: return out->Append<int16_t>(DatumGetInt16(value));
    case TypeId::kInt32: return out->Append<int32_t>(DatumGetInt32(value));
    case TypeId::kInt64: return out->Append<int64_t>(DatumGetInt64(value));
    case TypeId::kFloat: return out->Append<float>(DatumGetFloat4(value));
    case TypeId::kDouble: return out->Append<double>(DatumGetFloat8(value));
    case TypeId::kVarchar: {
      // A toasted value is detoasted into the current memory context (the caller's per-row one).
      text* t = DatumGetTextPP(value);
      return out->AppendString(std::string_view(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)));
    }
    case TypeId::kDate: {
      DateADT d = DatumGetDateADT(value);
      if (DATE_NOT_FINITE(d)) return Status::InvalidArgument("infinite dates have no Lane value");
      return out->Append<int32_t>(d + kDaysFrom1970To2000);
    }
    case TypeId::kTimestamp: {
      Timestamp ts = DatumGetTimestamp(value);
      if (TIMESTAMP_NOT_FINITE(ts)) return Status::InvalidArgument("infinite timestamps have no Lane value");
      return out->Append<int64_t>(ts + kMicrosFrom1970To2000);
    }
  }
  return Status::Internal("unknown Lane type");
}

Datum ReadDatum(const ColumnView& in, size_t row, bool* isnull, const char* function, char** err) {
  *isnull = in.IsNull(row);
  if (*isnull) return static_cast<Datum>(0);
  switch (in.type()) {
    case TypeId::kBoolean: return BoolGetDatum(in.GetBool(row));
    case TypeId::kInt8: return Int16GetDatum(in.Get<int8_t>(row));
    case TypeId::kInt16: return Int16GetDatum(in.Get<int16_t>(row));
    case TypeId::kInt32: return Int32GetDatum(in.Get<int32_t>(row));
    case TypeId::kInt64: return Int64GetDatum(in.Get<int64_t>(row));
    case TypeId::kFloat: return Float4GetDatum(in.Get<float>(row));
    case TypeId::kDouble: return Float8GetDatum(in.Get<double>(row));
    case TypeId::kVarchar: {
      // The executor can still write its Lane: copy first, then validate the copy PostgreSQL keeps.
      std::string_view s;
      if (!in.StringAt(row, &s)) {
        *err = ErrorText(StringOutOfBounds({}, row), function);
        break;
      }
      text* copy = cstring_to_text_with_len(s.data(), static_cast<int>(s.size()));
      const std::string_view bytes(VARDATA_ANY(copy), VARSIZE_ANY_EXHDR(copy));
      // PostgreSQL's text holds no NUL byte, though UTF-8 allows it.
      const size_t nul = bytes.find('\0');
      const size_t bad = nul != std::string_view::npos ? nul : FindInvalidUtf8(bytes);
      if (bad != bytes.size()) {
        *err = ErrorText(InvalidUtf8Result({}, row, bytes, bad), function);
        pfree(copy);
        break;
      }
      return PointerGetDatum(copy);
    }
    // PostgreSQL's ranges are narrower than the Lane's (DuckDB's): a value beyond them is an error
    // here, not a date PostgreSQL would misprint or refuse later.
    case TypeId::kDate: {
      const int64_t d = static_cast<int64_t>(in.Get<int32_t>(row)) - kDaysFrom1970To2000;
      if (d >= std::numeric_limits<int32_t>::min() && d <= std::numeric_limits<int32_t>::max() &&
          IS_VALID_DATE(static_cast<DateADT>(d))) {
        return DateADTGetDatum(static_cast<DateADT>(d));
      }
      *err = ErrorText(Status::InvalidArgument("DATE result at row ", row, " (", in.Get<int32_t>(row),
                                               " days from 1970-01-01) is out of PostgreSQL's date range"),
                       function);
      break;
    }
    case TypeId::kTimestamp: {
      const int64_t us = in.Get<int64_t>(row);
      if (us >= std::numeric_limits<int64_t>::min() + kMicrosFrom1970To2000 &&
          IS_VALID_TIMESTAMP(us - kMicrosFrom1970To2000)) {
        return TimestampGetDatum(us - kMicrosFrom1970To2000);
      }
      *err = ErrorText(Status::InvalidArgument("TIMESTAMP result at row ", row, " (", us,
                                               " microseconds from 1970-01-01) is out of PostgreSQL's timestamp range"),
                       function);
      break;
    }
  }
  *isnull = true;
  return static_cast<Datum>(0);
}

}  // namespace pg
}  // namespace imlane
