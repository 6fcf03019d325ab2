// The coordinator's and the executors' log: one line per event, with a timestamp, the level, the
// component and the process id (spdlog, from Debian). Lines go to stderr: an embedded coordinator's
// stderr is the engine's (then only warnings and errors, to keep the engine's terminal clean) or,
// when it outlives the engine, <socket>.log. Not linked into DBEnd: engines keep their own logs.
#pragma once

#include <string>

namespace imlane {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// Lines below `level` are dropped; IMLANE_LOG=debug (in the environment) shows debug lines anyway.
void SetLogLevel(LogLevel level);
// "debug", "info", "warn" or "error"; false for anything else.
bool ParseLogLevel(const std::string& name, LogLevel* out);
void Log(LogLevel level, const char* component, const std::string& message);

}  // namespace imlane
