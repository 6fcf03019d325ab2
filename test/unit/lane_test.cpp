// The Lane region: created pre-faulted, attached from a descriptor with its header validated.
#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>

#include "imlane/lane/futex.h"
#include "imlane/lane/lane.h"
#include "imlane/lane/lane_protocol.h"

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

// A hostile or buggy peer writes raw bytes: corrupt the header as such a peer would.
LaneHeader* RawHeader(const Lane& lane) { return reinterpret_cast<LaneHeader*>(lane.region()); }

TEST(LaneTest, AttachRejectsACorruptHeader) {
  auto lane = Lane::Create(1, 1 << 20);
  ASSERT_TRUE(lane.ok());
  RawHeader(*lane)->magic ^= 1;
  EXPECT_EQ(Lane::Attach(dup(lane->fd())).status().code(), StatusCode::kProtocolError);
  RawHeader(*lane)->magic ^= 1;
  RawHeader(*lane)->region_bytes += 4096;  // claims more memory than the region has
  EXPECT_EQ(Lane::Attach(dup(lane->fd())).status().code(), StatusCode::kProtocolError);
  RawHeader(*lane)->region_bytes -= 4096;
  RawHeader(*lane)->layout_version = 99;
  EXPECT_EQ(Lane::Attach(dup(lane->fd())).status().code(), StatusCode::kProtocolError);
}

TEST(LaneTest, TooSmallIsAnError) { EXPECT_EQ(Lane::Create(1, 100).status().code(), StatusCode::kInvalidArgument); }

ExecutorBell* NewBell(SharedRegion* region) {
  *region = SharedRegion::Create("test-bell", kBellBytes, true).ValueOrDie();
  return ExecutorBell::Initialize(region->data());
}

TEST(LaneProtocolTest, ErrorMessagesKeepTheTail) {
  auto lane = Lane::Create(1, 1 << 20);
  ASSERT_TRUE(lane.ok());
  SharedRegion bell_region;
  ExecutorBell* bell = NewBell(&bell_region);
  LaneClient(&*lane).PostRequest(1, lane->arena_offset(), 64, bell);
  LaneExecutor(&*lane).BeginServe();
  std::string msg = "head " + std::string(10000, '.') + " the last line";
  ASSERT_TRUE(LaneCoordinator(&*lane).Fail(StatusCode::kExecutorFailed, msg));
  EXPECT_EQ(lane->state(), LaneState::kFailed);
  auto outcome = LaneClient(&*lane).Outcome();
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().code(), StatusCode::kExecutorFailed);
  EXPECT_EQ(outcome.status().message().size(), kLaneMessageBytes);
  EXPECT_NE(outcome.status().message().find("the last line"), std::string::npos);
  // An idle Lane has no request to fail.
  LaneClient(&*lane).Reset();
  EXPECT_FALSE(LaneCoordinator(&*lane).Fail(StatusCode::kExecutorFailed, "x"));
  EXPECT_EQ(lane->state(), LaneState::kIdle);
}

TEST(LaneProtocolTest, ARequestRoundTripsBetweenTwoMappings) {
  auto lane = Lane::Create(3, 1 << 20);
  ASSERT_TRUE(lane.ok());
  auto served = Lane::Attach(dup(lane->fd()));  // the executor's own mapping
  ASSERT_TRUE(served.ok());
  SharedRegion bell_region;
  ExecutorBell* bell = NewBell(&bell_region);
  const uint32_t rings = bell->ring.load();
  LaneClient client(&*lane);
  client.PostRequest(42, lane->arena_offset(), 128, bell);
  EXPECT_EQ(bell->ring.load(), rings + 1);
  EXPECT_FALSE(client.Finished());
  std::thread executor([&] {
    LaneExecutor role(&*served);
    while (!role.HasRequest()) std::this_thread::yield();
    LaneExecutor::Request r = role.BeginServe();
    EXPECT_EQ(r.function_id, 42u);
    EXPECT_EQ(r.offset, served->arena_offset());
    EXPECT_EQ(r.bytes, 128u);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));  // the client goes to sleep meanwhile
    role.PublishResult(ResponsePlacement{8192, 256, 777});
  });
  auto wait = client.WaitFinished(MonotonicNanos() + 5'000'000'000, 0, [] { return true; });
  executor.join();
  EXPECT_EQ(wait, LaneClient::Wait::kFinished);
  auto outcome = client.Outcome();
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_EQ(outcome->offset, 8192u);
  EXPECT_EQ(outcome->bytes, 256u);
  EXPECT_EQ(outcome->exec_ns, 777u);
  client.Reset();
  EXPECT_EQ(lane->state(), LaneState::kIdle);
}

TEST(LaneProtocolTest, WaitingEndsAtTheDeadlineOrWhenThePeerIsGone) {
  auto lane = Lane::Create(4, 1 << 20);
  ASSERT_TRUE(lane.ok());
  SharedRegion bell_region;
  ExecutorBell* bell = NewBell(&bell_region);
  LaneClient client(&*lane);
  client.PostRequest(1, lane->arena_offset(), 64, bell);
  EXPECT_EQ(client.WaitFinished(MonotonicNanos() + 20'000'000, 1000, [] { return true; }), LaneClient::Wait::kTimedOut);
  EXPECT_EQ(client.WaitFinished(MonotonicNanos() + 5'000'000'000, 0, [] { return false; }),
            LaneClient::Wait::kPeerGone);
}

TEST(LaneProtocolTest, AStaleOrForeignResponseIsRejected) {
  auto lane = Lane::Create(5, 1 << 20);
  ASSERT_TRUE(lane.ok());
  SharedRegion bell_region;
  ExecutorBell* bell = NewBell(&bell_region);
  LaneClient(&*lane).PostRequest(1, lane->arena_offset(), 64, bell);
  LaneExecutor(&*lane).BeginServe();
  LaneExecutor(&*lane).PublishResult(ResponsePlacement{8192, 64, 1});
  RawHeader(*lane)->response_seq_low ^= 1;  // an answer to another request
  EXPECT_EQ(LaneClient(&*lane).Outcome().status().code(), StatusCode::kProtocolError);
  // An error code outside the enum is reported as internal, never trusted.
  LaneClient(&*lane).Reset();
  LaneClient(&*lane).PostRequest(1, lane->arena_offset(), 64, bell);
  LaneExecutor(&*lane).BeginServe();
  LaneExecutor(&*lane).PublishError(Status::PythonError("boom"));
  EXPECT_EQ(LaneClient(&*lane).Outcome().status().code(), StatusCode::kPythonError);
  RawHeader(*lane)->error_code = 999;
  EXPECT_EQ(LaneClient(&*lane).Outcome().status().code(), StatusCode::kInternal);
}

TEST(LaneProtocolTest, AReclaimedLaneIsIdleUnlessARequestIsInFlight) {
  auto lane = Lane::Create(6, 1 << 20);
  ASSERT_TRUE(lane.ok());
  SharedRegion bell_region;
  ExecutorBell* bell = NewBell(&bell_region);
  LaneClient(&*lane).PostRequest(1, lane->arena_offset(), 64, bell);
  EXPECT_FALSE(LaneCoordinator(&*lane).Reclaim());
  LaneExecutor(&*lane).BeginServe();
  EXPECT_FALSE(LaneCoordinator(&*lane).Reclaim());
  LaneExecutor(&*lane).PublishError(Status::PythonError("x"));  // finished, never read by its old client
  EXPECT_TRUE(LaneCoordinator(&*lane).Reclaim());
  EXPECT_EQ(lane->state(), LaneState::kIdle);
}

TEST(ExecutorBellTest, ARingWakesTheSleeperAndWorkSkipsTheSleep) {
  SharedRegion bell_region;
  ExecutorBell* bell = NewBell(&bell_region);
  EXPECT_EQ(bell->Sleep([] { return true; }, 5'000'000'000), WaitResult::kChanged);  // work: no sleep
  EXPECT_EQ(bell->Sleep([] { return false; }, 10'000'000), WaitResult::kTimedOut);
  std::thread ringer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    bell->RequestControl();
  });
  const int64_t start = MonotonicNanos();
  while (!bell->ControlPending()) bell->Sleep([] { return false; }, 5'000'000'000);
  ringer.join();
  EXPECT_LT(MonotonicNanos() - start, 4'000'000'000);
  EXPECT_TRUE(bell->TakeControlRequest());
  EXPECT_FALSE(bell->ControlPending());
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
