#include "imlane_state.hpp"

#include "function/imlane_settings.hpp"

namespace imlane {
namespace duckdb_integration {

IMLaneState &GetState(duckdb::ClientContext &context) {
  return *duckdb::ObjectCache::GetObjectCache(context).GetOrCreate<IMLaneState>(IMLaneState::ObjectType());
}

Result<DBEndContext *> IMLaneState::Context(duckdb::ClientContext &context) {
  std::lock_guard<std::mutex> lock(mu);
  if (ctx_) return ctx_.get();
  Settings s;
  s.socket_path = StringSetting(context, "imlane_socket");
  s.n_executors = static_cast<int>(IntSetting(context, "imlane_executors", 0));
  s.python_env = StringSetting(context, "imlane_python_env");
  s.batch_rows = 0;  // the prediction operator pins per query (imlane_batch_size) or follows the tuner
  s.max_inflight = static_cast<int>(IntSetting(context, "imlane_max_inflight", 0));
  s.timeout_ms = TimeoutMsSetting(context);
  s.lane_bytes = static_cast<size_t>(IntSetting(context, "imlane_lane_bytes", 64 << 20));
  IMLANE_ASSIGN_OR_RETURN(ctx_, DBEndContext::Setup(s));
  return ctx_.get();
}

void ThrowStatus(const Status &st) {
  switch (st.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotFound: throw duckdb::InvalidInputException(st.message());
    case StatusCode::kIOError: throw duckdb::IOException(st.message());
    default: throw duckdb::InvalidInputException(std::string(StatusCodeName(st.code())) + ": " + st.message());
  }
}

size_t IMLaneState::PinnedBatchRows(const std::string &name) {
  std::lock_guard<std::mutex> lock(mu);
  auto it = batch_rows.find(name);
  return it == batch_rows.end() ? 0 : it->second;
}

}  // namespace duckdb_integration
}  // namespace imlane
