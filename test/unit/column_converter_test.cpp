// Plain C++ columns through the TableConverter, sliced at arbitrary offsets, and type parsing.
#include <gtest/gtest.h>

#include <vector>

#include "imlane/batch_view.h"
#include "imlane/lane/batch_layout.h"
#include "imlane/table_converter.h"

namespace imlane {
namespace {

TEST(ColumnConverterTest, WritesSlicesAndReadsThemBack) {
  std::vector<std::optional<int32_t>> ints;
  std::vector<std::optional<std::string>> strings;
  std::vector<std::optional<bool>> bools;
  for (int i = 0; i < 100; i++) {
    ints.push_back(i % 5 == 0 ? std::nullopt : std::optional<int32_t>(i));
    strings.push_back(i % 7 == 0 ? std::nullopt : std::optional<std::string>(std::string(i % 4, 'z')));
    bools.push_back(i % 11 == 0 ? std::nullopt : std::optional<bool>(i % 2 == 0));
  }
  ColumnBatch in;
  in.columns.push_back(Column::FromOptionals<int32_t>(TypeId::kInt32, ints));
  in.columns.push_back(Column::FromStrings(strings));
  in.columns.push_back(Column::FromBools(bools));

  std::vector<uint8_t> region(1 << 20);
  BatchBuilder b;
  ASSERT_TRUE(BatchLayout::Start(&b, region.data(), region.size(), 64, region.size() - 64,
                                 {TypeId::kInt32, TypeId::kVarchar, TypeId::kBoolean}, 100)
                  .ok());
  // Two slices starting at odd offsets exercise validity bits that are not byte-aligned.
  ASSERT_TRUE(ColumnConverter::Write(in, 13, 40, &b).ok());
  ASSERT_TRUE(ColumnConverter::Write(in, 53, 47, &b).ok());
  auto total = b.Finish();
  ASSERT_TRUE(total.ok());
  auto view = BatchLayout::Open(region.data(), region.size(), 64, *total);
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  ASSERT_EQ(view->num_rows(), 87u);

  std::vector<Column> out;
  for (size_t c = 0; c < 3; c++) {
    out.emplace_back(view->column(c).type());
    ASSERT_TRUE(ColumnConverter::ReadColumn(view->column(c), 0, 87, &out.back()).ok());
  }
  for (size_t r = 0; r < 87; r++) {
    size_t src = r + 13;
    ASSERT_EQ(out[0].IsNull(r), !ints[src].has_value()) << r;
    if (ints[src]) {
      EXPECT_EQ(out[0].Get<int32_t>(r), *ints[src]);
    }
    ASSERT_EQ(out[1].IsNull(r), !strings[src].has_value()) << r;
    if (strings[src]) {
      EXPECT_EQ(out[1].GetString(r), *strings[src]);
    }
    ASSERT_EQ(out[2].IsNull(r), !bools[src].has_value()) << r;
    if (bools[src]) {
      EXPECT_EQ(out[2].GetBool(r), *bools[src]);
    }
  }
}

TEST(ColumnConverterTest, TypeMismatchIsAnError) {
  ColumnBatch in;
  in.columns.push_back(Column::FromValues<double>({1.0}));
  std::vector<uint8_t> region(1 << 16);
  BatchBuilder b;
  ASSERT_TRUE(BatchLayout::Start(&b, region.data(), region.size(), 64, region.size() - 64, {TypeId::kInt64}, 1).ok());
  Status st = ColumnConverter::Write(in, 0, 1, &b);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("DOUBLE"), std::string::npos) << st.message();
}

TEST(TypesTest, ParsesSqlNamesAndAliases) {
  auto list = ParseTypeList("double, INTEGER,varchar , BIGINT, real, bool, date, timestamp, text, smallint, tinyint");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(TypeListToString(*list),
            "DOUBLE, INTEGER, VARCHAR, BIGINT, FLOAT, BOOLEAN, DATE, TIMESTAMP, VARCHAR, SMALLINT, TINYINT");
  EXPECT_TRUE(ParseTypeList("")->empty());
  auto bad = ParseTypeList("DOUBLE, HUGEINT");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("HUGEINT"), std::string::npos);
  EXPECT_NE(bad.status().message().find("type #2"), std::string::npos);
}

TEST(TypesTest, UnsupportedTypesAreNamedWholeWithWhatToDeclare) {
  // Commas inside parentheses belong to the type: DECIMAL(10,2) is one type, not "DECIMAL(10".
  struct Case {
    const char* list;
    const char* type;
    const char* hint;
    const char* position;
  };
  const Case cases[] = {
      {"DOUBLE, DECIMAL(10,2)", "'DECIMAL(10,2)'", "declare DOUBLE", "type #2"},
      {"numeric(18, 3), INTEGER", "'numeric(18, 3)'", "declare DOUBLE", "type #1"},
      {"TIMESTAMP WITH TIME ZONE", "'TIMESTAMP WITH TIME ZONE'", "declare TIMESTAMP", "type #1"},
      {"INTEGER, STRUCT(a INT, b DOUBLE)", "'STRUCT(a INT, b DOUBLE)'", "several return types", "type #2"},
      {"DOUBLE[]", "'DOUBLE[]'", "its own argument", "type #1"},
      {"INT, LIST(DOUBLE), DATE", "'LIST(DOUBLE)'", "its own argument", "type #2"},
      {"BLOB", "'BLOB'", "declare VARCHAR", "type #1"},
  };
  for (const auto& c : cases) {
    auto r = ParseTypeList(c.list);
    ASSERT_FALSE(r.ok()) << c.list;
    const std::string& m = r.status().message();
    EXPECT_NE(m.find(std::string("type ") + c.type + " is not supported"), std::string::npos) << m;
    EXPECT_NE(m.find(c.hint), std::string::npos) << m;
    EXPECT_NE(m.find(c.position), std::string::npos) << m;
  }
  // A comma at depth 0 still separates, and a stray ')' does not swallow the rest.
  auto ok = ParseTypeList("DOUBLE,INTEGER");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->size(), 2u);
  EXPECT_FALSE(ParseTypeList("DOUBLE), INTEGER").ok());
}

}  // namespace
}  // namespace imlane
