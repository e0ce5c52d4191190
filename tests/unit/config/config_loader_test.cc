// The YAML file: every key, defaults, and each class of error with its exact position.
#include "config/config_loader.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "config_test_util.h"

namespace wa::config {
namespace {

using testing::defaultsFor;
using testing::fields;
using testing::kHost;
using testing::loadError;
using testing::loadOk;

TEST(ConfigLoaderTest, EmptyTextGivesDefaults) {
  EXPECT_EQ(fields(loadOk("")), fields(defaultsFor(kHost)));
}

TEST(ConfigLoaderTest, CommentsOnlyGiveDefaults) {
  EXPECT_EQ(fields(loadOk("# nothing here\n\n   # still nothing\n")), fields(defaultsFor(kHost)));
}

TEST(ConfigLoaderTest, DefaultsMatchTheDocumentedValues) {
  const Config c = loadOk("");
  EXPECT_EQ(c.worker_id, "box");  // the hostname
  EXPECT_EQ(c.listen, "0.0.0.0");
  EXPECT_EQ(c.port, 9000);
  EXPECT_EQ(c.listen_unix, "");
  EXPECT_EQ(c.auth_token, "");
  EXPECT_EQ(c.auth_token_file, "");
  EXPECT_EQ(c.auth_open_paths, std::vector<std::string>{"/health"});
  EXPECT_EQ(c.max_concurrent_jobs, 2);
  EXPECT_EQ(c.max_queued_jobs, 1000);
  EXPECT_TRUE(c.labels.empty());
  EXPECT_TRUE(c.allowed_images.empty());
  EXPECT_EQ(c.allowed_runtime_modes, std::vector<std::string>{"image"});
  EXPECT_EQ(c.docker_host, "unix:///var/run/docker.sock");
  EXPECT_EQ(c.default_memory_mb, 512);
  EXPECT_EQ(c.default_max_runtime_seconds, 300);
  EXPECT_EQ(c.max_memory_mb, 8192);
  EXPECT_EQ(c.max_runtime_seconds, 86400);
  EXPECT_EQ(c.output_limit_bytes, 1048576);
  EXPECT_EQ(c.finished_job_retention_seconds, 3600);
  EXPECT_EQ(c.max_finished_jobs, 10000);
  EXPECT_EQ(c.max_body_bytes, 8388608);
  EXPECT_EQ(c.max_connections, 10000);
  EXPECT_EQ(c.jobs_path, "/var/lib/worker-agent");
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.pull_policy, "missing");
  EXPECT_EQ(c.pull_timeout_seconds, 600);
  EXPECT_EQ(c.registry_auth_file, "");
  EXPECT_EQ(c.build_timeout_seconds, 600);
  EXPECT_EQ(c.max_build_context_bytes, 16777216);
  EXPECT_EQ(c.workspace_path, "/workspace");
  EXPECT_EQ(c.workspace_size_mb, 256);
  EXPECT_EQ(c.max_job_files_bytes, 4194304);
  EXPECT_EQ(c.output_file_limit_bytes, 1048576);
  EXPECT_FALSE(c.allow_network);
  EXPECT_EQ(c.pids_limit, 256);
  EXPECT_EQ(c.default_cpus, 1.0);
  EXPECT_EQ(c.max_cpus, 0.0);
  EXPECT_TRUE(c.read_only_rootfs);
  EXPECT_EQ(c.tmp_size_mb, 64);
  EXPECT_EQ(c.job_user, "65534:65534");
  EXPECT_EQ(c.container_runtime, "");
}

TEST(ConfigLoaderTest, DefaultWorkerIdWithoutHostname) {
  LoadResult r = ConfigLoader::loadString("", "test.yaml", {}, "");
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->worker_id, "worker");
}

TEST(ConfigLoaderTest, LoadDefaultsWithoutFile) {
  LoadResult r = ConfigLoader::loadDefaults({}, "node7");
  ASSERT_TRUE(r.config) << r.error.format();
  EXPECT_EQ(fields(*r.config), fields(defaultsFor("node7")));
}

TEST(ConfigLoaderTest, EveryKeyIsParsed) {
  const Config c = loadOk(R"(
worker_id: builder-1
listen: "::1"
port: 8080
listen_unix: /run/worker-agent/api.sock
auth_token: "0123456789abcdef-token"
auth_token_file: ""
auth_open_paths: [/health, /info]
max_concurrent_jobs: 8
max_queued_jobs: 1
labels: [gpu, arm64]
allowed_images:
  - alpine:3.20
  - "python:3.12-slim"
allowed_runtime_modes: [image, build]
docker_host: tcp://10.0.0.5:2375
default_memory_mb: 256
default_max_runtime_seconds: 60
max_memory_mb: 1024
max_runtime_seconds: 600
output_limit_bytes: 4096
finished_job_retention_seconds: 0
max_finished_jobs: 5
max_body_bytes: 65536
max_connections: 2000
jobs_path: /srv/jobs
log_level: debug
shutdown_drain_seconds: 0
pull_policy: always
pull_timeout_seconds: 30
registry_auth_file: /etc/worker-agent/auth.json
build_timeout_seconds: 120
max_build_context_bytes: 2048
workspace_path: /job
workspace_size_mb: 16
max_job_files_bytes: 100
output_file_limit_bytes: 0
allow_network: true
pids_limit: 0
default_cpus: 0.5
max_cpus: 2.25
read_only_rootfs: false
tmp_size_mb: 8
job_user: "1000:100"
container_runtime: runsc
)");
  EXPECT_EQ(c.worker_id, "builder-1");
  EXPECT_EQ(c.listen, "::1");
  EXPECT_EQ(c.port, 8080);
  EXPECT_EQ(c.listen_unix, "/run/worker-agent/api.sock");
  EXPECT_EQ(c.auth_token, "0123456789abcdef-token");
  EXPECT_EQ(c.auth_token_file, "");
  EXPECT_EQ(c.auth_open_paths, (std::vector<std::string>{"/health", "/info"}));
  EXPECT_EQ(c.max_concurrent_jobs, 8);
  EXPECT_EQ(c.max_queued_jobs, 1);
  EXPECT_EQ(c.labels, (std::vector<std::string>{"gpu", "arm64"}));
  EXPECT_EQ(c.allowed_images, (std::vector<std::string>{"alpine:3.20", "python:3.12-slim"}));
  EXPECT_EQ(c.allowed_runtime_modes, (std::vector<std::string>{"image", "build"}));
  EXPECT_EQ(c.docker_host, "tcp://10.0.0.5:2375");
  EXPECT_EQ(c.default_memory_mb, 256);
  EXPECT_EQ(c.default_max_runtime_seconds, 60);
  EXPECT_EQ(c.max_memory_mb, 1024);
  EXPECT_EQ(c.max_runtime_seconds, 600);
  EXPECT_EQ(c.output_limit_bytes, 4096);
  EXPECT_EQ(c.finished_job_retention_seconds, 0);
  EXPECT_EQ(c.max_finished_jobs, 5);
  EXPECT_EQ(c.max_body_bytes, 65536);
  EXPECT_EQ(c.max_connections, 2000);
  EXPECT_EQ(c.jobs_path, "/srv/jobs");
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.shutdown_drain_seconds, 0);
  EXPECT_EQ(c.pull_policy, "always");
  EXPECT_EQ(c.pull_timeout_seconds, 30);
  EXPECT_EQ(c.registry_auth_file, "/etc/worker-agent/auth.json");
  EXPECT_EQ(c.build_timeout_seconds, 120);
  EXPECT_EQ(c.max_build_context_bytes, 2048);
  EXPECT_EQ(c.workspace_path, "/job");
  EXPECT_EQ(c.workspace_size_mb, 16);
  EXPECT_EQ(c.max_job_files_bytes, 100);
  EXPECT_EQ(c.output_file_limit_bytes, 0);
  EXPECT_TRUE(c.allow_network);
  EXPECT_EQ(c.pids_limit, 0);
  EXPECT_EQ(c.default_cpus, 0.5);
  EXPECT_EQ(c.max_cpus, 2.25);
  EXPECT_FALSE(c.read_only_rootfs);
  EXPECT_EQ(c.tmp_size_mb, 8);
  EXPECT_EQ(c.job_user, "1000:100");
  EXPECT_EQ(c.container_runtime, "runsc");
}

TEST(ConfigLoaderTest, EmptyListsAreAccepted) {
  const Config c = loadOk("labels: []\nallowed_images: []\nallowed_runtime_modes: []\n");
  EXPECT_TRUE(c.labels.empty());
  EXPECT_TRUE(c.allowed_images.empty());
  EXPECT_TRUE(c.allowed_runtime_modes.empty());
}

TEST(ConfigLoaderTest, EngineEndpointsTheWorkerCanReach) {
  EXPECT_EQ(loadOk("docker_host: unix:///run/podman/podman.sock").docker_host,
            "unix:///run/podman/podman.sock");
  EXPECT_EQ(loadOk("docker_host: tcp://127.0.0.1:2375").docker_host, "tcp://127.0.0.1:2375");
  EXPECT_EQ(loadOk("docker_host: tcp://localhost:2375/").docker_host, "tcp://localhost:2375/");
  EXPECT_EQ(loadOk("docker_host: \"tcp://[::1]:2375\"").docker_host, "tcp://[::1]:2375");
  EXPECT_EQ(loadOk("docker_host: tcp://10.0.0.5:65535").docker_host, "tcp://10.0.0.5:65535");
}

TEST(ConfigLoaderTest, LargeIntegersKeepAllDigits) {
  const Config c = loadOk("max_memory_mb: 9007199254740993\nmax_body_bytes: 4294967296\n");
  EXPECT_EQ(c.max_memory_mb, 9007199254740993);
  EXPECT_EQ(c.max_body_bytes, 4294967296);
}

TEST(ConfigLoaderTest, IntegerBoundsAreInclusive) {
  EXPECT_EQ(loadOk("port: 0").port, 0);
  EXPECT_EQ(loadOk("port: 65535").port, 65535);
  EXPECT_EQ(loadOk("max_concurrent_jobs: 1").max_concurrent_jobs, 1);
  EXPECT_EQ(loadOk("max_concurrent_jobs: 1024").max_concurrent_jobs, 1024);
  EXPECT_EQ(loadOk("max_queued_jobs: 1000000").max_queued_jobs, 1000000);
  EXPECT_EQ(loadOk("output_limit_bytes: 1024").output_limit_bytes, 1024);
  EXPECT_EQ(loadOk("max_body_bytes: 1024").max_body_bytes, 1024);
  EXPECT_EQ(loadOk("max_finished_jobs: 0").max_finished_jobs, 0);
  EXPECT_EQ(loadOk("default_memory_mb: 6").default_memory_mb, 6);
}

struct BadValue {
  const char* yaml;
  const char* key;
  int column;
  const char* message;
};

class BadValueTest : public ::testing::TestWithParam<BadValue> {};

TEST_P(BadValueTest, NamesKeyPositionAndRule) {
  const BadValue& bad = GetParam();
  const ConfigError e = loadError(std::string("# leading comment\n") + bad.yaml + "\n");
  EXPECT_EQ(e.file, "test.yaml");
  EXPECT_EQ(e.line, 2);
  EXPECT_EQ(e.column, bad.column);
  EXPECT_EQ(e.key, bad.key);
  EXPECT_EQ(e.message, bad.message);
}

INSTANTIATE_TEST_SUITE_P(
    Ranges, BadValueTest,
    ::testing::Values(
        BadValue{"port: 65536", "port", 7, "must be between 0 and 65535, got 65536"},
        BadValue{"port: -1", "port", 7, "must be between 0 and 65535, got -1"},
        BadValue{"max_concurrent_jobs: 0", "max_concurrent_jobs", 22,
                 "must be between 1 and 1024, got 0"},
        BadValue{"max_concurrent_jobs: 1025", "max_concurrent_jobs", 22,
                 "must be between 1 and 1024, got 1025"},
        BadValue{"max_queued_jobs: 1000001", "max_queued_jobs", 18,
                 "must be between 1 and 1000000, got 1000001"},
        BadValue{"max_queued_jobs: 0", "max_queued_jobs", 18,
                 "must be between 1 and 1000000, got 0"},
        BadValue{"default_memory_mb: 5", "default_memory_mb", 20, "must be at least 6, got 5"},
        BadValue{"default_max_runtime_seconds: -5", "default_max_runtime_seconds", 30,
                 "must be at least 1, got -5"},
        BadValue{"max_memory_mb: 0", "max_memory_mb", 16, "must be at least 6, got 0"},
        BadValue{"max_runtime_seconds: 0", "max_runtime_seconds", 22, "must be at least 1, got 0"},
        BadValue{"output_limit_bytes: 1023", "output_limit_bytes", 21,
                 "must be at least 1024, got 1023"},
        BadValue{"finished_job_retention_seconds: -1", "finished_job_retention_seconds", 33,
                 "must be at least 0, got -1"},
        BadValue{"max_finished_jobs: -1", "max_finished_jobs", 20, "must be at least 0, got -1"},
        BadValue{"max_body_bytes: 100", "max_body_bytes", 17, "must be at least 1024, got 100"},
        BadValue{"max_connections: 0", "max_connections", 18,
                 "must be between 1 and 1000000, got 0"},
        BadValue{"max_connections: 1000001", "max_connections", 18,
                 "must be between 1 and 1000000, got 1000001"},
        BadValue{"port: 99999999999999999999", "port", 7,
                 "integer out of range: 99999999999999999999"}));

INSTANTIATE_TEST_SUITE_P(
    Strings, BadValueTest,
    ::testing::Values(
        BadValue{"worker_id: \"\"", "worker_id", 12, "must not be empty"},
        BadValue{"worker_id: \"a\\tb\"", "worker_id", 12, "must not contain control characters"},
        BadValue{"listen: localhost", "listen", 9,
                 "must be an IPv4 or IPv6 address literal such as 0.0.0.0 or ::, got "
                 "\"localhost\""},
        BadValue{"listen: \"[::1]\"", "listen", 9,
                 "must be an IPv4 or IPv6 address literal such as 0.0.0.0 or ::, got \"[::1]\""},
        BadValue{"listen: 10.0.0.256", "listen", 9,
                 "must be an IPv4 or IPv6 address literal such as 0.0.0.0 or ::, got "
                 "\"10.0.0.256\""},
        BadValue{"docker_host: /var/run/docker.sock", "docker_host", 14,
                 "must start with unix:// or tcp:// and name a socket or address, got "
                 "\"/var/run/docker.sock\""},
        BadValue{"docker_host: unix://", "docker_host", 14,
                 "must start with unix:// or tcp:// and name a socket or address, got "
                 "\"unix://\""},
        BadValue{"docker_host: ssh://me@host", "docker_host", 14,
                 "must start with unix:// or tcp:// and name a socket or address, got "
                 "\"ssh://me@host\""},
        // The attach stream connects on the event loop: no name lookups there.
        BadValue{"docker_host: tcp://docker.example:2375", "docker_host", 14,
                 "a tcp:// engine must be a numeric address (such as tcp://10.0.0.5:2375 or "
                 "tcp://[fd00::5]:2375) or localhost: the worker does not look host names up, "
                 "which would stall it while it connects a job's stream; got "
                 "\"tcp://docker.example:2375\""},
        BadValue{"docker_host: tcp://10.0.0.5", "docker_host", 14,
                 "a tcp:// engine must be given as tcp://HOST:PORT with a port from 1 to 65535, "
                 "got \"tcp://10.0.0.5\""},
        BadValue{"docker_host: tcp://10.0.0.5:0", "docker_host", 14,
                 "a tcp:// engine must be given as tcp://HOST:PORT with a port from 1 to 65535, "
                 "got \"tcp://10.0.0.5:0\""},
        BadValue{"docker_host: \"tcp://[fd00::5:2375\"", "docker_host", 14,
                 "a tcp:// engine must be a numeric address (such as tcp://10.0.0.5:2375 or "
                 "tcp://[fd00::5]:2375) or localhost: the worker does not look host names up, "
                 "which would stall it while it connects a job's stream; got "
                 "\"tcp://[fd00::5:2375\""},
        BadValue{"docker_host: unix://run/docker.sock", "docker_host", 14,
                 "a unix:// engine must name an absolute socket path "
                 "(unix:///var/run/docker.sock), got \"unix://run/docker.sock\""},
        BadValue{"jobs_path: var/lib/jobs", "jobs_path", 12,
                 "must be an absolute path, got \"var/lib/jobs\""},
        BadValue{"log_level: verbose", "log_level", 12,
                 "must be one of debug, info, warning, error, got \"verbose\""}));

INSTANTIATE_TEST_SUITE_P(
    ListItems, BadValueTest,
    ::testing::Values(BadValue{"allowed_runtime_modes: [image, docker]", "allowed_runtime_modes",
                               32, "item 2: must be \"image\" or \"build\", got \"docker\""},
                      BadValue{"allowed_images: [alpine, \"\"]", "allowed_images", 26,
                               "item 2: must not be an empty string"},
                      BadValue{"labels: [\"\"]", "labels", 10,
                               "item 1: must not be an empty string"}));

INSTANTIATE_TEST_SUITE_P(
    WrongTypes, BadValueTest,
    ::testing::Values(
        BadValue{"port: [1]", "port", 7, "expected an integer, got a sequence"},
        BadValue{"port: {a: 1}", "port", 7, "expected an integer, got a mapping"},
        BadValue{"port: \"9000\"", "port", 7,
                 "expected an integer, got the quoted string \"9000\""},
        BadValue{"port: nine", "port", 7, "expected an integer, got \"nine\""},
        BadValue{"port: 1.5", "port", 7, "expected an integer, got \"1.5\""},
        BadValue{"port: 0x10", "port", 7, "expected an integer, got \"0x10\""},
        BadValue{"port: +5", "port", 7, "expected an integer, got \"+5\""},
        BadValue{"port:", "port", 6, "expected an integer, got null"},
        BadValue{"worker_id: ~", "worker_id", 12, "expected a string, got null"},
        BadValue{"worker_id: [a]", "worker_id", 12, "expected a string, got a sequence"},
        BadValue{"labels: gpu", "labels", 9, "expected a sequence of strings, got \"gpu\""},
        BadValue{"labels: {gpu: true}", "labels", 9,
                 "expected a sequence of strings, got a mapping"},
        BadValue{"labels: [gpu, [arm]]", "labels", 15, "item 2: expected a string, got a sequence"},
        BadValue{"allowed_images: [null]", "allowed_images", 18,
                 "item 1: expected a string, got null"}));

INSTANTIATE_TEST_SUITE_P(
    ExecutionRanges, BadValueTest,
    ::testing::Values(BadValue{"pull_timeout_seconds: 0", "pull_timeout_seconds", 23,
                               "must be between 1 and 86400, got 0"},
                      BadValue{"build_timeout_seconds: 86401", "build_timeout_seconds", 24,
                               "must be between 1 and 86400, got 86401"},
                      BadValue{"max_build_context_bytes: 1023", "max_build_context_bytes", 26,
                               "must be at least 1024, got 1023"},
                      BadValue{"workspace_size_mb: 0", "workspace_size_mb", 20,
                               "must be between 1 and 1048576, got 0"},
                      BadValue{"max_job_files_bytes: -1", "max_job_files_bytes", 22,
                               "must be at least 0, got -1"},
                      BadValue{"output_file_limit_bytes: -1", "output_file_limit_bytes", 26,
                               "must be at least 0, got -1"},
                      BadValue{"pids_limit: -1", "pids_limit", 13,
                               "must be between 0 and 4194304, got -1"},
                      BadValue{"pids_limit: 4194305", "pids_limit", 13,
                               "must be between 0 and 4194304, got 4194305"},
                      BadValue{"tmp_size_mb: 1048577", "tmp_size_mb", 14,
                               "must be between 1 and 1048576, got 1048577"}));

INSTANTIATE_TEST_SUITE_P(
    Booleans, BadValueTest,
    ::testing::Values(
        BadValue{"allow_network: yes", "allow_network", 16, "expected true or false, got \"yes\""},
        BadValue{"allow_network: on", "allow_network", 16, "expected true or false, got \"on\""},
        BadValue{"allow_network: 1", "allow_network", 16, "expected true or false, got \"1\""},
        BadValue{"allow_network: \"true\"", "allow_network", 16,
                 "expected true or false, got the quoted string \"true\""},
        BadValue{"read_only_rootfs: tRUE", "read_only_rootfs", 19,
                 "expected true or false, got \"tRUE\""},
        BadValue{"read_only_rootfs:", "read_only_rootfs", 18, "expected true or false, got null"},
        BadValue{"read_only_rootfs: [true]", "read_only_rootfs", 19,
                 "expected true or false, got a sequence"}));

INSTANTIATE_TEST_SUITE_P(
    Decimals, BadValueTest,
    ::testing::Values(
        BadValue{"default_cpus: -0.5", "default_cpus", 15, "must be between 0 and 4096, got -0.5"},
        BadValue{"max_cpus: 4096.01", "max_cpus", 11, "must be between 0 and 4096, got 4096.01"},
        BadValue{"max_cpus: 0.125", "max_cpus", 11, "at most two decimal places, got \"0.125\""},
        BadValue{"max_cpus: .nan", "max_cpus", 11,
                 "expected a decimal number such as 1.5, got \".nan\""},
        BadValue{"max_cpus: .inf", "max_cpus", 11,
                 "expected a decimal number such as 1.5, got \".inf\""},
        BadValue{"max_cpus: -.inf", "max_cpus", 11,
                 "expected a decimal number such as 1.5, got \"-.inf\""},
        BadValue{"max_cpus: 1e2", "max_cpus", 11,
                 "expected a decimal number such as 1.5, got \"1e2\""},
        BadValue{"max_cpus: .5", "max_cpus", 11,
                 "expected a decimal number such as 1.5, got \".5\""},
        BadValue{"max_cpus: 2.", "max_cpus", 11,
                 "expected a decimal number such as 1.5, got \"2.\""},
        BadValue{"max_cpus: +2", "max_cpus", 11,
                 "expected a decimal number such as 1.5, got \"+2\""},
        BadValue{"max_cpus: 0x10", "max_cpus", 11,
                 "expected a decimal number such as 1.5, got \"0x10\""},
        BadValue{"max_cpus: 1,5", "max_cpus", 11,
                 "expected a decimal number such as 1.5, got \"1,5\""},
        BadValue{"max_cpus: \"2\"", "max_cpus", 11,
                 "expected a decimal number such as 1.5, got the quoted string \"2\""},
        BadValue{"max_cpus:", "max_cpus", 10, "expected a decimal number such as 1.5, got null"},
        BadValue{"max_cpus: 99999999999999999999", "max_cpus", 11,
                 "number out of range: \"99999999999999999999\""}));

INSTANTIATE_TEST_SUITE_P(
    ExecutionStrings, BadValueTest,
    ::testing::Values(
        BadValue{"pull_policy: if-not-present", "pull_policy", 14,
                 "must be one of never, missing, always, got \"if-not-present\""},
        BadValue{"pull_policy: Always", "pull_policy", 14,
                 "must be one of never, missing, always, got \"Always\""},
        BadValue{"registry_auth_file: auth.json", "registry_auth_file", 21,
                 "must be empty or an absolute path, got \"auth.json\""},
        BadValue{"workspace_path: workspace", "workspace_path", 17,
                 "must be an absolute path, got \"workspace\""},
        BadValue{"workspace_path: \"\"", "workspace_path", 17,
                 "must be an absolute path, got \"\""},
        BadValue{"workspace_path: /", "workspace_path", 17,
                 "must not be \"/\", the root of the job's file system, got \"/\""},
        BadValue{"workspace_path: //./", "workspace_path", 17,
                 "must not be \"/\", the root of the job's file system, got \"//./\""},
        BadValue{"workspace_path: /a/../b", "workspace_path", 17,
                 "must not contain \"..\" components, got \"/a/../b\""},
        BadValue{"workspace_path: /..", "workspace_path", 17,
                 "must not contain \"..\" components, got \"/..\""},
        BadValue{"workspace_path: /proc", "workspace_path", 17,
                 "must not be /proc or under it, got \"/proc\""},
        BadValue{"workspace_path: /sys/fs/x", "workspace_path", 17,
                 "must not be /sys or under it, got \"/sys/fs/x\""},
        BadValue{"workspace_path: //dev/", "workspace_path", 17,
                 "must not be /dev or under it, got \"//dev/\""},
        BadValue{"workspace_path: /tmp/", "workspace_path", 17,
                 "must not be /tmp, which is a tmpfs of its own (tmp_size_mb)"},
        BadValue{"workspace_path: /a:b", "workspace_path", 17,
                 "must not contain control characters or ':', got \"/a:b\""},
        BadValue{"workspace_path: \"/a\\tb\"", "workspace_path", 17,
                 "must not contain control characters or ':', got \"/a\tb\""},
        BadValue{"job_user: nobody", "job_user", 11,
                 "must be empty or \"uid:gid\", two numbers from 0 to 2147483647, got \"nobody\""},
        BadValue{"job_user: \"1000\"", "job_user", 11,
                 "must be empty or \"uid:gid\", two numbers from 0 to 2147483647, got \"1000\""},
        BadValue{"job_user: \"1000:\"", "job_user", 11,
                 "must be empty or \"uid:gid\", two numbers from 0 to 2147483647, got \"1000:\""},
        BadValue{"job_user: \":1000\"", "job_user", 11,
                 "must be empty or \"uid:gid\", two numbers from 0 to 2147483647, got \":1000\""},
        BadValue{"job_user: \"-1:0\"", "job_user", 11,
                 "must be empty or \"uid:gid\", two numbers from 0 to 2147483647, got \"-1:0\""},
        BadValue{"job_user: \"-0:0\"", "job_user", 11,
                 "must be empty or \"uid:gid\", two numbers from 0 to 2147483647, got \"-0:0\""},
        BadValue{"job_user: \"+1:0\"", "job_user", 11,
                 "must be empty or \"uid:gid\", two numbers from 0 to 2147483647, got \"+1:0\""},
        BadValue{"job_user: \"2147483648:0\"", "job_user", 11,
                 "must be empty or \"uid:gid\", two numbers from 0 to 2147483647, got "
                 "\"2147483648:0\""},
        BadValue{"job_user: \"1:2:3\"", "job_user", 11,
                 "must be empty or \"uid:gid\", two numbers from 0 to 2147483647, got \"1:2:3\""},
        BadValue{"job_user: \" 1:2\"", "job_user", 11,
                 "must be empty or \"uid:gid\", two numbers from 0 to 2147483647, got \" 1:2\""},
        BadValue{"container_runtime: run sc", "container_runtime", 20,
                 "must be empty or a runtime name of at most 128 letters, digits, '.', '_' and "
                 "'-', got \"run sc\""},
        BadValue{"container_runtime: /usr/bin/runsc", "container_runtime", 20,
                 "must be empty or a runtime name of at most 128 letters, digits, '.', '_' and "
                 "'-', got \"/usr/bin/runsc\""}));

INSTANTIATE_TEST_SUITE_P(
    Access, BadValueTest,
    ::testing::Values(
        BadValue{"listen_unix: api.sock", "listen_unix", 14,
                 "must be empty or an absolute path, got \"api.sock\""},
        BadValue{"listen_unix: \"/run/a\\tb\"", "listen_unix", 14,
                 "must not contain control characters"},
        BadValue{"auth_token: short", "auth_token", 13, "must be 16 to 4096 bytes, got 5"},
        BadValue{"auth_token: \"with a space in the middle\"", "auth_token", 13,
                 "must be visible ASCII characters only (no spaces, tabs, control characters or "
                 "non-ASCII bytes)"},
        BadValue{"auth_token: \"0123456789abcdef\\u00e9\"", "auth_token", 13,
                 "must be visible ASCII characters only (no spaces, tabs, control characters or "
                 "non-ASCII bytes)"},
        BadValue{"auth_token_file: token.txt", "auth_token_file", 18,
                 "must be empty or an absolute path, got \"token.txt\""},
        BadValue{"auth_open_paths: [/health, /jobs]", "auth_open_paths", 28,
                 "item 2: must be one of /health, /info, /metrics, got \"/jobs\""},
        BadValue{"auth_open_paths: [health]", "auth_open_paths", 19,
                 "item 1: must be one of /health, /info, /metrics, got \"health\""}));

INSTANTIATE_TEST_SUITE_P(
    ImagePatterns, BadValueTest,
    ::testing::Values(
        BadValue{"allowed_images: [Busybox]", "allowed_images", 18,
                 "item 1: \"Busybox\" is not an image pattern: repository name must be lowercase"},
        BadValue{"allowed_images: [ok, \"team*\"]", "allowed_images", 22,
                 "item 2: \"team*\" is not an image pattern: '*' may only end a pattern: "
                 "\"name:*\" allows any tag of name, \"path/*\" every repository under path"},
        BadValue{"allowed_images: [\"*\"]", "allowed_images", 18,
                 "item 1: \"*\" is not an image pattern: \"*\" alone is not a pattern; an empty "
                 "allowed_images allows every image"},
        BadValue{"allowed_images: [\"busybox@sha256:abc\"]", "allowed_images", 18,
                 "item 1: \"busybox@sha256:abc\" is not an image pattern: digest "
                 "\"sha256:abc\" must be sha256: and 64 lowercase hexadecimal digits"},
        BadValue{"allowed_images: [\"team/../x:*\"]", "allowed_images", 18,
                 "item 1: \"team/../x:*\" is not an image pattern: path component \"..\" is "
                 "not valid (lowercase letters and digits, joined by '.', '_', '__' or '-')"}));

TEST(ConfigLoaderTest, BooleansTakeTheYaml12Spellings) {
  EXPECT_TRUE(loadOk("allow_network: true").allow_network);
  EXPECT_TRUE(loadOk("allow_network: True").allow_network);
  EXPECT_TRUE(loadOk("allow_network: TRUE").allow_network);
  EXPECT_FALSE(loadOk("read_only_rootfs: false").read_only_rootfs);
  EXPECT_FALSE(loadOk("read_only_rootfs: False").read_only_rootfs);
  EXPECT_FALSE(loadOk("read_only_rootfs: FALSE").read_only_rootfs);
}

TEST(ConfigLoaderTest, DecimalsKeepHundredths) {
  EXPECT_EQ(loadOk("max_cpus: 2").max_cpus, 2.0);
  EXPECT_EQ(loadOk("default_cpus: 0\nmax_cpus: 0.01").max_cpus, 0.01);
  EXPECT_EQ(loadOk("max_cpus: 1.50").max_cpus, 1.5);
  EXPECT_EQ(loadOk("max_cpus: 1.5000").max_cpus, 1.5);  // trailing zeros add no precision
  EXPECT_EQ(loadOk("max_cpus: 4096").max_cpus, 4096.0);
  EXPECT_EQ(loadOk("max_cpus: 007.25").max_cpus, 7.25);
  EXPECT_EQ(loadOk("default_cpus: 0").default_cpus, 0.0);
  EXPECT_EQ(loadOk("default_cpus: -0").default_cpus, 0.0);
  EXPECT_FALSE(std::signbit(loadOk("default_cpus: -0.00").default_cpus));
}

TEST(ConfigLoaderTest, WorkspacePathIsStoredNormalized) {
  EXPECT_EQ(loadOk("workspace_path: /workspace/").workspace_path, "/workspace");
  EXPECT_EQ(loadOk("workspace_path: //srv//./job/.").workspace_path, "/srv/job");
  EXPECT_EQ(loadOk("workspace_path: /tmp/job").workspace_path, "/tmp/job");
  EXPECT_EQ(loadOk("workspace_path: /procfs").workspace_path, "/procfs");
  EXPECT_EQ(loadOk("workspace_path: /a..b/...").workspace_path, "/a..b/...");
}

TEST(ConfigLoaderTest, JobUserIsStoredWithoutLeadingZeros) {
  EXPECT_EQ(loadOk("job_user: \"0065534:00100\"").job_user, "65534:100");
  EXPECT_EQ(loadOk("job_user: \"0:0\"").job_user, "0:0");  // root: the operator's choice
  EXPECT_EQ(loadOk("job_user: \"2147483647:2147483647\"").job_user, "2147483647:2147483647");
  EXPECT_EQ(loadOk("job_user: \"\"").job_user, "");
}

TEST(ConfigLoaderTest, OptionalStringsMayBeEmpty) {
  const Config c = loadOk("registry_auth_file: \"\"\ncontainer_runtime: \"\"\n");
  EXPECT_EQ(c.registry_auth_file, "");
  EXPECT_EQ(c.container_runtime, "");
  EXPECT_EQ(loadOk("container_runtime: io.containerd.runc.v2").container_runtime,
            "io.containerd.runc.v2");
  EXPECT_EQ(loadOk("container_runtime: " + std::string(128, 'r')).container_runtime.size(), 128u);
  EXPECT_NE(loadError("container_runtime: " + std::string(129, 'r')).message, "");
}

TEST(ConfigLoaderTest, ImagePatternsOfEveryForm) {
  const Config c = loadOk(
      "allowed_images: [busybox, \"busybox:*\", \"registry.example:5000/team/*\", "
      "\"alpine@sha256:" +
      std::string(64, 'a') + "\"]\n");
  EXPECT_EQ(c.allowed_images.size(), 4u);
}

TEST(ConfigLoaderTest, DefaultCpusAboveMaxCpusNamesTheDefault) {
  const ConfigError e = loadError("max_cpus: 1.5\ndefault_cpus: 2\n");
  EXPECT_EQ(e.line, 2);
  EXPECT_EQ(e.column, 15);
  EXPECT_EQ(e.message, "default_cpus 2 must not be larger than max_cpus 1.5");
  const ConfigError lowered = loadError("max_cpus: 0.5\n");
  EXPECT_EQ(lowered.key, "default_cpus");
  EXPECT_EQ(lowered.message, "default_cpus 1 (its default) must not be larger than max_cpus 0.5");
  // max_cpus 0 is the host's CPU count, which only the daemon knows.
  EXPECT_EQ(loadOk("default_cpus: 64\n").default_cpus, 64.0);
  EXPECT_EQ(loadOk("default_cpus: 2\nmax_cpus: 2\n").default_cpus, 2.0);
}

TEST(ConfigLoaderTest, IntegersMayBeZeroPadded) {
  // Base 10 always: YAML 1.1 would read 0700 as octal, which nobody means for a port.
  EXPECT_EQ(loadOk("port: 08080").port, 8080);
}

TEST(ConfigLoaderTest, UnknownKeySuggestsNearestKey) {
  const ConfigError e = loadError("port: 1\nmax_concurent_jobs: 3\n");
  EXPECT_EQ(e.line, 2);
  EXPECT_EQ(e.column, 1);
  EXPECT_EQ(e.key, "max_concurent_jobs");
  EXPECT_EQ(e.message, "unknown key; did you mean \"max_concurrent_jobs\"?");
  EXPECT_EQ(
      e.format(),
      "test.yaml:2:1: max_concurent_jobs: unknown key; did you mean \"max_concurrent_jobs\"?");
}

TEST(ConfigLoaderTest, UnknownKeyWithDashesSuggestsUnderscores) {
  EXPECT_EQ(loadError("log-level: info").message, "unknown key; did you mean \"log_level\"?");
}

TEST(ConfigLoaderTest, UnknownKeyFarFromAnyKeyHasNoSuggestion) {
  const ConfigError e = loadError("  # indented comment\nfrobnicate: yes\n");
  EXPECT_EQ(e.line, 2);
  EXPECT_EQ(e.column, 1);
  EXPECT_EQ(e.key, "frobnicate");
  EXPECT_EQ(e.message, "unknown key");
}

TEST(ConfigLoaderTest, FlowMappingKeysArePositioned) {
  const ConfigError e = loadError("{port: 1, lables: [a]}\n");
  EXPECT_EQ(e.line, 1);
  EXPECT_EQ(e.column, 11);
  EXPECT_EQ(e.message, "unknown key; did you mean \"labels\"?");
}

TEST(ConfigLoaderTest, DuplicateKeyPointsAtTheSecondOccurrence) {
  const ConfigError e = loadError("port: 1\nlisten: 0.0.0.0\nport: 2\n");
  EXPECT_EQ(e.line, 3);
  EXPECT_EQ(e.column, 1);
  EXPECT_EQ(e.key, "port");
  EXPECT_EQ(e.message, "duplicate key (first set at line 1, column 1)");
}

TEST(ConfigLoaderTest, SyntaxErrorCarriesLibyamlProblemAndPosition) {
  const ConfigError e = loadError("port: 1\nlabels: [gpu, arm\nlisten: ::\n");
  EXPECT_EQ(e.file, "test.yaml");
  EXPECT_EQ(e.line, 3);
  EXPECT_EQ(e.column, 7);
  EXPECT_EQ(e.key, "");
  EXPECT_EQ(e.message,
            "YAML syntax error: did not find expected ',' or ']' while parsing a flow sequence");
  EXPECT_EQ(e.format(),
            "test.yaml:3:7: YAML syntax error: did not find expected ',' or ']' while "
            "parsing a flow sequence");
}

TEST(ConfigLoaderTest, SyntaxErrorForBadIndentation) {
  const ConfigError e = loadError("port: 1\n  listen: ::\n");
  EXPECT_EQ(e.line, 2);
  EXPECT_EQ(e.column, 9);
  EXPECT_EQ(e.message, "YAML syntax error: mapping values are not allowed in this context");
}

TEST(ConfigLoaderTest, TabIndentationIsASyntaxError) {
  const ConfigError e = loadError("labels:\n\t- gpu\n");
  EXPECT_EQ(e.line, 2);
  EXPECT_EQ(e.column, 1);
  EXPECT_NE(e.message.find("YAML syntax error: found character that cannot start any token"),
            std::string::npos)
      << e.message;
}

TEST(ConfigLoaderTest, TopLevelMustBeAMapping) {
  const ConfigError e = loadError("# comment\n- port: 1\n");
  EXPECT_EQ(e.line, 2);
  EXPECT_EQ(e.column, 1);
  EXPECT_EQ(e.key, "");
  EXPECT_EQ(e.message, "the top level must be a mapping of keys to values, got a sequence");
}

TEST(ConfigLoaderTest, TopLevelScalarIsRejected) {
  const ConfigError e = loadError("port 9000\n");
  EXPECT_EQ(e.line, 1);
  EXPECT_EQ(e.column, 1);
  EXPECT_EQ(e.message, "the top level must be a mapping of keys to values, got \"port 9000\"");
}

TEST(ConfigLoaderTest, SecondDocumentIsRejected) {
  const ConfigError e = loadError("port: 1\n---\nport: 2\n");
  EXPECT_EQ(e.line, 2);
  EXPECT_EQ(e.column, 1);
  EXPECT_EQ(e.message, "YAML syntax error: only one YAML document is allowed");
}

TEST(ConfigLoaderTest, ExplicitDocumentMarkersAreFine) {
  EXPECT_EQ(loadOk("---\nport: 7\n...\n").port, 7);
}

TEST(ConfigLoaderTest, NonScalarKeyIsRejected) {
  const ConfigError e = loadError("? [a, b]\n: 1\n");
  EXPECT_EQ(e.line, 1);
  EXPECT_EQ(e.column, 3);
  EXPECT_EQ(e.message, "keys must be strings, got a sequence");
}

TEST(ConfigLoaderTest, AliasesResolveToTheAnchoredValue) {
  const Config c = loadOk("labels: &l [a, b]\nallowed_images: *l\n");
  EXPECT_EQ(c.allowed_images, (std::vector<std::string>{"a", "b"}));
}

TEST(ConfigLoaderTest, InvalidUtf8IsASyntaxError) {
  const ConfigError e = loadError("worker_id: \xff\xfe\n");
  EXPECT_NE(e.message.find("YAML syntax error: invalid "), std::string::npos) << e.message;
}

TEST(ConfigLoaderTest, WorkerIdLengthLimitIsInBytes) {
  EXPECT_EQ(loadOk("worker_id: " + std::string(256, 'w')).worker_id.size(), 256u);
  EXPECT_EQ(loadError("worker_id: " + std::string(257, 'w')).message,
            "must be at most 256 bytes, got 257");
}

TEST(ConfigLoaderTest, ListenAcceptsIpv4AndIpv6Literals) {
  EXPECT_EQ(loadOk("listen: 127.0.0.1").listen, "127.0.0.1");
  EXPECT_EQ(loadOk("listen: \"::\"").listen, "::");
  EXPECT_EQ(loadOk("listen: fe80::1").listen, "fe80::1");
}

TEST(ConfigLoaderTest, DefaultMemoryAboveCeilingNamesTheDefault) {
  const ConfigError e = loadError("max_memory_mb: 1024\ndefault_memory_mb: 2048\n");
  EXPECT_EQ(e.line, 2);
  EXPECT_EQ(e.column, 20);
  EXPECT_EQ(e.key, "default_memory_mb");
  EXPECT_EQ(e.message, "default_memory_mb 2048 must not be larger than max_memory_mb 1024");
}

TEST(ConfigLoaderTest, CeilingLoweredUnderBuiltInDefaultNamesTheDefault) {
  const ConfigError e = loadError("port: 1\nmax_runtime_seconds: 60\n");
  EXPECT_EQ(e.line, 2);
  EXPECT_EQ(e.column, 22);
  EXPECT_EQ(e.key, "default_max_runtime_seconds");
  EXPECT_EQ(e.message,
            "default_max_runtime_seconds 300 (its default) must not be larger than "
            "max_runtime_seconds 60");
}

TEST(ConfigLoaderTest, DefaultEqualToCeilingIsFine) {
  const Config c = loadOk("max_memory_mb: 512\nmax_runtime_seconds: 300\n");
  EXPECT_EQ(c.max_memory_mb, 512);
  EXPECT_EQ(c.max_runtime_seconds, 300);
}

TEST(ConfigErrorTest, FormatLeavesOutMissingParts) {
  EXPECT_EQ((ConfigError{"a.yaml", 3, 5, "port", "bad"}).format(), "a.yaml:3:5: port: bad");
  EXPECT_EQ((ConfigError{"a.yaml", 3, 0, "port", "bad"}).format(), "a.yaml:3: port: bad");
  EXPECT_EQ((ConfigError{"a.yaml", 0, 0, "", "bad"}).format(), "a.yaml: bad");
  EXPECT_EQ((ConfigError{"environment", 0, 0, "WORKER_PORT", "bad"}).format(),
            "environment: WORKER_PORT: bad");
}

TEST(ConfigLoaderTest, LoadFileReadsAFixture) {
  LoadResult r = ConfigLoader::loadFile(WA_FIXTURES_DIR "/config/small.yaml", {}, kHost);
  ASSERT_TRUE(r.config) << r.error.format();
  EXPECT_EQ(r.config->worker_id, "fixture-worker");
  EXPECT_EQ(r.config->port, 9100);
  EXPECT_EQ(r.config->labels, (std::vector<std::string>{"ssd"}));
}

TEST(ConfigLoaderTest, LoadFileErrorsNameThePath) {
  const std::string path = WA_FIXTURES_DIR "/config/bad_port.yaml";
  LoadResult r = ConfigLoader::loadFile(path, {}, kHost);
  ASSERT_FALSE(r.config);
  EXPECT_EQ(r.error.format(),
            path + ":4:7: port: expected an integer, got the quoted string \"9000\"");
}

TEST(ConfigLoaderTest, MissingFileIsAnError) {
  const std::string path = WA_FIXTURES_DIR "/config/does-not-exist.yaml";
  LoadResult r = ConfigLoader::loadFile(path, {}, kHost);
  ASSERT_FALSE(r.config);
  EXPECT_EQ(r.error.file, path);
  EXPECT_EQ(r.error.line, 0);
  EXPECT_EQ(r.error.message, "cannot read config file: No such file or directory");
}

TEST(ConfigLoaderTest, DirectoryIsNotAConfigFile) {
  LoadResult r = ConfigLoader::loadFile(WA_FIXTURES_DIR "/config", {}, kHost);
  ASSERT_FALSE(r.config);
  EXPECT_EQ(r.error.message, "cannot read config file: not a regular file");
}

}  // namespace
}  // namespace wa::config
