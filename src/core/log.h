// Logging: one line per event on stderr, "LEVEL message key=value ...", or, once a sink
// is installed (the systemd journal), whatever that sink does with it.
// Structured fields are kept separate so a journal sink can send them as fields: keys are
// lower_snake_case ("job_id"), and a sink may rename them (the journal's JOB_ID).
#pragma once

#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wa::core {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

using LogFields = std::vector<std::pair<std::string, std::string>>;

class Log {
 public:
  static void setLevel(LogLevel level);
  static LogLevel level();
  // Parses "debug", "info", "warning", "error"; returns false on anything else.
  static bool parseLevel(std::string_view text, LogLevel* out);
  // Writes one event if level is at or above the current level.
  static void write(LogLevel level, std::string_view message, const LogFields& fields = {});

  // Receives every event that passes the level instead of stderr; nullptr restores
  // stderr. Called on the thread that logs; must not log itself.
  using Sink = void (*)(LogLevel level, std::string_view message, const LogFields& fields);
  static void setSink(Sink sink);
  // The stderr line for an event, without the newline: "info message key=value".
  static std::string formatLine(LogLevel level, std::string_view message, const LogFields& fields);
  static const char* levelName(LogLevel level);
};

namespace detail {
template <typename... Args>
std::string concat(Args&&... args) {
  std::ostringstream out;
  (out << ... << std::forward<Args>(args));
  return out.str();
}
}  // namespace detail

template <typename... Args>
void logDebug(Args&&... args) {
  if (Log::level() <= LogLevel::kDebug)
    Log::write(LogLevel::kDebug, detail::concat(std::forward<Args>(args)...));
}
template <typename... Args>
void logInfo(Args&&... args) {
  if (Log::level() <= LogLevel::kInfo)
    Log::write(LogLevel::kInfo, detail::concat(std::forward<Args>(args)...));
}
template <typename... Args>
void logWarning(Args&&... args) {
  Log::write(LogLevel::kWarning, detail::concat(std::forward<Args>(args)...));
}
template <typename... Args>
void logError(Args&&... args) {
  Log::write(LogLevel::kError, detail::concat(std::forward<Args>(args)...));
}

}  // namespace wa::core
