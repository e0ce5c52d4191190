// readFile: the whole of a small file, for the config-like files the daemon reads
// (credentials, /proc and /sys entries). Not for anything that can be large.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace wa::core {

// The file's bytes, or nullopt with *error (when given) saying why: it cannot be opened
// or read, is not a regular file (/proc and /sys entries are), or holds more than max_bytes.
std::optional<std::string> readFile(const std::string& path, size_t max_bytes,
                                    std::string* error = nullptr);

}  // namespace wa::core
