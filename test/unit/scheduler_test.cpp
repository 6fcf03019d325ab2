#include <gtest/gtest.h>

#include "imlane/coordinator/scheduler.h"

namespace imlane {
namespace {

TEST(SchedulerTest, UsesEveryAvailableExecutorByDefault) {
  std::vector<ExecutorLoad> loads = {{0, true, 3, false}, {1, true, 0, false}, {2, false, 0, false}};
  EXPECT_EQ(ChooseExecutors(loads, SchedulingRequest{}), (std::vector<int>{0, 1}));
}

TEST(SchedulerTest, PrefersWarmThenLeastLoaded) {
  std::vector<ExecutorLoad> loads = {{0, true, 0, false}, {1, true, 5, true}, {2, true, 1, false}};
  EXPECT_EQ(ChooseExecutors(loads, SchedulingRequest{1, 2}), (std::vector<int>{1}));
  EXPECT_EQ(ChooseExecutors(loads, SchedulingRequest{2, 2}), (std::vector<int>{0, 1}));
}

TEST(SchedulerTest, NoneAvailable) {
  std::vector<ExecutorLoad> loads = {{0, false, 0, true}};
  EXPECT_TRUE(ChooseExecutors(loads, SchedulingRequest{}).empty());
}

}  // namespace
}  // namespace imlane
