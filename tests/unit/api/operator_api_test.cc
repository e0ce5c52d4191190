// OperatorApi and the admission it changes: drain (POST /jobs answers 503 DRAINING, /health
// and /info say so, the jobs held go on), resume, cancel every job, reload with its outcome;
// and the routes served on the unix socket only, over a loopback server.
#include "api/operator_api.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "api/worker_api.h"
#include "api/worker_metrics.h"
#include "core/event_loop.h"
#include "docker/docker_client.h"
#include "docker/engine_monitor.h"
#include "http/http_server.h"
#include "http/loopback_client.h"
#include "jobs/fake_runner.h"
#include "jobs/job_store.h"
#include "jobs/scheduler.h"
#include "metrics/host_info.h"
#include "metrics/host_sampler.h"

namespace wa::api {
namespace {

using http::testing::LoopbackClient;
using http::testing::ParsedResponse;

constexpr const char* kJob =
    R"({"protocol_version": 1, "job_id": "%s", "task": {"type": "t"},
        "runtime": {"mode": "image", "image": "runner:1"}})";

class OperatorApiTest : public ::testing::Test {
 protected:
  OperatorApiTest() {
    scheduler_.setOnJobEnded([this](const jobs::Job& job) { ended_.push_back(job.spec.job_id); });
  }

  http::HttpResponse submit(const std::string& job_id) {
    http::HttpRequest request;
    request.method = "POST";
    std::string body(kJob);
    body.replace(body.find("%s"), 2, job_id);
    request.body = body;
    return api_.submitJob(request);
  }

  static rapidjson::Document parse(const std::string& body) {
    rapidjson::Document doc;
    doc.Parse(body.c_str(), body.size());
    EXPECT_FALSE(doc.HasParseError()) << body;
    return doc;
  }

  rapidjson::Document healthBody() {
    http::HttpRequest request;
    request.method = "GET";
    return parse(api_.health(request).body);
  }

  rapidjson::Document infoBody() {
    http::HttpRequest request;
    request.method = "GET";
    return parse(api_.info(request).body);
  }

  static std::string errorCode(const http::HttpResponse& response) {
    const rapidjson::Document doc = parse(response.body);
    if (doc.HasMember("error") && doc["error"].IsObject()) {
      return doc["error"]["code"].GetString();
    }
    return "";
  }

  void spin(int passes = 5) {
    for (int i = 0; i < passes; ++i) loop_.runOnce(1);
  }

  core::ManualClock clock_;
  core::EventLoop loop_{clock_};
  jobs::JobStore store_{jobs::RetentionPolicy{}};
  jobs::testing::FakeRunner runner_{loop_};
  jobs::Scheduler scheduler_{loop_, store_, runner_, 1, 10};
  metrics::HostInfo host_;
  metrics::HostSampler sampler_{loop_, WA_FIXTURES_DIR "/metrics/cgroup_v2_host",
                                core::Millis(1000)};
  docker::DockerClient docker_{loop_, "unix:///nonexistent.sock"};
  docker::EngineMonitor engine_{loop_, docker_, core::Millis(2000)};
  WorkerApi api_{clock_,     WorkerIdentity{"worker-1", "0.1.0", {}, {"image"}, {}},
                 host_,      sampler_,
                 engine_,    store_,
                 scheduler_, JobRequestParser(JobPolicy{}, jobs::ImagePolicy({}))};
  OperatorApi operator_{api_, store_, scheduler_};
  std::vector<std::string> ended_;
};

TEST_F(OperatorApiTest, DrainRefusesNewJobsAndLetsTheHeldOnesFinish) {
  ASSERT_EQ(submit("running-1").status, 202);
  ASSERT_EQ(submit("queued-1").status, 202);
  spin();
  ASSERT_EQ(runner_.started, std::vector<std::string>{"running-1"});
  EXPECT_TRUE(healthBody()["accepting_jobs"].GetBool());
  EXPECT_FALSE(healthBody()["draining"].GetBool());

  const http::HttpResponse drained = operator_.drain();
  EXPECT_EQ(drained.status, 200);
  const rapidjson::Document state = parse(drained.body);
  EXPECT_TRUE(state["draining"].GetBool());
  EXPECT_FALSE(state["accepting_jobs"].GetBool());
  EXPECT_EQ(state["running_jobs"].GetInt(), 1);
  EXPECT_EQ(state["queued_jobs"].GetInt(), 1);

  const http::HttpResponse refused = submit("late-1");
  EXPECT_EQ(refused.status, 503);
  const rapidjson::Document rejection = parse(refused.body);
  EXPECT_FALSE(rejection["accepted"].GetBool());
  EXPECT_STREQ(rejection["state"].GetString(), "rejected");
  EXPECT_STREQ(rejection["error"]["code"].GetString(), "DRAINING");
  EXPECT_EQ(store_.find("late-1"), nullptr);  // a rejected job is not stored

  // /health (its cached body too) and /info say so.
  EXPECT_TRUE(healthBody()["draining"].GetBool());
  EXPECT_FALSE(healthBody()["accepting_jobs"].GetBool());
  EXPECT_TRUE(infoBody()["draining"].GetBool());
  EXPECT_FALSE(infoBody()["accepting_jobs"].GetBool());

  // The queued job still starts once the running one ends.
  runner_.finish("running-1", jobs::JobOutcome{0, false, std::nullopt});
  spin();
  EXPECT_EQ(runner_.started, (std::vector<std::string>{"running-1", "queued-1"}));
  EXPECT_EQ(operator_.drain().status, 200);  // again: no change

  const http::HttpResponse resumed = operator_.resume();
  EXPECT_EQ(resumed.status, 200);
  EXPECT_FALSE(parse(resumed.body)["draining"].GetBool());
  EXPECT_TRUE(healthBody()["accepting_jobs"].GetBool());
  EXPECT_EQ(submit("late-2").status, 202);
}

TEST_F(OperatorApiTest, ShuttingDownComesFirstAndEndsDrainAndResume) {
  EXPECT_EQ(operator_.drain().status, 200);
  api_.setAcceptingJobs(false);
  EXPECT_STREQ(parse(submit("x").body)["error"]["code"].GetString(), "SHUTTING_DOWN");
  EXPECT_EQ(operator_.drain().status, 409);
  EXPECT_EQ(errorCode(operator_.resume()), "SHUTTING_DOWN");
  EXPECT_EQ(errorCode(operator_.reload()), "SHUTTING_DOWN");
  EXPECT_FALSE(healthBody()["accepting_jobs"].GetBool());
}

TEST_F(OperatorApiTest, CancelAllEndsQueuedJobsAndStopsRunningOnes) {
  for (const char* id : {"a", "b", "c"}) ASSERT_EQ(submit(id).status, 202);
  spin();
  ASSERT_EQ(runner_.started, std::vector<std::string>{"a"});
  const http::HttpResponse answer = operator_.cancelAll();
  EXPECT_EQ(answer.status, 200);
  const rapidjson::Document counts = parse(answer.body);
  EXPECT_EQ(counts["cancelled"].GetInt(), 2);
  EXPECT_EQ(counts["cancel_requested"].GetInt(), 1);
  spin();
  EXPECT_EQ(runner_.cancelled, std::vector<std::string>{"a"});
  // Queued jobs went first: none of them started when the running one ended.
  EXPECT_EQ(runner_.started, std::vector<std::string>{"a"});
  for (const char* id : {"a", "b", "c"}) {
    const jobs::Job* job = store_.find(id);
    ASSERT_NE(job, nullptr) << id;
    EXPECT_EQ(job->state, jobs::JobState::kFailed) << id;
    EXPECT_EQ(job->error->code, "CANCELLED") << id;
  }
  // Nothing left: zero and zero, and the worker still takes jobs.
  const rapidjson::Document none = parse(operator_.cancelAll().body);
  EXPECT_EQ(none["cancelled"].GetInt(), 0);
  EXPECT_EQ(none["cancel_requested"].GetInt(), 0);
  EXPECT_EQ(submit("d").status, 202);
}

TEST_F(OperatorApiTest, ReloadAnswersWithItsOutcome) {
  EXPECT_EQ(errorCode(operator_.reload()), "RELOAD_UNAVAILABLE");
  ReloadOutcome next;
  operator_.setReload([&next] { return next; });

  next.error = "/etc/w.yaml:3:22: max_concurrent_jobs: must be between 1 and 1024, got 0";
  const http::HttpResponse rejected = operator_.reload();
  EXPECT_EQ(rejected.status, 409);
  const rapidjson::Document error = parse(rejected.body);
  EXPECT_STREQ(error["error"]["code"].GetString(), "CONFIG_REJECTED");
  EXPECT_NE(std::string(error["error"]["message"].GetString()).find(next.error), std::string::npos);

  next = ReloadOutcome{true, "", {"labels", "max_concurrent_jobs"}, {"port"}};
  const http::HttpResponse applied = operator_.reload();
  EXPECT_EQ(applied.status, 200);
  const rapidjson::Document body = parse(applied.body);
  EXPECT_TRUE(body["reloaded"].GetBool());
  ASSERT_EQ(body["applied"].Size(), 2u);
  EXPECT_STREQ(body["applied"][1].GetString(), "max_concurrent_jobs");
  ASSERT_EQ(body["restart_needed"].Size(), 1u);
  EXPECT_STREQ(body["restart_needed"][0].GetString(), "port");
}

TEST_F(OperatorApiTest, MetricsShowTheDrain) {
  WorkerMetrics metrics(clock_, "0.1.0", scheduler_, sampler_, engine_);
  metrics.setAdmission([this] { return api_.acceptingJobs(); }, [this] { return api_.draining(); });
  EXPECT_NE(metrics.render().find("\nworker_agent_draining 0\n"), std::string::npos);
  EXPECT_NE(metrics.render().find("\nworker_agent_accepting_jobs 1\n"), std::string::npos);
  operator_.drain();
  EXPECT_NE(metrics.render().find("\nworker_agent_draining 1\n"), std::string::npos);
  EXPECT_NE(metrics.render().find("\nworker_agent_accepting_jobs 0\n"), std::string::npos);
}

// The operator's routes as the daemon serves them: on the unix socket, not on TCP.
TEST_F(OperatorApiTest, RoutesAreServedOnTheUnixSocketOnly) {
  http::Router router;
  api_.registerRoutes(router);
  operator_.registerRoutes(router);
  http::HttpServer server(loop_, router, http::HttpServerOptions{}, &WorkerApi::renderError);
  server.setUnixOnlyRoutes(OperatorApi::routePatterns());
  char dir[] = "/tmp/wa-operator-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string socket_path = std::string(dir) + "/api.sock";
  ASSERT_EQ(server.listen("127.0.0.1", 0), "");
  ASSERT_EQ(server.listenUnix(socket_path, 0660), "");

  const auto post = [](LoopbackClient& client, const std::string& path) {
    EXPECT_TRUE(client.send("POST " + path + " HTTP/1.1\r\nContent-Length: 0\r\n\r\n"));
    return client.readResponse().value_or(ParsedResponse{});
  };
  LoopbackClient tcp(loop_, server.port());
  for (const std::string& path : OperatorApi::routePatterns()) {
    const ParsedResponse refused = post(tcp, path);
    EXPECT_EQ(refused.status, 403) << path;
    EXPECT_NE(refused.body.find("UNIX_SOCKET_ONLY"), std::string::npos) << refused.body;
  }
  EXPECT_FALSE(api_.draining());

  LoopbackClient local(loop_, socket_path);
  const ParsedResponse drained = post(local, "/operator/drain");
  EXPECT_EQ(drained.status, 200) << drained.body;
  EXPECT_TRUE(api_.draining());
  EXPECT_EQ(post(local, "/operator/resume").status, 200);
  EXPECT_FALSE(api_.draining());
  // The protocol's routes stay on both.
  EXPECT_TRUE(tcp.send("GET /info HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(tcp.readResponse().value_or(ParsedResponse{}).status, 200);

  server.stopListening();
  ::rmdir(dir);
}

}  // namespace
}  // namespace wa::api
