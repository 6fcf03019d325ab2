// The Lane region: created pre-faulted, attached from a descriptor with its header validated.
#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>

#include "imlane/lane/futex.h"
#include "imlane/lane/lane.h"

namespace imlane {
namespace {

TEST(LaneTest, AttachSeesTheSameMemory) {
  auto lane = Lane::Create(7, 1 << 20);
  ASSERT_TRUE(lane.ok()) << lane.status().ToString();
  auto peer = Lane::Attach(dup(lane->fd()));
  ASSERT_TRUE(peer.ok()) << peer.status().ToString();
  EXPECT_EQ(peer->id(), 7u);
  EXPECT_EQ(peer->arena_bytes(), lane->arena_bytes());
  lane->region()[lane->arena_offset()] = 42;
  EXPECT_EQ(peer->region()[peer->arena_offset()], 42);
}

TEST(LaneTest, AttachRejectsACorruptHeader) {
  auto lane = Lane::Create(1, 1 << 20);
  ASSERT_TRUE(lane.ok());
  lane->header()->magic ^= 1;
  EXPECT_EQ(Lane::Attach(dup(lane->fd())).status().code(), StatusCode::kProtocolError);
  lane->header()->magic ^= 1;
  lane->header()->region_bytes += 4096;  // claims more memory than the region has
  EXPECT_EQ(Lane::Attach(dup(lane->fd())).status().code(), StatusCode::kProtocolError);
  lane->header()->region_bytes -= 4096;
  lane->header()->layout_version = 99;
  EXPECT_EQ(Lane::Attach(dup(lane->fd())).status().code(), StatusCode::kProtocolError);
}

TEST(LaneTest, TooSmallIsAnError) { EXPECT_EQ(Lane::Create(1, 100).status().code(), StatusCode::kInvalidArgument); }

TEST(LaneTest, ErrorMessagesKeepTheTail) {
  auto lane = Lane::Create(1, 1 << 20);
  ASSERT_TRUE(lane.ok());
  std::string msg = "head " + std::string(10000, '.') + " the last line";
  lane->header()->state.store(static_cast<uint32_t>(LaneState::kBusy));
  ASSERT_TRUE(lane->PublishError(LaneState::kFailed, StatusCode::kExecutorFailed, msg));
  EXPECT_EQ(lane->state(), LaneState::kFailed);
  std::string got = lane->ReadMessage();
  EXPECT_EQ(got.size(), kLaneMessageBytes);
  EXPECT_NE(got.find("the last line"), std::string::npos);
  // An idle Lane has no request to fail.
  lane->header()->state.store(static_cast<uint32_t>(LaneState::kIdle));
  EXPECT_FALSE(lane->PublishError(LaneState::kFailed, StatusCode::kExecutorFailed, "x"));
}

TEST(FutexTest, WaitTimesOutAndWakes) {
  std::atomic<uint32_t> word{0};
  EXPECT_EQ(FutexWait(&word, 0, 1000000), WaitResult::kTimedOut);
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    word.store(1);
    FutexWakeAll(&word);
  });
  while (word.load() == 0) FutexWait(&word, 0, 2000000000);
  t.join();
  EXPECT_EQ(word.load(), 1u);
}

}  // namespace
}  // namespace imlane
