#include "imlane/common/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <memory>

namespace imlane {

namespace {

spdlog::logger& Logger() {
  // Unbuffered stderr, one mutex: lines of several threads never interleave.
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = std::make_shared<spdlog::logger>("imlane", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_pattern("%Y-%m-%d %H:%M:%S.%e %-5l imlane[%P] %v");
    l->flush_on(spdlog::level::trace);
    const char* e = std::getenv("IMLANE_LOG");
    l->set_level(e != nullptr && std::string(e) == "debug" ? spdlog::level::debug : spdlog::level::info);
    return l;
  }();
  return *logger;
}

spdlog::level::level_enum ToSpd(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return spdlog::level::debug;
    case LogLevel::kInfo: return spdlog::level::info;
    case LogLevel::kWarn: return spdlog::level::warn;
    case LogLevel::kError: return spdlog::level::err;
  }
  return spdlog::level::info;
}

}  // namespace

void SetLogLevel(LogLevel level) {
  const char* e = std::getenv("IMLANE_LOG");
  Logger().set_level(e != nullptr && std::string(e) == "debug" ? spdlog::level::debug : ToSpd(level));
}

bool ParseLogLevel(const std::string& name, LogLevel* out) {
  if (name == "debug")
    *out = LogLevel::kDebug;
  else if (name == "info")
    *out = LogLevel::kInfo;
  else if (name == "warn")
    *out = LogLevel::kWarn;
  else if (name == "error")
    *out = LogLevel::kError;
  else
    return false;
  return true;
}

void Log(LogLevel level, const char* component, const std::string& message) {
  Logger().log(ToSpd(level), "{}: {}", component, message);
}

}  // namespace imlane
