#include "pull_batch.hpp"

#include <algorithm>
#include <chrono>
#include <string>

#include "imlane_state.hpp"

namespace imlane {
namespace duckdb_integration {

namespace {

constexpr int kSliceMs = 50;  // how often a waiting thread looks at ClientContext::interrupted

// A stuck batch's error says which setting allows longer batches.
Status NameTheSetting(const Status &st, int timeout_ms) {
  if (st.code() != StatusCode::kTimedOut) return st;
  return Status::TimedOut(st.message(), " (imlane_timeout_ms = ", timeout_ms, ")");
}

}  // namespace

PulledBatch PullBatch(DBEndContext &ctx, duckdb::ClientContext &client, Ticket ticket, int timeout_ms) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
  while (Clock::now() < deadline) {
    auto ready = ctx.Wait(ticket, kSliceMs);
    if (!ready.ok()) ThrowStatus(ready.status());
    if (*ready) break;
    if (client.interrupted) throw duckdb::InterruptException();
  }
  // Finished (Pull collects it at once), or past the deadline: DBEnd counts the timeout from the
  // ticket's first Wait, so Pull kills the stuck executor now and names the whole timeout.
  auto pulled = ctx.Pull(ticket, timeout_ms);
  if (!pulled.ok()) ThrowStatus(NameTheSetting(pulled.status(), timeout_ms));
  return std::move(*pulled);
}

}  // namespace duckdb_integration
}  // namespace imlane
