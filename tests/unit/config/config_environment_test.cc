// Environment overrides: WORKER_AGENT_<KEY>, the original worker's names, DOCKER_HOST.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>

#include "config/config_key.h"
#include "config/config_loader.h"
#include "config_test_util.h"

namespace wa::config {
namespace {

using testing::defaultsFor;
using testing::fields;
using testing::kHost;
using testing::loadError;
using testing::loadOk;

TEST(ConfigEnvironmentTest, EveryKeyHasAnOverride) {
  const Environment env = {
      {"WORKER_AGENT_WORKER_ID", "env-worker"},
      {"WORKER_AGENT_LISTEN", "::"},
      {"WORKER_AGENT_PORT", "0"},
      {"WORKER_AGENT_LISTEN_UNIX", "/run/worker-agent/api.sock"},
      {"WORKER_AGENT_AUTH_TOKEN", "env-token-0123456789"},
      // One source of the token at a time: the file is tested on its own below.
      {"WORKER_AGENT_AUTH_TOKEN_FILE", ""},
      {"WORKER_AGENT_AUTH_OPEN_PATHS", "/health, /metrics"},
      {"WORKER_AGENT_MAX_CONCURRENT_JOBS", "4"},
      {"WORKER_AGENT_MAX_QUEUED_JOBS", "7"},
      {"WORKER_AGENT_LABELS", "gpu,arm"},
      {"WORKER_AGENT_ALLOWED_IMAGES", "alpine:3.20, busybox"},
      {"WORKER_AGENT_ALLOWED_RUNTIME_MODES", "build"},
      {"WORKER_AGENT_DOCKER_HOST", "unix:///run/user/1000/docker.sock"},
      {"WORKER_AGENT_DOCKER_API_VERSION", "1.45"},
      {"WORKER_AGENT_DEFAULT_MEMORY_MB", "128"},
      {"WORKER_AGENT_DEFAULT_MAX_RUNTIME_SECONDS", "30"},
      {"WORKER_AGENT_MAX_MEMORY_MB", "2048"},
      {"WORKER_AGENT_MAX_RUNTIME_SECONDS", "3600"},
      {"WORKER_AGENT_OUTPUT_LIMIT_BYTES", "2048"},
      {"WORKER_AGENT_FINISHED_JOB_RETENTION_SECONDS", "10"},
      {"WORKER_AGENT_MAX_FINISHED_JOBS", "20"},
      {"WORKER_AGENT_MAX_BODY_BYTES", "1024"},
      {"WORKER_AGENT_MAX_CONNECTIONS", "500"},
      {"WORKER_AGENT_JOBS_PATH", "/tmp/jobs"},
      {"WORKER_AGENT_LOG_LEVEL", "warning"},
      {"WORKER_AGENT_SHUTDOWN_DRAIN_SECONDS", "5"},
      {"WORKER_AGENT_METRICS_ROOT", "/fixture"},
      {"WORKER_AGENT_SAMPLE_INTERVAL_MS", "500"},
      {"WORKER_AGENT_THERMAL_LIMIT_C", "80"},
      {"WORKER_AGENT_DISK_MIN_FREE_PERCENT", "7"},
      {"WORKER_AGENT_MEMORY_BUDGET_MB", "3000"},
      {"WORKER_AGENT_MEMORY_RESERVE_MB", "256"},
      {"WORKER_AGENT_IMAGE_GC_INTERVAL_SECONDS", "60"},
      {"WORKER_AGENT_IMAGE_GC_MAX_MB", "2048"},
      {"WORKER_AGENT_IMAGE_GC_MIN_FREE_PERCENT", "15"},
      {"WORKER_AGENT_IMAGE_GC_KEEP",
       "busybox:*, registry.example/base@sha256:"
       "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
      {"WORKER_AGENT_PULL_POLICY", "never"},
      {"WORKER_AGENT_PULL_TIMEOUT_SECONDS", "60"},
      {"WORKER_AGENT_REGISTRY_AUTH_FILE", "/run/secrets/auth.json"},
      {"WORKER_AGENT_BUILD_TIMEOUT_SECONDS", "90"},
      {"WORKER_AGENT_MAX_BUILD_CONTEXT_BYTES", "4096"},
      {"WORKER_AGENT_WORKSPACE_PATH", "/work/"},
      {"WORKER_AGENT_WORKSPACE_SIZE_MB", "32"},
      {"WORKER_AGENT_MAX_JOB_FILES_BYTES", "0"},
      {"WORKER_AGENT_OUTPUT_FILE_LIMIT_BYTES", "512"},
      {"WORKER_AGENT_ALLOW_NETWORK", "1"},
      {"WORKER_AGENT_PIDS_LIMIT", "64"},
      {"WORKER_AGENT_DEFAULT_CPUS", "0.25"},
      {"WORKER_AGENT_MAX_CPUS", "3.5"},
      {"WORKER_AGENT_READ_ONLY_ROOTFS", "false"},
      {"WORKER_AGENT_TMP_SIZE_MB", "16"},
      {"WORKER_AGENT_JOB_USER", "1000:1000"},
      {"WORKER_AGENT_CONTAINER_RUNTIME", "runsc"},
      {"WORKER_AGENT_STOP_ACTION", "drain"},
      {"WORKER_AGENT_JOURNAL", "false"},
      {"WORKER_AGENT_JOURNAL_PATH", "/srv/journal.sqlite"},
      {"WORKER_AGENT_JOURNAL_SYNC", "full"},
  };
  const Config c = loadOk("", env);
  EXPECT_EQ(c.worker_id, "env-worker");
  EXPECT_EQ(c.listen, "::");
  EXPECT_EQ(c.port, 0);
  EXPECT_EQ(c.listen_unix, "/run/worker-agent/api.sock");
  EXPECT_EQ(c.auth_token, "env-token-0123456789");
  EXPECT_EQ(c.auth_token_file, "");
  EXPECT_EQ(c.auth_open_paths, (std::vector<std::string>{"/health", "/metrics"}));
  EXPECT_EQ(c.max_concurrent_jobs, 4);
  EXPECT_EQ(c.max_queued_jobs, 7);
  EXPECT_EQ(c.labels, (std::vector<std::string>{"gpu", "arm"}));
  EXPECT_EQ(c.allowed_images, (std::vector<std::string>{"alpine:3.20", "busybox"}));
  EXPECT_EQ(c.allowed_runtime_modes, (std::vector<std::string>{"build"}));
  EXPECT_EQ(c.docker_host, "unix:///run/user/1000/docker.sock");
  EXPECT_EQ(c.docker_api_version, "1.45");
  EXPECT_EQ(c.default_memory_mb, 128);
  EXPECT_EQ(c.default_max_runtime_seconds, 30);
  EXPECT_EQ(c.max_memory_mb, 2048);
  EXPECT_EQ(c.max_runtime_seconds, 3600);
  EXPECT_EQ(c.output_limit_bytes, 2048);
  EXPECT_EQ(c.finished_job_retention_seconds, 10);
  EXPECT_EQ(c.max_finished_jobs, 20);
  EXPECT_EQ(c.max_body_bytes, 1024);
  EXPECT_EQ(c.max_connections, 500);
  EXPECT_EQ(c.jobs_path, "/tmp/jobs");
  EXPECT_EQ(c.log_level, "warning");
  EXPECT_EQ(c.shutdown_drain_seconds, 5);
  EXPECT_EQ(c.metrics_root, "/fixture");
  EXPECT_EQ(c.sample_interval_ms, 500);
  EXPECT_EQ(c.thermal_limit_c, 80);
  EXPECT_EQ(c.disk_min_free_percent, 7);
  EXPECT_EQ(c.memory_budget_mb, 3000);
  EXPECT_EQ(c.memory_reserve_mb, 256);
  EXPECT_EQ(c.image_gc_interval_seconds, 60);
  EXPECT_EQ(c.image_gc_max_mb, 2048);
  EXPECT_EQ(c.image_gc_min_free_percent, 15);
  EXPECT_EQ(c.image_gc_keep,
            (std::vector<std::string>{"busybox:*",
                                      "registry.example/base@sha256:0123456789abcdef"
                                      "0123456789abcdef0123456789abcdef0123456789abcdef"}));
  EXPECT_EQ(c.pull_policy, "never");
  EXPECT_EQ(c.pull_timeout_seconds, 60);
  EXPECT_EQ(c.registry_auth_file, "/run/secrets/auth.json");
  EXPECT_EQ(c.build_timeout_seconds, 90);
  EXPECT_EQ(c.max_build_context_bytes, 4096);
  EXPECT_EQ(c.workspace_path, "/work");
  EXPECT_EQ(c.workspace_size_mb, 32);
  EXPECT_EQ(c.max_job_files_bytes, 0);
  EXPECT_EQ(c.output_file_limit_bytes, 512);
  EXPECT_TRUE(c.allow_network);
  EXPECT_EQ(c.pids_limit, 64);
  EXPECT_EQ(c.default_cpus, 0.25);
  EXPECT_EQ(c.max_cpus, 3.5);
  EXPECT_FALSE(c.read_only_rootfs);
  EXPECT_EQ(c.tmp_size_mb, 16);
  EXPECT_EQ(c.job_user, "1000:1000");
  EXPECT_EQ(c.container_runtime, "runsc");
  EXPECT_EQ(c.stop_action, "drain");
  EXPECT_FALSE(c.journal);
  EXPECT_EQ(c.journal_path, "/srv/journal.sqlite");
  EXPECT_EQ(c.journal_sync, "full");
  // Every key of the table is covered above.
  EXPECT_EQ(env.size(), configKeys().size());
}

TEST(ConfigEnvironmentTest, Booleans) {
  EXPECT_TRUE(loadOk("", {{"WORKER_AGENT_ALLOW_NETWORK", "true"}}).allow_network);
  EXPECT_TRUE(loadOk("", {{"WORKER_AGENT_ALLOW_NETWORK", "1"}}).allow_network);
  EXPECT_FALSE(
      loadOk("allow_network: true", {{"WORKER_AGENT_ALLOW_NETWORK", "false"}}).allow_network);
  EXPECT_FALSE(loadOk("", {{"WORKER_AGENT_READ_ONLY_ROOTFS", "0"}}).read_only_rootfs);
  for (const char* bad : {"yes", "TRUE", "True", "on", "", " 1", "2", "-1"}) {
    const ConfigError e = loadError("", {{"WORKER_AGENT_ALLOW_NETWORK", bad}});
    EXPECT_EQ(e.key, "WORKER_AGENT_ALLOW_NETWORK");
    EXPECT_EQ(e.message, std::string("expected true, false, 1 or 0, got \"") + bad + "\"");
  }
}

TEST(ConfigEnvironmentTest, Decimals) {
  EXPECT_EQ(loadOk("", {{"WORKER_AGENT_MAX_CPUS", "12"}}).max_cpus, 12.0);
  EXPECT_EQ(loadOk("", {{"WORKER_AGENT_DEFAULT_CPUS", "0.05"}}).default_cpus, 0.05);
  EXPECT_EQ(loadError("", {{"WORKER_AGENT_MAX_CPUS", "nan"}}).message,
            "expected a decimal number such as 1.5, got \"nan\"");
  EXPECT_EQ(loadError("", {{"WORKER_AGENT_MAX_CPUS", "inf"}}).message,
            "expected a decimal number such as 1.5, got \"inf\"");
  EXPECT_EQ(loadError("", {{"WORKER_AGENT_MAX_CPUS", ""}}).message,
            "expected a decimal number such as 1.5, got \"\"");
  EXPECT_EQ(loadError("", {{"WORKER_AGENT_MAX_CPUS", "0.001"}}).message,
            "at most two decimal places, got \"0.001\"");
  EXPECT_EQ(loadError("", {{"WORKER_AGENT_DEFAULT_CPUS", "-1"}}).format(),
            "environment: WORKER_AGENT_DEFAULT_CPUS: must be between 0 and 4096, got -1");
  EXPECT_EQ(loadError("", {{"WORKER_AGENT_MAX_CPUS", "0.5"}}).format(),
            "environment: default_cpus: default_cpus 1 (its default) must not be larger than "
            "max_cpus 0.5");
}

TEST(ConfigEnvironmentTest, EmptyOptionalStringsClearTheFilesValue) {
  const Config c = loadOk("job_user: \"1:1\"\ncontainer_runtime: runsc\n",
                          {{"WORKER_AGENT_JOB_USER", ""},
                           {"WORKER_AGENT_CONTAINER_RUNTIME", ""},
                           {"WORKER_AGENT_REGISTRY_AUTH_FILE", ""}});
  EXPECT_EQ(c.job_user, "");
  EXPECT_EQ(c.container_runtime, "");
  EXPECT_EQ(c.registry_auth_file, "");
  EXPECT_EQ(loadError("", {{"WORKER_AGENT_WORKSPACE_PATH", ""}}).message,
            "must be an absolute path, got \"\"");
}

TEST(ConfigEnvironmentTest, ImagePatternsAreCheckedToo) {
  EXPECT_EQ(loadError("", {{"WORKER_AGENT_ALLOWED_IMAGES", "busybox, Alpine:3"}}).message,
            "item 2: \"Alpine:3\" is not an image pattern: repository name must be lowercase");
  EXPECT_EQ(loadOk("", {{"WORKER_AGENT_ALLOWED_IMAGES", "busybox:*, localhost:5000/team/*"}})
                .allowed_images,
            (std::vector<std::string>{"busybox:*", "localhost:5000/team/*"}));
}

TEST(ConfigEnvironmentTest, EnvironmentWinsOverTheFile) {
  const Config c = loadOk("port: 8000\nlabels: [a]\n",
                          {{"WORKER_AGENT_PORT", "8001"}, {"WORKER_AGENT_LABELS", "b"}});
  EXPECT_EQ(c.port, 8001);
  EXPECT_EQ(c.labels, (std::vector<std::string>{"b"}));
}

TEST(ConfigEnvironmentTest, EmptyListVariableIsAnEmptyList) {
  const Config c =
      loadOk("allowed_images: [alpine]\nallowed_runtime_modes: [image, build]\n",
             {{"WORKER_AGENT_ALLOWED_IMAGES", ""}, {"WORKER_AGENT_ALLOWED_RUNTIME_MODES", ""}});
  EXPECT_TRUE(c.allowed_images.empty());
  EXPECT_TRUE(c.allowed_runtime_modes.empty());
}

TEST(ConfigEnvironmentTest, ListItemsAreTrimmed) {
  EXPECT_EQ(loadOk("", {{"WORKER_AGENT_LABELS", " gpu ,  arm64,x86 "}}).labels,
            (std::vector<std::string>{"gpu", "arm64", "x86"}));
}

TEST(ConfigEnvironmentTest, EmptyListItemIsAnError) {
  const ConfigError e = loadError("", {{"WORKER_AGENT_ALLOWED_IMAGES", "alpine,,busybox"}});
  EXPECT_EQ(e.format(),
            "environment: WORKER_AGENT_ALLOWED_IMAGES: item 2: must not be an empty string");
}

TEST(ConfigEnvironmentTest, BadRuntimeModeItem) {
  const ConfigError e = loadError("", {{"WORKER_AGENT_ALLOWED_RUNTIME_MODES", "image,vm"}});
  EXPECT_EQ(e.key, "WORKER_AGENT_ALLOWED_RUNTIME_MODES");
  EXPECT_EQ(e.message, "item 2: must be \"image\" or \"build\", got \"vm\"");
}

TEST(ConfigEnvironmentTest, ErrorsReportTheVariable) {
  const ConfigError e = loadError("port: 1\n", {{"WORKER_AGENT_PORT", "70000"}});
  EXPECT_EQ(e.file, "environment");
  EXPECT_EQ(e.line, 0);
  EXPECT_EQ(e.column, 0);
  EXPECT_EQ(e.key, "WORKER_AGENT_PORT");
  EXPECT_EQ(e.format(), "environment: WORKER_AGENT_PORT: must be between 0 and 65535, got 70000");
}

TEST(ConfigEnvironmentTest, NonNumericIntegerIsAWrongType) {
  const ConfigError e = loadError("", {{"WORKER_AGENT_MAX_QUEUED_JOBS", "lots"}});
  EXPECT_EQ(e.key, "WORKER_AGENT_MAX_QUEUED_JOBS");
  EXPECT_EQ(e.message, "expected an integer, got \"lots\"");
  EXPECT_EQ(loadError("", {{"WORKER_AGENT_PORT", " 80"}}).message,
            "expected an integer, got \" 80\"");
  EXPECT_EQ(loadError("", {{"WORKER_AGENT_PORT", ""}}).message, "expected an integer, got \"\"");
  EXPECT_EQ(loadError("", {{"WORKER_AGENT_PORT", "123456789012345678901"}}).message,
            "integer out of range: 123456789012345678901");
}

TEST(ConfigEnvironmentTest, EmptyStringVariableIsValidatedNotIgnored) {
  const ConfigError e = loadError("", {{"WORKER_AGENT_WORKER_ID", ""}});
  EXPECT_EQ(e.key, "WORKER_AGENT_WORKER_ID");
  EXPECT_EQ(e.message, "must not be empty");
}

TEST(ConfigEnvironmentTest, ControlCharactersInWorkerId) {
  EXPECT_EQ(loadError("", {{"WORKER_AGENT_WORKER_ID", "a\nb"}}).message,
            "must not contain control characters");
}

TEST(ConfigEnvironmentTest, LegacyNames) {
  const Config c = loadOk(
      "port: 1\n",
      {{"WORKER_ID", "legacy-worker"}, {"WORKER_PORT", "9500"}, {"MAX_CONCURRENT_JOBS", "6"}});
  EXPECT_EQ(c.worker_id, "legacy-worker");
  EXPECT_EQ(c.port, 9500);
  EXPECT_EQ(c.max_concurrent_jobs, 6);
}

TEST(ConfigEnvironmentTest, NewNamesWinOverLegacyNames) {
  const Config c = loadOk("", {{"WORKER_ID", "legacy"},
                               {"WORKER_AGENT_WORKER_ID", "new"},
                               {"WORKER_PORT", "1"},
                               {"WORKER_AGENT_PORT", "2"},
                               {"MAX_CONCURRENT_JOBS", "3"},
                               {"WORKER_AGENT_MAX_CONCURRENT_JOBS", "4"}});
  EXPECT_EQ(c.worker_id, "new");
  EXPECT_EQ(c.port, 2);
  EXPECT_EQ(c.max_concurrent_jobs, 4);
}

TEST(ConfigEnvironmentTest, InvalidLegacyValueIsIgnoredWhenTheNewNameIsSet) {
  // The overridden variable is never read, so its value cannot fail the load.
  EXPECT_EQ(loadOk("", {{"WORKER_PORT", "junk"}, {"WORKER_AGENT_PORT", "2"}}).port, 2);
}

TEST(ConfigEnvironmentTest, LegacyErrorsNameTheLegacyVariable) {
  const ConfigError e = loadError("", {{"MAX_CONCURRENT_JOBS", "0"}});
  EXPECT_EQ(e.format(), "environment: MAX_CONCURRENT_JOBS: must be between 1 and 1024, got 0");
}

TEST(ConfigEnvironmentTest, DockerHostFillsInWhenTheFileDoesNotSetIt) {
  EXPECT_EQ(loadOk("port: 1\n", {{"DOCKER_HOST", "tcp://127.0.0.1:2375"}}).docker_host,
            "tcp://127.0.0.1:2375");
}

TEST(ConfigEnvironmentTest, FileDockerHostWinsOverDockerHost) {
  EXPECT_EQ(loadOk("docker_host: unix:///a.sock\n", {{"DOCKER_HOST", "tcp://127.0.0.1:2375"}})
                .docker_host,
            "unix:///a.sock");
}

TEST(ConfigEnvironmentTest, WorkerAgentDockerHostWinsOverDockerHost) {
  EXPECT_EQ(loadOk("", {{"DOCKER_HOST", "tcp://127.0.0.1:2375"},
                        {"WORKER_AGENT_DOCKER_HOST", "unix:///b.sock"}})
                .docker_host,
            "unix:///b.sock");
  // Even a bad DOCKER_HOST is not read when something else set the key.
  EXPECT_EQ(loadOk("", {{"DOCKER_HOST", "ssh://x"}, {"WORKER_AGENT_DOCKER_HOST", "unix:///b.sock"}})
                .docker_host,
            "unix:///b.sock");
}

TEST(ConfigEnvironmentTest, EmptyDockerHostCountsAsUnset) {
  EXPECT_EQ(loadOk("", {{"DOCKER_HOST", ""}}).docker_host, "unix:///var/run/docker.sock");
}

TEST(ConfigEnvironmentTest, UnsupportedDockerHostIsAnError) {
  const ConfigError e = loadError("", {{"DOCKER_HOST", "ssh://me@build-box"}});
  EXPECT_EQ(e.file, "environment");
  EXPECT_EQ(e.key, "DOCKER_HOST");
  EXPECT_EQ(e.message,
            "must start with unix:// or tcp:// and name a socket or address, got "
            "\"ssh://me@build-box\"");
}

TEST(ConfigEnvironmentTest, UnknownPrefixedVariablesAreIgnored) {
  const Config c = loadOk("", {{"WORKER_AGENT_BIN", "/usr/sbin/worker-agent"},
                               {"WORKER_AGENT_PROT", "1"},
                               {"worker_agent_port", "1"}});
  EXPECT_EQ(fields(c), fields(defaultsFor(kHost)));
}

TEST(ConfigEnvironmentTest, CrossKeyCheckSeesEnvironmentValues) {
  const ConfigError e =
      loadError("default_memory_mb: 1024\n", {{"WORKER_AGENT_MAX_MEMORY_MB", "512"}});
  EXPECT_EQ(e.format(),
            "test.yaml:1:20: default_memory_mb: default_memory_mb 1024 must not be larger than "
            "max_memory_mb 512");
  const ConfigError from_env = loadError("", {{"WORKER_AGENT_DEFAULT_MEMORY_MB", "9000"}});
  EXPECT_EQ(from_env.format(),
            "environment: WORKER_AGENT_DEFAULT_MEMORY_MB: default_memory_mb 9000 must not be "
            "larger than max_memory_mb 8192");
  const ConfigError ceiling_env = loadError("", {{"WORKER_AGENT_MAX_RUNTIME_SECONDS", "10"}});
  EXPECT_EQ(ceiling_env.format(),
            "environment: default_max_runtime_seconds: default_max_runtime_seconds 300 (its "
            "default) must not be larger than max_runtime_seconds 10");
}

TEST(ConfigEnvironmentTest, EnvironmentCanFixTheFilesCrossKeyConflict) {
  // The check runs once, after every override, so only the final values matter.
  const Config c = loadOk("max_memory_mb: 256\n", {{"WORKER_AGENT_DEFAULT_MEMORY_MB", "128"}});
  EXPECT_EQ(c.default_memory_mb, 128);
}

TEST(ConfigEnvironmentTest, LoadDefaultsAppliesTheEnvironment) {
  LoadResult r = ConfigLoader::loadDefaults({{"WORKER_PORT", "9001"}}, kHost);
  ASSERT_TRUE(r.config) << r.error.format();
  EXPECT_EQ(r.config->port, 9001);
  LoadResult bad = ConfigLoader::loadDefaults({{"WORKER_PORT", "x"}}, kHost);
  ASSERT_FALSE(bad.config);
  EXPECT_EQ(bad.error.key, "WORKER_PORT");
}

TEST(ConfigEnvironmentTest, ProcessEnvironmentReadsEnviron) {
  ASSERT_EQ(::setenv("WA_CONFIG_TEST_VARIABLE", "a=b", 1), 0);
  const Environment env = ConfigLoader::processEnvironment();
  ASSERT_EQ(::unsetenv("WA_CONFIG_TEST_VARIABLE"), 0);
  auto it = env.find("WA_CONFIG_TEST_VARIABLE");
  ASSERT_NE(it, env.end());
  EXPECT_EQ(it->second, "a=b");
}

TEST(ConfigEnvironmentTest, DockerApiVersionPinsLikeTheCli) {
  EXPECT_EQ(loadOk("", {}).docker_api_version, "");  // negotiate
  EXPECT_EQ(loadOk("", {{"DOCKER_API_VERSION", "1.45"}}).docker_api_version, "1.45");
  EXPECT_EQ(loadOk("", {{"DOCKER_API_VERSION", ""}}).docker_api_version, "");
  // The file, or WORKER_AGENT_DOCKER_API_VERSION, wins; "" in the file means negotiate.
  EXPECT_EQ(
      loadOk("docker_api_version: \"1.44\"\n", {{"DOCKER_API_VERSION", "1.45"}}).docker_api_version,
      "1.44");
  EXPECT_EQ(
      loadOk("docker_api_version: \"\"\n", {{"DOCKER_API_VERSION", "1.45"}}).docker_api_version,
      "");
  EXPECT_EQ(
      loadOk("", {{"DOCKER_API_VERSION", "1.45"}, {"WORKER_AGENT_DOCKER_API_VERSION", "1.41"}})
          .docker_api_version,
      "1.41");
  const ConfigError e = loadError("", {{"DOCKER_API_VERSION", "v1.45"}});
  EXPECT_EQ(e.key, "DOCKER_API_VERSION");
  EXPECT_EQ(e.format(),
            "environment: DOCKER_API_VERSION: must be an Engine API version such as 1.45 (or \"\" "
            "to negotiate one), got \"v1.45\"");
}

}  // namespace
}  // namespace wa::config
