#include "function/imlane_settings.hpp"

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

}  // namespace

bool IMLaneSettings::Register(DBConfig &config) {
  if (config.extension_parameters.count("imlane_batch_size")) return false;
  config.AddExtensionOption("imlane_executors",
                            "executor processes of a coordinator IMLane starts itself (0 = usable cores); "
                            "takes effect at the first use of IMLane in this database",
                            LogicalType::INTEGER, Value::INTEGER(0));
  config.AddExtensionOption("imlane_python_env",
                            "virtualenv of Python 3.11 whose packages the executors of a coordinator IMLane "
                            "starts itself import first (imlane serve --python-env); empty = the system "
                            "Python's; takes effect at the first use of IMLane in this database",
                            LogicalType::VARCHAR, Value(""));
  config.AddExtensionOption("imlane_batch_size",
                            "rows per batch sent to an executor; 0 = adaptive (tuned per function)",
                            LogicalType::BIGINT, Value::BIGINT(0));
  config.AddExtensionOption("imlane_max_inflight", "batches in flight per function; 0 = executors x 8",
                            LogicalType::INTEGER, Value::INTEGER(0));
  config.AddExtensionOption("imlane_timeout_ms", "a batch that takes longer fails and its executor is replaced",
                            LogicalType::BIGINT, Value::BIGINT(kDefaultTimeoutMs));
  config.AddExtensionOption("imlane_socket", "coordinator socket; empty = $IMLANE_SOCKET or the per-user default",
                            LogicalType::VARCHAR, Value(""));
  config.AddExtensionOption("imlane_lane_bytes",
                            "shared memory per in-flight batch (input plus result), 64 KiB to 1 GiB",
                            LogicalType::BIGINT, Value::BIGINT(64 << 20), CheckLaneBytes);
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

int TimeoutMsSetting(ClientContext &context) {
  return static_cast<int>(IntSetting(context, "imlane_timeout_ms", kDefaultTimeoutMs));
}

}  // namespace duckdb_integration
}  // namespace imlane
