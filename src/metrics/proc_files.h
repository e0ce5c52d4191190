// Small readers for the text files under /proc and /sys that the metrics come from.
// Every function reports a missing or malformed file as "no value", never as an error:
// which files exist depends on the kernel, the architecture and the container.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wa::metrics {

// root joined with an absolute path: ("/", "/proc/x") -> "/proc/x"; ("/t", "/proc/x") ->
// "/t/proc/x".
std::string rootedPath(const std::string& root, std::string_view absolute_path);

// The whole file, or nullopt if it cannot be opened or read or is longer than max_bytes.
// /proc files report a size of 0, so this reads to end of file rather than trusting stat.
std::optional<std::string> readSmallFile(const std::string& path, size_t max_bytes = 1 << 16);

// The number in a "/proc/meminfo"-style line "Key:   123 kB", or nullopt if key is absent.
std::optional<int64_t> meminfoKb(std::string_view meminfo, std::string_view key);

// s without leading and trailing ASCII whitespace.
std::string_view trimWhitespace(std::string_view s);

}  // namespace wa::metrics
