// Logging: one line per event on stderr, "LEVEL message key=value ...".
// Structured fields are kept separate so a journal sink can send them as fields.
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
  static void write(LogLevel level, std::string_view message, const LogFields& fields = {});
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
