// /health status rules and the /metrics names, from real parts (no sockets are opened:
// the engine monitor is never started).
#include "api/worker_metrics.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "api/worker_api.h"
#include "core/event_loop.h"
#include "docker/docker_client.h"
#include "docker/engine_monitor.h"
#include "jobs/job_store.h"
#include "jobs/scheduler.h"
#include "metrics/host_sampler.h"

namespace wa::api {
namespace {

class NullRunner final : public jobs::JobRunner {
 public:
  void start(jobs::Job&, Completion) override {}
  void cancel(jobs::Job&) override {}
  void adopt(jobs::Job&, const std::string&, Completion) override {}
};

TEST(HealthReasonsTest, OkWhenNothingIsWrong) {
  metrics::HostSample sample;
  sample.jobs_disk = {1000, 500};
  sample.temperature_c = 60;
  docker::EngineStatus engine;
  engine.reachable = true;
  EXPECT_TRUE(healthReasons(sample, engine, HealthPolicy{90, 5}, "/jobs", "/docker").empty());
}

TEST(HealthReasonsTest, EachRuleGivesItsReason) {
  metrics::HostSample sample;
  sample.jobs_disk = {1000, 40};    // 4% free
  sample.docker_disk = {1000, 60};  // 6% free: fine
  sample.thermal_zones = {{"thermal_zone1", "x86_pkg_temp", 95.5}};
  sample.temperature_c = 95.5;
  docker::EngineStatus engine;
  engine.reachable = false;
  engine.last_error = "Couldn't connect to server";
  const auto reasons = healthReasons(sample, engine, HealthPolicy{90, 5}, "/jobs", "/docker");
  ASSERT_EQ(reasons.size(), 3u);
  EXPECT_EQ(reasons[0], "docker engine unreachable: Couldn't connect to server");
  EXPECT_EQ(reasons[1], "disk nearly full: jobs_path /jobs has 4.0% free (minimum 5%)");
  EXPECT_EQ(reasons[2],
            "temperature 95.5 C is above thermal_limit_c 90 (thermal_zone1 x86_pkg_temp)");
}

TEST(HealthReasonsTest, AnEngineThatCannotEnforceLimitsDegrades) {
  metrics::HostSample sample;
  docker::EngineStatus engine;
  engine.reachable = true;
  engine.info_known = true;
  engine.limits_unenforced = "the engine runs rootless on cgroup v1";
  const auto reasons = healthReasons(sample, engine, HealthPolicy{90, 5}, "/jobs", "/docker");
  ASSERT_EQ(reasons.size(), 1u);
  EXPECT_EQ(reasons[0],
            "docker engine cannot enforce job limits: the engine runs rootless on cgroup v1");
}

TEST(HealthReasonsTest, AnEngineSpeakingNoVersionOfTheWorkersDegrades) {
  metrics::HostSample sample;
  docker::EngineStatus engine;
  engine.reachable = true;
  engine.api_unsupported = "the engine speaks Engine API 1.53 to 1.60, this worker 1.41 to 1.52";
  const auto reasons = healthReasons(sample, engine, HealthPolicy{90, 5}, "/jobs", "/docker");
  ASSERT_EQ(reasons.size(), 1u);
  EXPECT_EQ(reasons[0],
            "docker engine API version unsupported: the engine speaks Engine API 1.53 to 1.60, "
            "this worker 1.41 to 1.52");
}

TEST(HealthReasonsTest, ZeroDisablesARuleAndUnknownValuesNeverDegrade) {
  metrics::HostSample sample;
  sample.jobs_disk = {1000, 0};
  sample.temperature_c = 140;
  docker::EngineStatus engine;
  engine.reachable = true;
  EXPECT_TRUE(healthReasons(sample, engine, HealthPolicy{0, 0}, "/jobs", "").empty());
  metrics::HostSample unknown;  // no disks measured, no thermal zones
  EXPECT_TRUE(healthReasons(unknown, engine, HealthPolicy{90, 5}, "/jobs", "").empty());
}

// WorkerMetrics over real parts that contact nothing: the monitor is never started and
// the sampler reads a fixture tree.
class WorkerMetricsTest : public ::testing::Test {
 protected:
  core::ManualClock clock;
  core::EventLoop loop{clock};
  jobs::JobStore store{jobs::RetentionPolicy{}};
  NullRunner runner;
  jobs::Scheduler scheduler{loop, store, runner, 2, 10};
  metrics::HostSampler sampler{loop, WA_FIXTURES_DIR "/metrics/cgroup_v2_host", core::Millis(1000)};
  docker::DockerClient docker{loop, "unix:///nonexistent.sock"};
  docker::EngineMonitor engine{loop, docker, core::Millis(2000)};
  WorkerMetrics m{clock, "1.2.3", scheduler, sampler, engine};
};

TEST_F(WorkerMetricsTest, RendersEventsAndStateWithConventionalNames) {
  sampler.sampleNow();

  jobs::Job job;
  job.state = jobs::JobState::kFailed;
  job.error = jobs::JobError{"TIMEOUT", "too slow"};
  job.created_at_ms = 1000;
  job.started_at_ms = 1500;
  job.finished_at_ms = 4500;
  job.stdout_output.append("hello", 100);
  m.onJobEnded(job);
  m.onContainerStarted(std::chrono::milliseconds(300));
  m.onHttpRequest(http::RequestRecord{"GET", "/jobs/{job_id}", 404, 120});
  m.onHttpRequest(http::RequestRecord{"BREW", "unmatched", 405, 10});
  m.onDockerError("create");

  const std::string text = m.render();
  // Each is a whole line of the exposition; raw literals, so none is split in two.
  for (
      std::string_view line : {
          R"(worker_agent_jobs_total{state="failed",error_code="TIMEOUT"} 1)",
          R"(worker_agent_jobs_total{state="finished",error_code="none"} 0)",
          R"(worker_agent_job_duration_seconds_bucket{le="5"} 1)",
          R"(worker_agent_job_duration_seconds_sum 3)",
          R"(worker_agent_job_queue_wait_seconds_sum 0.5)",
          R"(worker_agent_container_start_seconds_bucket{le="0.5"} 1)",
          R"(worker_agent_job_output_bytes_total{stream="stdout"} 5)",
          R"(worker_agent_http_requests_total{method="GET",route="/jobs/{job_id}",status="404"} 1)",
          R"(worker_agent_http_requests_total{method="other",route="unmatched",status="405"} 1)",
          R"(worker_agent_docker_api_errors_total{endpoint="create"} 1)",
          R"(worker_agent_build_info{version="1.2.3"} 1)",
          R"(worker_agent_jobs_queued 0)",
          R"(worker_agent_jobs_running 0)",
          R"(worker_agent_docker_engine_up 0)",
          R"(worker_agent_host_load_average{period="1m"} 0.1)",
          R"(worker_agent_host_memory_available_bytes 4194304000)",
          R"(worker_agent_host_temperature_celsius{zone="thermal_zone1",type="x86_pkg_temp"} 64)",
          R"(worker_agent_cgroup_info{version="v2"} 1)",
          R"(worker_agent_cgroup_cpu_usage_seconds_total 2.5)",
          R"(worker_agent_cgroup_memory_usage_bytes 41943040)",
          R"(worker_agent_cgroup_io_bytes_total{direction="read"} 1049600)",
          R"(# TYPE worker_agent_cgroup_cpu_usage_seconds_total counter)",
          R"(# TYPE worker_agent_jobs_queued gauge)",
      }) {
    EXPECT_NE(text.find(std::string(line) + "\n"), std::string::npos) << "missing: " << line << "\n"
                                                                      << text;
  }
  EXPECT_EQ(text.find("worker_agent_cgroup_memory_limit_bytes"), std::string::npos)
      << "memory.max is max";
  EXPECT_EQ(text.find("worker_agent_docker_ping_seconds"), std::string::npos) << "never pinged";
}

// Requests with the same labels add to one series, however their route text is held: the
// series are kept by value, not by the caller's strings.
TEST_F(WorkerMetricsTest, RequestsWithTheSameLabelsShareASeries) {
  for (int i = 0; i < 3; ++i) {
    const std::string route = std::string("/health");  // gone after each request
    m.onHttpRequest(http::RequestRecord{"GET", route, 200, 100});
  }
  m.onHttpRequest(http::RequestRecord{"GET", "/health", 503, 100});
  m.onHttpRequest(http::RequestRecord{"BREW", "unmatched", 405, 10});
  m.onHttpRequest(http::RequestRecord{"WHEN", "unmatched", 405, 10});  // also "other"
  const std::string text = m.render();
  for (std::string_view line : {
           R"(worker_agent_http_requests_total{method="GET",route="/health",status="200"} 3)",
           R"(worker_agent_http_requests_total{method="GET",route="/health",status="503"} 1)",
           R"(worker_agent_http_requests_total{method="other",route="unmatched",status="405"} 2)",
           R"(worker_agent_http_request_duration_seconds_count{route="/health"} 4)",
       }) {
    EXPECT_NE(text.find(std::string(line) + "\n"), std::string::npos) << line << "\n" << text;
  }
}

}  // namespace
}  // namespace wa::api
