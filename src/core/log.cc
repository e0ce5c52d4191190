#include "core/log.h"

#include <cstdio>
#include <ctime>

namespace wa::core {
namespace {
LogLevel g_level = LogLevel::kInfo;

const char* levelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "?";
}
}  // namespace

void Log::setLevel(LogLevel level) { g_level = level; }
LogLevel Log::level() { return g_level; }

bool Log::parseLevel(std::string_view text, LogLevel* out) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    if (text == levelName(l)) {
      *out = l;
      return true;
    }
  }
  return false;
}

void Log::write(LogLevel level, std::string_view message, const LogFields& fields) {
  if (level < g_level) return;
  std::string line;
  line.reserve(message.size() + 32);
  line += levelName(level);
  line += ' ';
  line += message;
  for (const auto& [key, value] : fields) {
    line += ' ';
    line += key;
    line += '=';
    line += value;
  }
  line += '\n';
  // One fwrite per line keeps lines whole; stderr is unbuffered.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace wa::core
