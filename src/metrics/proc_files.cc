#include "metrics/proc_files.h"

#include <charconv>

#include "core/file_reader.h"

namespace wa::metrics {

std::string rootedPath(const std::string& root, std::string_view absolute_path) {
  std::string_view prefix(root);
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  std::string path(prefix);
  path += absolute_path;
  return path;
}

std::optional<std::string> readSmallFile(const std::string& path, size_t max_bytes) {
  return core::readFile(path, max_bytes);
}

std::string_view trimWhitespace(std::string_view s) {
  const auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

std::optional<int64_t> meminfoKb(std::string_view meminfo, std::string_view key) {
  size_t line_start = 0;
  while (line_start < meminfo.size()) {
    size_t line_end = meminfo.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = meminfo.size();
    const std::string_view line = meminfo.substr(line_start, line_end - line_start);
    line_start = line_end + 1;
    // Match "Key:" exactly so that "MemTotal" never matches a longer key.
    if (line.size() <= key.size() || line.substr(0, key.size()) != key || line[key.size()] != ':') {
      continue;
    }
    const std::string_view rest = trimWhitespace(line.substr(key.size() + 1));
    int64_t value = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
    if (ec != std::errc() || end == rest.data() || value < 0) return std::nullopt;
    return value;
  }
  return std::nullopt;
}

}  // namespace wa::metrics
