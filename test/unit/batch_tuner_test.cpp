// AdaptiveBatchTuner against synthetic throughput curves.
#include <gtest/gtest.h>

#include <cmath>

#include "imlane/batch_tuner.h"

namespace imlane {
namespace {

// Model time for `rows` rows: a fixed per-call cost plus a per-row cost (a typical tree model).
uint64_t ModelNs(size_t rows, double fixed_us, double per_row_us) {
  return static_cast<uint64_t>((fixed_us + per_row_us * static_cast<double>(rows)) * 1000.0);
}

size_t Settle(AdaptiveBatchTuner& t, double fixed_us, double per_row_us, int rounds = 200) {
  for (int i = 0; i < rounds; i++) {
    size_t rows = t.batch_rows();
    t.Report(rows, ModelNs(rows, fixed_us, per_row_us));
  }
  return t.batch_rows();
}

TEST(BatchTunerTest, GrowsWhileThroughputImprovesThenFreezes) {
  AdaptiveBatchTuner t;
  EXPECT_EQ(t.batch_rows(), 2048u);
  // 20 ms fixed cost per call: bigger batches keep paying off up to the cap.
  size_t settled = Settle(t, 20000, 2.0);
  EXPECT_GE(settled, 16384u);
  EXPECT_TRUE(t.frozen());
}

TEST(BatchTunerTest, StopsWhereLargerBatchesNoLongerPay) {
  AdaptiveBatchTuner t;
  // Tiny fixed cost: 2048 -> 4096 gains < 10%, so the tuner stays near the start.
  size_t settled = Settle(t, 50, 2.0);
  EXPECT_LE(settled, 4096u);
  EXPECT_TRUE(t.frozen());
}

TEST(BatchTunerTest, ShrinksBackWhenLargerBatchesHurt) {
  AdaptiveBatchTuner::Options o;
  o.initial_rows = 4096;
  AdaptiveBatchTuner t(o);
  // Throughput peaks around 8192 rows, then collapses (cache misses, memory).
  for (int i = 0; i < 200; i++) {
    size_t rows = t.batch_rows();
    double per_row = rows <= 8192 ? 2.0 : 20.0;
    t.Report(rows, ModelNs(rows, 10000, per_row));
  }
  EXPECT_EQ(t.batch_rows(), 8192u);
}

TEST(BatchTunerTest, OneUnluckyStepDoesNotEndTheGrowth) {
  AdaptiveBatchTuner t;
  // 8192 rows truly pay (+~20% over 4096 with a 10 ms fixed cost), but the first readings at 8192
  // come in slow (the executor shared its core): the step is retried and taken.
  int slow_8192 = 3;
  for (int i = 0; i < 200; i++) {
    size_t rows = t.batch_rows();
    double per_row = 2.0;
    if (rows == 8192 && slow_8192 > 0) {
      per_row = 4.0;
      slow_8192--;
    }
    t.Report(rows, ModelNs(rows, 10000, per_row));
  }
  EXPECT_GE(t.batch_rows(), 8192u);
  EXPECT_TRUE(t.frozen());
}

TEST(BatchTunerTest, PinnedSizeIsHonoured) {
  AdaptiveBatchTuner::Options o;
  o.pinned_rows = 5000;
  AdaptiveBatchTuner t(o);
  Settle(t, 20000, 2.0);
  EXPECT_EQ(t.batch_rows(), 5000u);
}

TEST(BatchTunerTest, RespectsTheMaximum) {
  AdaptiveBatchTuner::Options o;
  o.max_rows = 10000;
  AdaptiveBatchTuner t(o);
  EXPECT_LE(Settle(t, 1e6, 1.0), 10000u);
}

TEST(BatchTunerTest, ShortTailBatchesAreIgnored) {
  AdaptiveBatchTuner t;
  for (int i = 0; i < 50; i++) t.Report(10, ModelNs(10, 20000, 2.0));  // end-of-input fragments
  EXPECT_EQ(t.batch_rows(), 2048u);
  EXPECT_FALSE(t.frozen());
}

TEST(BatchTunerTest, BatchesInFlightFromTheOldSizeDoNotCountForTheNewOne) {
  AdaptiveBatchTuner t;
  // Three 2048-row readings: the tuner steps to 4096.
  for (int i = 0; i < 3; i++) t.Report(2048, ModelNs(2048, 20000, 2.0));
  ASSERT_EQ(t.batch_rows(), 4096u);
  // Batches of the old size that were already in flight finish now: they must not be judged as
  // 4096-row readings (which would look flat and send the tuner back).
  for (int i = 0; i < 6; i++) t.Report(2048, ModelNs(2048, 20000, 2.0));
  EXPECT_EQ(t.batch_rows(), 4096u);
  for (int i = 0; i < 3; i++) t.Report(4096, ModelNs(4096, 20000, 2.0));
  EXPECT_EQ(t.batch_rows(), 8192u);
}

TEST(BatchTunerTest, ThawsWhenThroughputCollapses) {
  AdaptiveBatchTuner t;
  Settle(t, 20000, 2.0);
  ASSERT_TRUE(t.frozen());
  for (int i = 0; i < 30; i++) {
    size_t rows = t.batch_rows();
    t.Report(rows, ModelNs(rows, 20000, 200.0));  // 100x slower per row: another workload
  }
  EXPECT_FALSE(t.frozen());
}

}  // namespace
}  // namespace imlane
