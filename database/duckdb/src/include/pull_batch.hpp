// Waits for a submitted batch the way a DuckDB query must: in 50 ms slices, so that an interrupted
// query stops at once (its batches are then discarded, the executors stay), and up to
// imlane_timeout_ms in all; only a batch past that deadline has its executor killed (by DBEnd's
// Pull) and fails the query with an error that names the setting and its value.
#pragma once

#include "duckdb.hpp"
#include "imlane/dbend_context.h"

namespace imlane {
namespace duckdb_integration {

// The result of `ticket`, waited for up to `timeout_ms`; throws InterruptException when the query
// is interrupted, and the batch's error (or the timeout) as a DuckDB exception.
PulledBatch PullBatch(DBEndContext &ctx, duckdb::ClientContext &client, Ticket ticket, int timeout_ms);

}  // namespace duckdb_integration
}  // namespace imlane
