// Helpers shared by the config unit tests.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/config_key.h"
#include "config/config_loader.h"

namespace wa::config::testing {

inline const std::string kHost = "box";

// Every key as "name=value", so that two configs compare (and print) key by key.
inline std::vector<std::string> fields(const Config& c) { return describeConfig(c); }

inline Config defaultsFor(const std::string& hostname) {
  Config c;
  c.worker_id = hostname;
  return c;
}

inline LoadResult load(const std::string& yaml, const Environment& env = {}) {
  return ConfigLoader::loadString(yaml, "test.yaml", env, kHost);
}

// The config yaml loads to; fails the test (and returns defaults) if it does not load.
inline Config loadOk(const std::string& yaml, const Environment& env = {}) {
  LoadResult r = load(yaml, env);
  EXPECT_TRUE(r.config.has_value()) << r.error.format();
  return r.config.value_or(Config{});
}

// The error yaml fails with; fails the test if it loads.
inline ConfigError loadError(const std::string& yaml, const Environment& env = {}) {
  LoadResult r = load(yaml, env);
  EXPECT_FALSE(r.config.has_value()) << "loaded, expected an error";
  return r.error;
}

}  // namespace wa::config::testing
