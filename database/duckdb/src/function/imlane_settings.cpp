#include "function/imlane_settings.hpp"

#include <cstdint>
#include <cstdlib>

#include "imlane_state.hpp"

namespace imlane {
namespace duckdb_integration {

using namespace duckdb;  // NOLINT: DuckDB glue

namespace {

// Refused at SET, naming the bound: a Lane is pre-faulted shared memory per in-flight batch, and the
// coordinator refuses Lanes over its own cap (imlane serve --max-lane-bytes, at most 1 GiB by default).
void CheckLaneBytes(ClientContext &, SetScope, Value &parameter) {
  const int64_t bytes = parameter.GetValue<int64_t>();
  if (bytes < kMinLaneBytes || bytes > kMaxLaneBytes) {
    throw InvalidInputException(
        "imlane_lane_bytes = %lld is out of range: a Lane is %lld to %lld bytes (64 KiB to "
        "1 GiB; the coordinator may cap it lower with imlane serve --max-lane-bytes)",
        static_cast<long long>(bytes), static_cast<long long>(kMinLaneBytes), static_cast<long long>(kMaxLaneBytes));
  }
}

// Integer settings with a lower bound (and INT_MAX for those DBEnd keeps as int), named in the error.
void CheckAtLeast(const char *name, const Value &parameter, int64_t min, int64_t max, const char *meaning) {
  const int64_t v = parameter.GetValue<int64_t>();
  if (v < min || v > max) {
    throw InvalidInputException("%s = %lld is out of range: %s (%lld to %lld)", name, static_cast<long long>(v),
                                meaning, static_cast<long long>(min), static_cast<long long>(max));
  }
}

// A setting read when the database first uses IMLane cannot change while that context lives: say so
// rather than let a SET be silently ignored. The value it already has is accepted (scripts repeat SETs).
void CheckNotInUse(ClientContext &context, const char *name, const Value &parameter) {
  auto live = GetState(context).LiveSettings();
  if (!live) return;
  std::string now;
  const std::string name_str = name;
  if (name_str == "imlane_executors") now = std::to_string(live->n_executors);
  if (name_str == "imlane_max_inflight") now = std::to_string(live->max_inflight);
  if (name_str == "imlane_lane_bytes") now = std::to_string(live->lane_bytes);
  if (name_str == "imlane_socket") now = live->socket_path;
  if (name_str == "imlane_python_env") now = live->python_env;
  if (name_str == "imlane_idle_exit_ms") now = std::to_string(live->embedded_idle_exit_ms);
  if (parameter.ToString() == now) return;
  throw InvalidInputException(
      "SET %s = %s cannot take effect: it is read when this database first uses IMLane, which it already "
      "has (%s = %s, coordinator at %s). It applies to the next coordinator connection of this database, e.g. after "
      "restarting the process",
      name, parameter.ToString(), name, now.empty() ? "''" : now,
      live->socket_path.empty() ? "the default socket" : live->socket_path);
}

void SetExecutors(ClientContext &context, SetScope, Value &parameter) {
  CheckAtLeast("imlane_executors", parameter, 0, 4096, "executor processes; 0 = usable cores");
  CheckNotInUse(context, "imlane_executors", parameter);
}
void SetMaxInflight(ClientContext &context, SetScope, Value &parameter) {
  CheckAtLeast("imlane_max_inflight", parameter, 0, 1 << 20, "batches in flight per function; 0 = executors x 8");
  CheckNotInUse(context, "imlane_max_inflight", parameter);
}
void SetBatchSize(ClientContext &, SetScope, Value &parameter) {
  CheckAtLeast("imlane_batch_size", parameter, 0, int64_t{1} << 31, "rows per batch; 0 = adaptive");
}
void SetTimeout(ClientContext &, SetScope, Value &parameter) {
  CheckAtLeast("imlane_timeout_ms", parameter, 1, INT32_MAX, "milliseconds a batch may take");
}
void SetLaneBytes(ClientContext &context, SetScope scope, Value &parameter) {
  CheckLaneBytes(context, scope, parameter);
  CheckNotInUse(context, "imlane_lane_bytes", parameter);
}
void SetIdleExit(ClientContext &context, SetScope, Value &parameter) {
  CheckAtLeast("imlane_idle_exit_ms", parameter, 0, INT32_MAX,
               "milliseconds a coordinator IMLane starts itself stays after its last client");
  CheckNotInUse(context, "imlane_idle_exit_ms", parameter);
}
void SetSocket(ClientContext &context, SetScope, Value &parameter) {
  CheckNotInUse(context, "imlane_socket", parameter);
}
void SetPythonEnv(ClientContext &context, SetScope, Value &parameter) {
  CheckNotInUse(context, "imlane_python_env", parameter);
}

}  // namespace

bool IMLaneSettings::Register(DBConfig &config) {
  if (config.extension_parameters.count("imlane_batch_size")) return false;
  config.AddExtensionOption("imlane_executors",
                            "executor processes of a coordinator IMLane starts itself (0 = usable cores); "
                            "takes effect at the first use of IMLane in this database",
                            LogicalType::INTEGER, Value::INTEGER(0), SetExecutors);
  config.AddExtensionOption("imlane_python_env",
                            "virtualenv of Python 3.11 whose packages the executors of a coordinator IMLane "
                            "starts itself import first (imlane serve --python-env); empty = the system "
                            "Python's; takes effect at the first use of IMLane in this database",
                            LogicalType::VARCHAR, Value(""), SetPythonEnv);
  config.AddExtensionOption("imlane_batch_size",
                            "rows per batch sent to an executor; 0 = adaptive (tuned per function)",
                            LogicalType::BIGINT, Value::BIGINT(0), SetBatchSize);
  config.AddExtensionOption("imlane_max_inflight", "batches in flight per function; 0 = executors x 8",
                            LogicalType::INTEGER, Value::INTEGER(0), SetMaxInflight);
  config.AddExtensionOption("imlane_timeout_ms", "a batch that takes longer fails and its executor is replaced",
                            LogicalType::BIGINT, Value::BIGINT(kDefaultTimeoutMs), SetTimeout);
  config.AddExtensionOption("imlane_socket", "coordinator socket; empty = $IMLANE_SOCKET or the per-user default",
                            LogicalType::VARCHAR, Value(""), SetSocket);
  config.AddExtensionOption("imlane_idle_exit_ms",
                            "how long a coordinator IMLane starts itself stays after its last client, so the "
                            "next process skips the cold start; default 300000 (or $IMLANE_IDLE_EXIT_MS); takes "
                            "effect at the first use of IMLane in this database",
                            LogicalType::BIGINT, Value::BIGINT(DefaultIdleExitMs()), SetIdleExit);
  config.AddExtensionOption("imlane_lane_bytes",
                            "shared memory per in-flight batch (input plus result), 64 KiB to 1 GiB",
                            LogicalType::BIGINT, Value::BIGINT(64 << 20), SetLaneBytes);
  return true;
}

int64_t IntSetting(ClientContext &context, const char *name, int64_t fallback) {
  Value v;
  if (context.TryGetCurrentSetting(name, v) && !v.IsNull()) return v.GetValue<int64_t>();
  return fallback;
}

std::string StringSetting(ClientContext &context, const char *name) {
  Value v;
  if (context.TryGetCurrentSetting(name, v) && !v.IsNull()) return v.ToString();
  return "";
}

int64_t DefaultIdleExitMs() {
  // The environment lets a test suite or a benchmark, which start many short-lived databases, run
  // without coordinators staying behind; a bad value is ignored.
  if (const char *env = std::getenv("IMLANE_IDLE_EXIT_MS"); env != nullptr && *env) {
    char *end = nullptr;
    const long long v = std::strtoll(env, &end, 10);
    if (end != env && *end == '\0' && v >= 0 && v <= INT32_MAX) return v;
  }
  return kDefaultIdleExitMs;
}

int TimeoutMsSetting(ClientContext &context) {
  return static_cast<int>(IntSetting(context, "imlane_timeout_ms", kDefaultTimeoutMs));
}

}  // namespace duckdb_integration
}  // namespace imlane
