// ConfigLoader: reads the YAML config (libyaml) and applies environment overrides.
// Keys are flat; every key is optional. Unknown keys, wrong types and bad values are
// errors that name the key and its file:line:column.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "config/config.h"

namespace wa::config {

using Environment = std::map<std::string, std::string>;

struct ConfigError {
  std::string file;  // file name, "<string>", or "environment"
  int line = 0;      // 1-based; 0 when not from the file
  int column = 0;    // 1-based
  std::string key;   // the key at fault ("" if none)
  std::string message;
  // "file:line:column: key: message" (position left out when 0).
  std::string format() const;
};

struct LoadResult {
  std::optional<Config> config;  // set on success
  ConfigError error;             // set on failure
};

class ConfigLoader {
 public:
  // The process environment as a map.
  static Environment processEnvironment();
  // Loads path (a missing file is an error) then env overrides. hostname fills the default
  // worker_id.
  static LoadResult loadFile(const std::string& path, const Environment& env,
                             const std::string& hostname);
  // Same, from text; name is used in error positions.
  static LoadResult loadString(const std::string& text, const std::string& name,
                               const Environment& env, const std::string& hostname);
  // Defaults plus env overrides only (no file given).
  static LoadResult loadDefaults(const Environment& env, const std::string& hostname);
};

}  // namespace wa::config
