// The imlane_* settings (SET imlane_batch_size = 8192, ...): their registration as DuckDB
// extension options and how the rest of the integration reads them.
//
//   imlane_executors     executors of a coordinator IMLane starts itself      (first use)
//   imlane_python_env    virtualenv the executors of that coordinator import  (first use)
//   imlane_batch_size    rows per batch; 0 = adaptive                          (per query)
//   imlane_max_inflight  batches in flight per function                        (first use)
//   imlane_timeout_ms    a batch that takes longer fails                       (per query)
//   imlane_socket        coordinator socket                                    (first use)
//   imlane_lane_bytes    shared memory per in-flight batch, 64 KiB to 1 GiB    (first use)
//   imlane_idle_exit_ms  how long that coordinator stays after its last client (first use)
// "First use": read when the database's DBEnd context is created (imlane_state.cpp); SET refuses
// another value while that context lives. Every integer setting is range-checked at SET.
#pragma once

#include <cstdint>
#include <string>

#include "duckdb.hpp"

namespace imlane {
namespace duckdb_integration {

struct IMLaneSettings {
  // Adds the options to `config`; false (and nothing done) when they are there already.
  static bool Register(duckdb::DBConfig &config);
};

constexpr int64_t kDefaultTimeoutMs = 60000;
// imlane_idle_exit_ms: 5 minutes, as PostgreSQL's imlane.idle_exit_ms.
constexpr int64_t kDefaultIdleExitMs = 300000;
// kDefaultIdleExitMs, or $IMLANE_IDLE_EXIT_MS when that is a valid number of milliseconds.
int64_t DefaultIdleExitMs();
// Bounds of imlane_lane_bytes (DBEnd's minimum; the coordinator's default per-Lane cap at most).
constexpr int64_t kMinLaneBytes = int64_t{1} << 16;
constexpr int64_t kMaxLaneBytes = int64_t{1} << 30;

// Current value of an imlane_* setting.
int64_t IntSetting(duckdb::ClientContext &context, const char *name, int64_t fallback);
std::string StringSetting(duckdb::ClientContext &context, const char *name);
// imlane_timeout_ms.
int TimeoutMsSetting(duckdb::ClientContext &context);

}  // namespace duckdb_integration
}  // namespace imlane
