#include "imlane_state.hpp"

#include "duckdb_table_converter.hpp"
#include "function/imlane_settings.hpp"

namespace imlane {
namespace duckdb_integration {

IMLaneState &GetState(duckdb::ClientContext &context) {
  return *duckdb::ObjectCache::GetObjectCache(context).GetOrCreate<IMLaneState>(IMLaneState::ObjectType());
}

Result<std::shared_ptr<DBEndContext>> IMLaneState::Context(duckdb::ClientContext &context) {
  std::lock_guard<std::mutex> lock(mu);
  if (ctx_ && ctx_->Connected()) return ctx_;
  const bool reconnect = ctx_ != nullptr;
  Settings s;
  s.socket_path = StringSetting(context, "imlane_socket");
  s.n_executors = static_cast<int>(IntSetting(context, "imlane_executors", 0));
  s.python_env = StringSetting(context, "imlane_python_env");
  s.batch_rows = 0;  // the prediction operator pins per query (imlane_batch_size) or follows the tuner
  s.max_inflight = static_cast<int>(IntSetting(context, "imlane_max_inflight", 0));
  s.timeout_ms = TimeoutMsSetting(context);
  s.lane_bytes = static_cast<size_t>(IntSetting(context, "imlane_lane_bytes", 64 << 20));
  s.embedded_idle_exit_ms = static_cast<int>(IntSetting(context, "imlane_idle_exit_ms", DefaultIdleExitMs()));
  IMLANE_ASSIGN_OR_RETURN(std::unique_ptr<DBEndContext> fresh, DBEndContext::Setup(s));
  ctx_ = std::move(fresh);  // queries running on the old context keep it until they end
  ctx_settings_ = s;
  if (reconnect) {
    // The new coordinator knows none of this database's functions: register them again, all of
    // them even when one fails (its calls then say it is unknown), reporting the first failure.
    Status first;
    for (const auto &[name, spec] : functions) {
      Status st = ctx_->RegisterFunction(spec);
      if (!st.ok() && first.ok()) {
        first = st.WithContext("the coordinator was restarted; registering function '" + name + "' there again");
      }
    }
    IMLANE_RETURN_NOT_OK(first);
  }
  return ctx_;
}

std::optional<Settings> IMLaneState::LiveSettings() {
  std::lock_guard<std::mutex> lock(mu);
  if (!ctx_ || !ctx_->Connected()) return std::nullopt;
  return ctx_settings_;
}

void CheckBoundSignature(const FunctionPin &pin, const duckdb::vector<duckdb::LogicalType> &bound) {
  bool same = pin.arg_types().size() == bound.size();
  for (duckdb::idx_t i = 0; same && i < bound.size(); i++) same = DuckDBTypeOf(pin.arg_types()[i]) == bound[i];
  if (!same) {
    throw duckdb::InvalidInputException(
        "imlane function '%s' was re-registered with other argument types (%s) "
        "while this query was being planned; run the query again",
        pin.name(), TypeListToString(pin.arg_types()));
  }
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
