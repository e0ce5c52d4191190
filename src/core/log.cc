#include "core/log.h"

#include <cstdio>
#include <ctime>

namespace wa::core {
namespace {
LogLevel g_level = LogLevel::kInfo;
Log::Sink g_sink = nullptr;
}  // namespace

const char* Log::levelName(LogLevel level) {
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

void Log::setSink(Sink sink) { g_sink = sink; }

std::string Log::formatLine(LogLevel level, std::string_view message, const LogFields& fields) {
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
  return line;
}

void Log::write(LogLevel level, std::string_view message, const LogFields& fields) {
  if (level < g_level) return;
  if (g_sink != nullptr) {
    g_sink(level, message, fields);
    return;
  }
  std::string line = formatLine(level, message, fields);
  line += '\n';
  // One fwrite per line keeps lines whole; stderr is unbuffered.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace wa::core
