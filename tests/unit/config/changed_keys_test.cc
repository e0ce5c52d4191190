// changedKeys and the reloadable flag: what a SIGHUP reload can apply.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "config/config_key.h"
#include "config_test_util.h"

namespace wa::config {
namespace {

using testing::defaultsFor;

// A value of the key's kind that differs from any default.
ConfigValue otherValue(const ConfigKey& key) {
  ConfigValue v;
  v.text = key.name == "listen"              ? "127.0.0.2"
           : key.name == "docker_host"       ? "tcp://10.0.0.1:2375"
           : key.name == "log_level"         ? "debug"
           : key.name == "pull_policy"       ? "always"
           : key.name == "job_user"          ? "1000:1000"
           : key.name == "container_runtime" ? "runsc"
           : key.name == "auth_token"        ? "a-token-of-24-characters"
           : key.name == "stop_action"       ? "drain"
           : key.name == "journal_sync"      ? "full"
                                             : "/srv/other";
  if (key.name == "worker_id") v.text = "other-worker";
  if (key.name == "docker_api_version") v.text = "1.45";
  // Each boolean's default negated; a decimal no key has as its default.
  v.boolean = key.name == "allow_network";
  v.decimal = 2.5;
  v.integer = key.name == "port" ? 9100 : key.name == "thermal_limit_c" ? 70 : 37;
  if (key.name == "disk_min_free_percent") v.integer = 12;
  if (key.name == "sample_interval_ms" || key.name == "output_limit_bytes" ||
      key.name == "max_body_bytes" || key.name == "max_build_context_bytes") {
    v.integer = 4096;
  }
  v.list = {key.name == "allowed_runtime_modes" ? "build"
            : key.name == "auth_open_paths"     ? "/info"
                                                : "x:1"};
  return v;
}

TEST(ChangedKeysTest, EveryKeyIsComparedOnItsOwn) {
  const Config base = defaultsFor("h");
  EXPECT_TRUE(changedKeys(base, base).empty());
  for (const ConfigKey& key : configKeys()) {
    Config changed = base;
    ASSERT_EQ(key.apply(otherValue(key), &changed), "") << key.name;
    const auto keys = changedKeys(base, changed);
    ASSERT_EQ(keys.size(), 1u) << key.name;
    EXPECT_EQ(keys[0], key.name);
  }
}

TEST(ChangedKeysTest, WhatNeedsARestart) {
  std::set<std::string> restart;
  for (const ConfigKey& key : configKeys()) {
    if (!key.reloadable) restart.emplace(key.name);
  }
  EXPECT_EQ(restart, (std::set<std::string>{"worker_id", "listen", "port", "listen_unix",
                                            "docker_host", "max_body_bytes", "max_connections",
                                            "metrics_root", "sample_interval_ms", "journal",
                                            "journal_path", "journal_sync"}));
}

TEST(ChangedKeysTest, AuthenticationKeysAreReloadable) {
  for (const char* name : {"auth_token", "auth_token_file", "auth_open_paths"}) {
    const ConfigKey* key = findConfigKey(name);
    ASSERT_NE(key, nullptr) << name;
    EXPECT_TRUE(key->reloadable) << name;
  }
}

TEST(ChangedKeysTest, EveryExecutionKeyIsReloadable) {
  for (const char* name : {"pull_policy",
                           "pull_timeout_seconds",
                           "registry_auth_file",
                           "build_timeout_seconds",
                           "max_build_context_bytes",
                           "workspace_path",
                           "workspace_size_mb",
                           "max_job_files_bytes",
                           "output_file_limit_bytes",
                           "allow_network",
                           "pids_limit",
                           "default_cpus",
                           "max_cpus",
                           "read_only_rootfs",
                           "tmp_size_mb",
                           "job_user",
                           "container_runtime",
                           "memory_budget_mb",
                           "memory_reserve_mb",
                           "image_gc_interval_seconds",
                           "image_gc_max_mb",
                           "image_gc_min_free_percent",
                           "image_gc_keep"}) {
    const ConfigKey* key = findConfigKey(name);
    ASSERT_NE(key, nullptr) << name;
    EXPECT_TRUE(key->reloadable) << name;
  }
}

TEST(ChangedKeysTest, DecimalsAndBooleansCompareByValue) {
  Config a = defaultsFor("h");
  Config b = a;
  b.default_cpus = 1.0;
  b.read_only_rootfs = true;
  EXPECT_TRUE(changedKeys(a, b).empty());
  b.default_cpus = 1.01;
  b.read_only_rootfs = false;
  EXPECT_EQ(changedKeys(a, b), (std::vector<std::string_view>{"default_cpus", "read_only_rootfs"}));
}

TEST(ChangedKeysTest, NewKeysHaveDefaultsAndRanges) {
  const Config c = testing::loadOk(
      "metrics_root: /tmp/fixture\nsample_interval_ms: 250\n"
      "thermal_limit_c: 0\ndisk_min_free_percent: 10\n");
  EXPECT_EQ(c.metrics_root, "/tmp/fixture");
  EXPECT_EQ(c.sample_interval_ms, 250);
  EXPECT_EQ(c.thermal_limit_c, 0);
  EXPECT_EQ(c.disk_min_free_percent, 10);
  EXPECT_EQ(Config{}.metrics_root, "/");
  EXPECT_EQ(Config{}.sample_interval_ms, 1000);
  testing::loadError("metrics_root: relative/path\n");
  testing::loadError("sample_interval_ms: 10\n");
  testing::loadError("thermal_limit_c: 200\n");
  testing::loadError("disk_min_free_percent: 101\n");
  const Config env = testing::loadOk("", {{"WORKER_AGENT_THERMAL_LIMIT_C", "75"}});
  EXPECT_EQ(env.thermal_limit_c, 75);
}

}  // namespace
}  // namespace wa::config
