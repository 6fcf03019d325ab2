// Lane batch layout: every type round-trips with NULLs; the reader rejects corrupt batches.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "imlane/batch_view.h"
#include "imlane/lane/batch_format.h"
#include "imlane/lane/batch_layout.h"

namespace imlane {
namespace {

class BatchTest : public ::testing::Test {
 protected:
  std::vector<uint8_t> region_ = std::vector<uint8_t>(1 << 20);
  uint8_t* base() { return region_.data(); }
  static constexpr uint64_t kOffset = 4096;
  uint64_t available() { return region_.size() - kOffset; }
};

const std::vector<TypeId> kAllTypes = {TypeId::kBoolean, TypeId::kInt8,     TypeId::kInt16,  TypeId::kInt32,
                                       TypeId::kInt64,   TypeId::kFloat,    TypeId::kDouble, TypeId::kVarchar,
                                       TypeId::kDate,    TypeId::kTimestamp};

// Value for row r of column c; every third row (shifted per column) is NULL.
bool RowIsNull(size_t c, size_t r) { return (r + c) % 3 == 0; }

TEST_F(BatchTest, EveryTypeRoundTripsWithNulls) {
  const size_t rows = 1000;
  BatchBuilder b;
  ASSERT_TRUE(BatchLayout::Start(&b, base(), region_.size(), kOffset, available(), kAllTypes, rows).ok());
  for (size_t c = 0; c < kAllTypes.size(); c++) {
    ColumnBuilder& col = b.column(c);
    for (size_t r = 0; r < rows; r++) {
      if (RowIsNull(c, r)) {
        ASSERT_TRUE(col.AppendNull().ok());
        continue;
      }
      Status st;
      switch (kAllTypes[c]) {
        case TypeId::kBoolean: st = col.AppendBool(r % 2 == 1); break;
        case TypeId::kInt8: st = col.Append<int8_t>(static_cast<int8_t>(r % 100 - 50)); break;
        case TypeId::kInt16: st = col.Append<int16_t>(static_cast<int16_t>(r * 3 - 700)); break;
        case TypeId::kInt32: st = col.Append<int32_t>(static_cast<int32_t>(r * 1000003)); break;
        case TypeId::kInt64: st = col.Append<int64_t>(static_cast<int64_t>(r) * 10000000007LL); break;
        case TypeId::kFloat: st = col.Append<float>(static_cast<float>(r) / 4); break;
        case TypeId::kDouble: st = col.Append<double>(static_cast<double>(r) / 7); break;
        case TypeId::kVarchar: st = col.AppendString("v" + std::string(r % 17, 'x')); break;
        case TypeId::kDate: st = col.Append<int32_t>(static_cast<int32_t>(18000 + r)); break;
        case TypeId::kTimestamp: st = col.Append<int64_t>(static_cast<int64_t>(r) * 1000000); break;
      }
      ASSERT_TRUE(st.ok()) << st.ToString();
    }
  }
  auto total = b.Finish();
  ASSERT_TRUE(total.ok()) << total.status().ToString();

  auto view = BatchLayout::Open(base(), region_.size(), kOffset, *total);
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  ASSERT_EQ(view->num_rows(), rows);
  ASSERT_EQ(view->num_columns(), kAllTypes.size());
  for (size_t c = 0; c < kAllTypes.size(); c++) {
    const ColumnView& col = view->column(c);
    EXPECT_EQ(col.type(), kAllTypes[c]);
    size_t nulls = 0;
    for (size_t r = 0; r < rows; r++) {
      ASSERT_EQ(col.IsNull(r), RowIsNull(c, r)) << "column " << c << " row " << r;
      if (col.IsNull(r)) {
        nulls++;
        continue;
      }
      switch (kAllTypes[c]) {
        case TypeId::kBoolean: EXPECT_EQ(col.GetBool(r), r % 2 == 1); break;
        case TypeId::kInt8: EXPECT_EQ(col.Get<int8_t>(r), static_cast<int8_t>(r % 100 - 50)); break;
        case TypeId::kInt16: EXPECT_EQ(col.Get<int16_t>(r), static_cast<int16_t>(r * 3 - 700)); break;
        case TypeId::kInt32: EXPECT_EQ(col.Get<int32_t>(r), static_cast<int32_t>(r * 1000003)); break;
        case TypeId::kInt64: EXPECT_EQ(col.Get<int64_t>(r), static_cast<int64_t>(r) * 10000000007LL); break;
        case TypeId::kFloat: EXPECT_EQ(col.Get<float>(r), static_cast<float>(r) / 4); break;
        case TypeId::kDouble: EXPECT_EQ(col.Get<double>(r), static_cast<double>(r) / 7); break;
        case TypeId::kVarchar: EXPECT_EQ(col.GetString(r), "v" + std::string(r % 17, 'x')); break;
        case TypeId::kDate: EXPECT_EQ(col.Get<int32_t>(r), static_cast<int32_t>(18000 + r)); break;
        case TypeId::kTimestamp: EXPECT_EQ(col.Get<int64_t>(r), static_cast<int64_t>(r) * 1000000); break;
      }
    }
    EXPECT_EQ(col.null_count(), nulls);
  }
}

TEST_F(BatchTest, BulkAppendCopiesArrowValidityAtAnyBitOffset) {
  std::vector<double> values(100);
  for (size_t i = 0; i < values.size(); i++) values[i] = static_cast<double>(i);
  std::vector<uint8_t> validity(13, 0xFF);
  validity[1] = 0x0F;  // rows 8+4..8+7 of the source are NULL
  BatchBuilder b;
  ASSERT_TRUE(BatchLayout::Start(&b, base(), region_.size(), kOffset, available(), {TypeId::kDouble}, 200).ok());
  ASSERT_TRUE(b.column(0).AppendValues(values.data(), 3).ok());
  ASSERT_TRUE(b.column(0).AppendValues(values.data() + 3, 50, validity.data(), 3).ok());
  auto total = b.Finish();
  ASSERT_TRUE(total.ok());
  auto view = BatchLayout::Open(base(), region_.size(), kOffset, *total);
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  const ColumnView& col = view->column(0);
  ASSERT_EQ(col.length(), 53u);
  EXPECT_EQ(col.null_count(), 4u);
  for (size_t r = 0; r < 53; r++) {
    bool expect_null = r >= 3 && (r - 3 + 3) >= 12 && (r - 3 + 3) <= 15;
    EXPECT_EQ(col.IsNull(r), expect_null) << r;
    if (!expect_null) {
      EXPECT_EQ(col.Get<double>(r), static_cast<double>(r));
    }
  }
}

TEST_F(BatchTest, ColumnsWithoutNullsHaveNoBitmap) {
  BatchBuilder b;
  ASSERT_TRUE(BatchLayout::Start(&b, base(), region_.size(), kOffset, available(), {TypeId::kInt64}, 10).ok());
  for (int64_t i = 0; i < 10; i++) ASSERT_TRUE(b.column(0).Append(i).ok());
  auto total = b.Finish();
  auto view = BatchLayout::Open(base(), region_.size(), kOffset, *total);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->column(0).validity(), nullptr);
  EXPECT_EQ(view->column(0).null_count(), 0u);
}

TEST_F(BatchTest, TooManyRowsIsAnErrorNamingBothSizes) {
  BatchBuilder b;
  Status st =
      BatchLayout::Start(&b, base(), region_.size(), kOffset, 64 * 1024, {TypeId::kDouble, TypeId::kDouble}, 100000);
  ASSERT_EQ(st.code(), StatusCode::kCapacityExceeded);
  EXPECT_NE(st.message().find("100000 rows"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("65536"), std::string::npos) << st.message();

  ASSERT_TRUE(BatchLayout::Start(&b, base(), region_.size(), kOffset, available(), {TypeId::kInt32}, 2).ok());
  ASSERT_TRUE(b.column(0).Append<int32_t>(1).ok());
  ASSERT_TRUE(b.column(0).Append<int32_t>(2).ok());
  EXPECT_EQ(b.column(0).Append<int32_t>(3).code(), StatusCode::kCapacityExceeded);
}

TEST_F(BatchTest, OversizedStringIsAnError) {
  BatchBuilder b;
  ASSERT_TRUE(BatchLayout::Start(&b, base(), region_.size(), kOffset, 8192, {TypeId::kVarchar}, 4).ok());
  Status st = b.column(0).AppendString(std::string(100000, 'a'));
  EXPECT_EQ(st.code(), StatusCode::kCapacityExceeded);
  EXPECT_NE(st.message().find("100000 bytes"), std::string::npos) << st.message();
}

TEST_F(BatchTest, MismatchedColumnLengthsFailAtFinish) {
  BatchBuilder b;
  ASSERT_TRUE(
      BatchLayout::Start(&b, base(), region_.size(), kOffset, available(), {TypeId::kInt32, TypeId::kInt32}, 4).ok());
  ASSERT_TRUE(b.column(0).Append<int32_t>(1).ok());
  EXPECT_FALSE(b.Finish().ok());
}

class CorruptBatchTest : public BatchTest {
 protected:
  uint64_t BuildStrings() {
    BatchBuilder b;
    EXPECT_TRUE(
        BatchLayout::Start(&b, base(), region_.size(), kOffset, available(), {TypeId::kVarchar, TypeId::kInt32}, 8)
            .ok());
    for (int i = 0; i < 8; i++) {
      EXPECT_TRUE(b.column(0).AppendString("row" + std::to_string(i)).ok());
      EXPECT_TRUE(b.column(1).Append<int32_t>(i).ok());
    }
    b.column(1).SetNull(5);
    return *b.Finish();
  }
  BatchHeaderWire* header() { return reinterpret_cast<BatchHeaderWire*>(base() + kOffset); }
  ColumnWire* col(size_t i) { return reinterpret_cast<ColumnWire*>(base() + kOffset + sizeof(BatchHeaderWire)) + i; }
  Status Open(uint64_t total) { return BatchLayout::Open(base(), region_.size(), kOffset, total).status(); }
};

TEST_F(CorruptBatchTest, ValidBatchOpens) { EXPECT_TRUE(Open(BuildStrings()).ok()); }

TEST_F(CorruptBatchTest, RejectsBadMagic) {
  uint64_t t = BuildStrings();
  header()->magic ^= 1;
  EXPECT_EQ(Open(t).code(), StatusCode::kProtocolError);
}

TEST_F(CorruptBatchTest, RejectsPlacementOutsideRegion) {
  uint64_t t = BuildStrings();
  EXPECT_EQ(BatchLayout::Open(base(), region_.size(), region_.size() - 16, t).status().code(),
            StatusCode::kProtocolError);
  EXPECT_EQ(BatchLayout::Open(base(), region_.size(), UINT64_MAX - 7, 64).status().code(), StatusCode::kProtocolError);
}

TEST_F(CorruptBatchTest, RejectsHugeColumnCount) {
  uint64_t t = BuildStrings();
  header()->num_columns = 1u << 30;
  EXPECT_EQ(Open(t).code(), StatusCode::kProtocolError);
}

TEST_F(CorruptBatchTest, RejectsTotalBytesBeyondAvailable) {
  uint64_t t = BuildStrings();
  header()->total_bytes = t + 1;
  EXPECT_EQ(Open(t).code(), StatusCode::kProtocolError);
}

TEST_F(CorruptBatchTest, RejectsUnknownType) {
  uint64_t t = BuildStrings();
  col(1)->type = 77;
  EXPECT_EQ(Open(t).code(), StatusCode::kProtocolError);
}

TEST_F(CorruptBatchTest, RejectsDataOutOfBounds) {
  uint64_t t = BuildStrings();
  col(1)->data_offset = kOffset + t;  // past the batch
  EXPECT_EQ(Open(t).code(), StatusCode::kProtocolError);
  BuildStrings();
  col(1)->data_offset = UINT64_MAX - 7;
  EXPECT_EQ(Open(t).code(), StatusCode::kProtocolError);
}

TEST_F(CorruptBatchTest, RejectsWrongDataLength) {
  uint64_t t = BuildStrings();
  col(1)->data_bytes = 4;
  EXPECT_EQ(Open(t).code(), StatusCode::kProtocolError);
}

TEST_F(CorruptBatchTest, RejectsDecreasingStringOffsets) {
  uint64_t t = BuildStrings();
  auto* offsets = reinterpret_cast<int32_t*>(base() + col(0)->offsets_offset);
  offsets[3] = offsets[5] + 1;
  EXPECT_EQ(Open(t).code(), StatusCode::kProtocolError);
}

TEST_F(CorruptBatchTest, RejectsStringOffsetsPastData) {
  uint64_t t = BuildStrings();
  auto* offsets = reinterpret_cast<int32_t*>(base() + col(0)->offsets_offset);
  offsets[8] = static_cast<int32_t>(col(0)->data_bytes + 1);
  EXPECT_EQ(Open(t).code(), StatusCode::kProtocolError);
}

TEST_F(CorruptBatchTest, RejectsNullCountDisagreeingWithBitmap) {
  uint64_t t = BuildStrings();
  col(1)->null_count = 0;
  EXPECT_EQ(Open(t).code(), StatusCode::kProtocolError);
  BuildStrings();
  col(0)->null_count = 2;  // no bitmap but claims NULLs
  EXPECT_EQ(Open(t).code(), StatusCode::kProtocolError);
}

TEST_F(CorruptBatchTest, RejectsAbsurdRowCount) {
  uint64_t t = BuildStrings();
  header()->num_rows = UINT64_MAX / 2;
  EXPECT_EQ(Open(t).code(), StatusCode::kProtocolError);
}

TEST(BitUtilTest, AndBitsAndUnpackBitsGiveTheRowsValidInEveryColumn) {
  // 11 rows: a is NULL at 1 and 9, b at 4; rows valid in both: all but 1, 4, 9.
  uint8_t a[2] = {0xFF, 0xFF}, b[2] = {0xFF, 0xFF};
  bit_util::ClearBit(a, 1);
  bit_util::ClearBit(a, 9);
  bit_util::ClearBit(b, 4);
  bit_util::AndBits(a, b, 11);
  uint8_t rows[11];
  bit_util::UnpackBits(a, 11, rows);
  for (size_t i = 0; i < 11; i++) EXPECT_EQ(rows[i], (i == 1 || i == 4 || i == 9) ? 0 : 1) << i;
}

}  // namespace
}  // namespace imlane
