#include "pull_batch.hpp"

#include <algorithm>
#include <chrono>
#include <string>

#include "imlane_state.hpp"

namespace imlane {
namespace duckdb_integration {

namespace {

constexpr int kSliceMs = 50;  // how often a waiting thread looks at ClientContext::interrupted

// DBEnd's Pull(ticket, timeout_ms) reports the time it waited itself ("within <timeout_ms> ms").
// The slices before it waited most of the deadline, so the message is made to name the whole
// timeout and the setting that sets it.
Status WithWholeTimeout(const Status &st, int pulled_ms, int timeout_ms) {
  if (st.code() != StatusCode::kTimedOut) return st;
  std::string message = st.message();
  const std::string waited = " within " + std::to_string(pulled_ms) + " ms";
  const std::string whole = " within " + std::to_string(timeout_ms) + " ms (imlane_timeout_ms)";
  const size_t at = message.find(waited);
  if (at != std::string::npos) {
    message.replace(at, waited.size(), whole);
  } else {
    message += " (imlane_timeout_ms = " + std::to_string(timeout_ms) + ")";
  }
  return Status::TimedOut(std::move(message));
}

}  // namespace

PulledBatch PullBatch(DBEndContext &ctx, duckdb::ClientContext &client, Ticket ticket, int timeout_ms) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
  int remaining_ms = timeout_ms;
  while (remaining_ms > 0) {
    auto ready = ctx.Wait(ticket, std::min(kSliceMs, remaining_ms));
    if (!ready.ok()) ThrowStatus(ready.status());
    if (*ready) break;
    if (client.interrupted) throw duckdb::InterruptException();
    remaining_ms = static_cast<int>(
        std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count());
  }
  // Finished (Pull collects it at once), or at the deadline: Pull kills the stuck executor.
  const int pull_ms = std::max(remaining_ms, 1);
  auto pulled = ctx.Pull(ticket, pull_ms);
  if (!pulled.ok()) ThrowStatus(WithWholeTimeout(pulled.status(), pull_ms, timeout_ms));
  return std::move(*pulled);
}

}  // namespace duckdb_integration
}  // namespace imlane
