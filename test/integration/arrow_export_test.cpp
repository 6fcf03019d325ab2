// Exporting a pulled result through the Arrow C Data Interface, with a real coordinator.
#include "imlane/arrow_export.h"
#include "imlane/bit_util.h"
#include "test_support.h"

namespace imlane::testing {

// A result exported through the Arrow C Data Interface: buffers in the Lane, the slot held until
// the last exported array is released (here a child moved out of its parent).
TEST_F(CoordinatorTest, ArrowExportReadsTheLaneAndItsReleaseFreesTheSlot) {
  settings_.n_executors = 1;
  settings_.slots_per_executor = 1;
  settings_.max_inflight = 1;
  settings_.timeout_ms = 300;
  Register("pair", "def pyfun(x):\n    return x * 2, [None if v < 0 else f'n{int(v)}' for v in x]\n", "DOUBLE",
           "DOUBLE, VARCHAR");
  auto ticket = ctx().Push("pair", Doubles({1, -1, 3}));
  ASSERT_TRUE(ticket.ok()) << ticket.status().ToString();
  auto pulled = ctx().Pull(*ticket);
  ASSERT_TRUE(pulled.ok()) << pulled.status().ToString();
  ArrowArray array;
  ArrowSchema schema;
  ASSERT_TRUE(ExportToArrow(pulled.MoveValue(), &array, &schema).ok());
  EXPECT_STREQ(schema.format, "+s");
  ASSERT_EQ(schema.n_children, 2);
  EXPECT_STREQ(schema.children[0]->format, "g");
  EXPECT_STREQ(schema.children[1]->format, "u");
  EXPECT_STREQ(schema.children[1]->name, "c1");
  ASSERT_EQ(array.length, 3);
  ASSERT_EQ(array.n_children, 2);
  const ArrowArray* d = array.children[0];
  EXPECT_EQ(d->null_count, 0);
  EXPECT_EQ(static_cast<const double*>(d->buffers[1])[2], 6.0);
  const ArrowArray* s = array.children[1];
  ASSERT_EQ(s->n_buffers, 3);
  EXPECT_EQ(s->null_count, 1);
  const auto* validity = static_cast<const uint8_t*>(s->buffers[0]);
  ASSERT_NE(validity, nullptr);
  EXPECT_FALSE(bit_util::GetBit(validity, 1));
  const auto* offsets = static_cast<const int32_t*>(s->buffers[1]);
  const char* chars = static_cast<const char*>(s->buffers[2]);
  EXPECT_EQ(std::string(chars + offsets[2], offsets[3] - offsets[2]), "n3");
  schema.release(&schema);
  // Keep one child alive on its own, as the spec allows, and release the parent.
  ArrowArray kept = *array.children[1];
  array.children[1]->release = nullptr;
  array.release(&array);
  EXPECT_EQ(array.release, nullptr);
  // The only slot is still held by the kept child: no room for another batch.
  EXPECT_EQ(ctx().Push("pair", Doubles({2})).status().code(), StatusCode::kTimedOut);
  EXPECT_EQ(std::string(static_cast<const char*>(kept.buffers[2]) + offsets[0], 2), "n1");
  kept.release(&kept);
  auto again = ctx().Push("pair", Doubles({2}));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ColumnBatch out;
  ASSERT_TRUE(ctx().Pull(*again, &out.columns).ok());
  EXPECT_EQ(out.columns[0].Get<double>(0), 4.0);
}

}  // namespace imlane::testing
