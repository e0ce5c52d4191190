// WorkerApi from real parts (no engine is contacted: the monitor is never started): the
// job record's JSON, and GET /jobs/{job_id}/output streamed over a loopback HTTP server.
#include "api/worker_api.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sys/socket.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "compiled_machine.h"
#include "core/event_loop.h"
#include "core/text.h"
#include "docker/docker_client.h"
#include "docker/engine_monitor.h"
#include "http/http_server.h"
#include "http/loopback_client.h"
#include "jobs/fake_runner.h"
#include "jobs/job_store.h"
#include "jobs/output_feed.h"
#include "jobs/scheduler.h"
#include "metrics/host_info.h"
#include "metrics/host_sampler.h"

namespace wa::api {
namespace {

using http::testing::ChunkedBody;
using http::testing::LoopbackClient;
using http::testing::ParsedResponse;
using jobs::OutputStream;

class WorkerApiTest : public ::testing::Test {
 protected:
  WorkerApiTest() {
    api_.setOutputFeed(&feed_);
    // As the daemon wires it: every terminal state reaches the feed, while the record is
    // still in the store.
    scheduler_.setOnJobEnded([this](const jobs::Job& job) { feed_.end(job.spec.job_id); });
    scheduler_.setPaused(jobs::Scheduler::PauseReason::kShutdown, true);  // queued jobs stay queued
  }

  // A job as the scheduler stores it; state moves through the store as it would.
  jobs::Job& addJob(const std::string& job_id, jobs::JobState state = jobs::JobState::kQueued) {
    auto job = std::make_unique<jobs::Job>();
    job->spec.job_id = job_id;
    job->spec.task_type = "compile_and_run_cpp";
    job->spec.image = "runner:1";
    job->spec.limits = {512, 5, 0};
    job->created_at_ms = 1'700'000'000'000;
    if (state == jobs::JobState::kQueued) {  // through the scheduler, as POST /jobs does
      EXPECT_EQ(scheduler_.submit(std::move(job)), jobs::Scheduler::SubmitResult::kAccepted);
      return *store_.find(job_id);
    }
    jobs::Job* stored = store_.insert(std::move(job));
    EXPECT_NE(stored, nullptr);
    if (state != jobs::JobState::kQueued) {
      store_.transition(*stored, jobs::JobState::kRunning, 1'700'000'000'100);
    }
    if (jobs::isTerminal(state)) store_.transition(*stored, state, 1'700'000'000'900);
    return *stored;
  }

  // What the runner does with each captured chunk: keep it in the record, publish it.
  void capture(jobs::Job& job, OutputStream stream, std::string_view chunk) {
    (stream == OutputStream::kStdout ? job.stdout_output : job.stderr_output)
        .append(chunk, size_t{16} * 1024 * 1024);
    feed_.publish(job.spec.job_id, stream, chunk);
  }

  // What the scheduler's end hook does: terminal state, then the feed's end.
  void endJob(jobs::Job& job) {
    const std::string job_id = job.spec.job_id;
    store_.transition(job, jobs::JobState::kFinished, 1'700'000'001'000);
    feed_.end(job_id);
    store_.prune(1'700'000'001'000);
  }

  rapidjson::Document record(const std::string& job_id, const std::string& query = "",
                             int expected_status = 200) {
    http::HttpRequest request;
    request.method = "GET";
    request.query = query;
    const http::HttpResponse response = api_.getJob(request, job_id);
    EXPECT_EQ(response.status, expected_status) << response.body;
    rapidjson::Document doc;
    doc.Parse(response.body.c_str(), response.body.size());
    EXPECT_FALSE(doc.HasParseError()) << response.body;
    return doc;
  }

  static std::vector<std::string> keys(const rapidjson::Value& object) {
    std::vector<std::string> out;
    for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
      out.emplace_back(it->name.GetString(), it->name.GetStringLength());
    }
    return out;
  }

  void serve() {
    api_.registerRoutes(router_);
    server_ = std::make_unique<http::HttpServer>(loop_, router_, http::HttpServerOptions{},
                                                 &WorkerApi::renderError);
    ASSERT_EQ(server_->listen("127.0.0.1", 0), "");
  }

  std::unique_ptr<LoopbackClient> connect() {
    return std::make_unique<LoopbackClient>(loop_, server_->port());
  }

  ParsedResponse get(LoopbackClient& client, const std::string& target) {
    EXPECT_TRUE(client.send("GET " + target + " HTTP/1.1\r\n\r\n"));
    std::optional<ParsedResponse> response = client.readResponse();
    EXPECT_TRUE(response.has_value()) << target;
    return response.value_or(ParsedResponse{});
  }

  // Runs the loop until the client has received want body bytes of a chunked stream.
  std::string receive(LoopbackClient& client, size_t want) {
    client.pumpUntil([&] {
      return http::testing::decodeChunked(client.buffer()).joined().size() >= want || client.eof();
    });
    return http::testing::decodeChunked(client.buffer()).joined();
  }

  void spin(int passes = 5) {
    for (int i = 0; i < passes; ++i) loop_.runOnce(1);
  }

  core::ManualClock clock_;
  core::EventLoop loop_{clock_};
  jobs::JobStore store_{jobs::RetentionPolicy{}};
  jobs::testing::FakeRunner runner_{loop_};
  jobs::Scheduler scheduler_{loop_, store_, runner_, 2, 10};
  metrics::HostInfo host_;
  metrics::HostSampler sampler_{loop_, WA_FIXTURES_DIR "/metrics/cgroup_v2_host",
                                core::Millis(1000)};
  docker::DockerClient docker_{loop_, "unix:///nonexistent.sock"};
  docker::EngineMonitor engine_{loop_, docker_, core::Millis(2000)};
  jobs::OutputFeed feed_;
  WorkerApi api_{clock_,     WorkerIdentity{"worker-1", "0.1.0", {}, {"image"}, {}},
                 host_,      sampler_,
                 engine_,    store_,
                 scheduler_, JobRequestParser(JobPolicy{}, jobs::ImagePolicy({}))};
  http::Router router_;
  std::unique_ptr<http::HttpServer> server_;
};

TEST_F(WorkerApiTest, QueuedRecordKeepsItsFieldsAndAddsTheNewOnes) {
  addJob("job-1");
  rapidjson::Document doc = record("job-1");
  EXPECT_EQ(keys(doc), (std::vector<std::string>{"job_id",
                                                 "state",
                                                 "created_at",
                                                 "started_at",
                                                 "finished_at",
                                                 "exit_code",
                                                 "error",
                                                 "task_type",
                                                 "image",
                                                 "duration_ms",
                                                 "stdout",
                                                 "stderr",
                                                 "stdout_truncated",
                                                 "stderr_truncated",
                                                 "oom_killed",
                                                 "limits",
                                                 "image_id",
                                                 "runtime_mode",
                                                 "image_pulled",
                                                 "image_built",
                                                 "isolation",
                                                 "usage",
                                                 "queue_position"}));
  EXPECT_STREQ(doc["state"].GetString(), "queued");
  EXPECT_STREQ(doc["image"].GetString(), "runner:1");
  EXPECT_STREQ(doc["stdout"].GetString(), "");
  EXPECT_TRUE(doc["image_id"].IsNull());
  EXPECT_STREQ(doc["runtime_mode"].GetString(), "image");
  EXPECT_FALSE(doc["image_pulled"].GetBool());
  EXPECT_FALSE(doc["image_built"].GetBool());
  EXPECT_TRUE(doc["isolation"].IsNull());  // not started: no run settings yet
  EXPECT_TRUE(doc["usage"].IsNull()) << "read when the container stops";
  EXPECT_EQ(keys(doc["limits"]),
            (std::vector<std::string>{"memory_mb", "max_runtime_seconds", "cpus", "pids_limit"}));
  EXPECT_EQ(doc["limits"]["memory_mb"].GetInt64(), 512);
  EXPECT_EQ(doc["limits"]["max_runtime_seconds"].GetInt64(), 5);
  EXPECT_TRUE(doc["limits"]["cpus"].IsNull());
  EXPECT_TRUE(doc["limits"]["pids_limit"].IsNull());
}

TEST_F(WorkerApiTest, FinishedRecordShowsImageIsolationLimitsAndOutputs) {
  jobs::Job& job = addJob("job-2", jobs::JobState::kFinished);
  job.exit_code = 0;
  job.spec.runtime_mode = "build";
  job.spec.image = "";
  job.spec.limits.nano_cpus = 1'500'000'000;
  job.spec.outputs = {"out/result.bin", "missing.txt"};
  job.image_ref = "worker-agent-build:abc123";
  job.image_id = "sha256:0123";
  job.image_built = true;
  job.run_settings = {"bridge", 64, true, "1000:1000", "", "/workspace"};
  job.output_files = {{"out/result.bin", std::string("\x00\xff\x10", 3), true, true, 9000},
                      {"missing.txt", "", false, false, 0}};
  rapidjson::Document doc = record("job-2");
  EXPECT_STREQ(doc["image"].GetString(), "worker-agent-build:abc123");
  EXPECT_STREQ(doc["image_id"].GetString(), "sha256:0123");
  EXPECT_STREQ(doc["runtime_mode"].GetString(), "build");
  EXPECT_TRUE(doc["image_built"].GetBool());
  EXPECT_FALSE(doc["image_pulled"].GetBool());
  EXPECT_DOUBLE_EQ(doc["limits"]["cpus"].GetDouble(), 1.5);
  EXPECT_EQ(doc["limits"]["pids_limit"].GetInt64(), 64);
  const rapidjson::Value& isolation = doc["isolation"];
  EXPECT_EQ(keys(isolation), (std::vector<std::string>{"network", "read_only_rootfs", "user",
                                                       "runtime", "workspace"}));
  EXPECT_STREQ(isolation["network"].GetString(), "bridge");
  EXPECT_TRUE(isolation["read_only_rootfs"].GetBool());
  EXPECT_STREQ(isolation["user"].GetString(), "1000:1000");
  EXPECT_TRUE(isolation["runtime"].IsNull());
  EXPECT_STREQ(isolation["workspace"].GetString(), "/workspace");
  EXPECT_FALSE(doc.HasMember("queue_position"));
  const rapidjson::Value& outputs = doc["outputs"];
  ASSERT_TRUE(outputs.IsArray());
  ASSERT_EQ(outputs.Size(), 2u);
  EXPECT_EQ(keys(outputs[0]),
            (std::vector<std::string>{"path", "found", "size", "truncated", "content_base64"}));
  EXPECT_STREQ(outputs[0]["path"].GetString(), "out/result.bin");
  EXPECT_TRUE(outputs[0]["found"].GetBool());
  EXPECT_EQ(outputs[0]["size"].GetUint64(), 9000u);
  EXPECT_TRUE(outputs[0]["truncated"].GetBool());
  EXPECT_STREQ(outputs[0]["content_base64"].GetString(), "AP8Q");
  EXPECT_FALSE(outputs[1]["found"].GetBool());
  EXPECT_TRUE(outputs[1]["content_base64"].IsNull());
  EXPECT_TRUE(doc["usage"].IsNull()) << "nothing read of this one";
  job.usage = jobs::JobUsage{1.23456, 42u << 20, 4096, std::nullopt, 7, "cgroup"};
  doc = record("job-2");
  const rapidjson::Value& usage = doc["usage"];
  EXPECT_EQ(keys(usage),
            (std::vector<std::string>{"cpu_seconds", "memory_peak_bytes", "io_read_bytes",
                                      "io_write_bytes", "pids_peak", "source"}));
  EXPECT_DOUBLE_EQ(usage["cpu_seconds"].GetDouble(), 1.235) << "to the millisecond";
  EXPECT_EQ(usage["memory_peak_bytes"].GetUint64(), 42u << 20);
  EXPECT_EQ(usage["io_read_bytes"].GetUint64(), 4096u);
  EXPECT_TRUE(usage["io_write_bytes"].IsNull()) << "the kernel did not tell";
  EXPECT_EQ(usage["pids_peak"].GetUint64(), 7u);
  EXPECT_STREQ(usage["source"].GetString(), "cgroup");
  // The list shows the same image.
  http::HttpRequest list;
  list.method = "GET";
  EXPECT_NE(api_.listJobs(list).body.find("\"image\":\"worker-agent-build:abc123\""),
            std::string::npos);
}

// GET /info over HTTP with the real host's facts, as the daemon reads them at start-up.
TEST_F(WorkerApiTest, InfoReportsTheMachineItRunsOn) {
  if (kCompiledMachine.empty()) GTEST_SKIP() << "no expected machine name for this build";
  host_ = metrics::HostInfo::read("/");
  serve();
  auto client = connect();
  const ParsedResponse response = get(*client, "/info");
  ASSERT_EQ(response.status, 200) << response.body;
  rapidjson::Document doc;
  doc.Parse(response.body.c_str(), response.body.size());
  ASSERT_FALSE(doc.HasParseError()) << response.body;
  ASSERT_TRUE(doc.HasMember("os_architecture") && doc["os_architecture"].IsString());
  EXPECT_EQ(std::string_view(doc["os_architecture"].GetString()), kCompiledArchitecture);
  ASSERT_TRUE(doc.HasMember("machine") && doc["machine"].IsString());
  EXPECT_EQ(std::string_view(doc["machine"].GetString()), kCompiledMachine);
  EXPECT_EQ(doc["cpu_threads"].GetInt(), host_.cpu_threads);
}

// cpu_model is null when unknown, as the reference worker reports it; a string otherwise.
TEST_F(WorkerApiTest, InfoCpuModelIsNullWhenUnknown) {
  host_.cpu_model = "";
  rapidjson::Document unknown;
  const std::string unknown_body = api_.info(http::HttpRequest{}).body;
  unknown.Parse(unknown_body.c_str(), unknown_body.size());
  ASSERT_TRUE(unknown.HasMember("cpu_model"));
  EXPECT_TRUE(unknown["cpu_model"].IsNull());
  host_.cpu_model = "ARM Neoverse-N1";
  rapidjson::Document known;
  const std::string known_body = api_.info(http::HttpRequest{}).body;
  known.Parse(known_body.c_str(), known_body.size());
  EXPECT_STREQ(known["cpu_model"].GetString(), "ARM Neoverse-N1");
}

// GET /health is answered from the body it last rendered while nothing it shows has
// changed; each answer must equal what a WorkerApi rendering it for the first time says.
class HealthTest : public WorkerApiTest {
 protected:
  http::HttpResponse health() { return api_.health(http::HttpRequest{}); }

  http::HttpResponse rendered() {
    WorkerApi fresh{clock_,     WorkerIdentity{"worker-1", "0.1.0", {}, {"image"}, {}},
                    host_,      sampler_,
                    engine_,    store_,
                    scheduler_, JobRequestParser(JobPolicy{}, jobs::ImagePolicy({}))};
    fresh.setHealthPolicy(policy_);
    return fresh.health(http::HttpRequest{});
  }

  void expectAsRendered() {
    const http::HttpResponse cached = health();
    const http::HttpResponse fresh = rendered();
    EXPECT_EQ(cached.status, fresh.status);
    EXPECT_EQ(cached.body, fresh.body);
  }

  static rapidjson::Document parse(const std::string& body) {
    rapidjson::Document doc;
    doc.Parse(body.c_str(), body.size());
    EXPECT_FALSE(doc.HasParseError()) << body;
    return doc;
  }

  // A top-level integer field, or -1 (and a failure) when it is missing.
  static int64_t number(const rapidjson::Document& doc, const char* name) {
    const auto it = doc.FindMember(name);
    EXPECT_TRUE(it != doc.MemberEnd() && it->value.IsInt64()) << name;
    return it != doc.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64() : -1;
  }

  HealthPolicy policy_;
};

TEST_F(HealthTest, TimeFieldsAreWrittenForEachRequest) {
  const rapidjson::Document first = parse(health().body);
  clock_.advance(core::Millis(61'250));
  const http::HttpResponse later = health();
  const rapidjson::Document second = parse(later.body);
  EXPECT_EQ(number(second, "timestamp_unix_ms"), number(first, "timestamp_unix_ms") + 61'250);
  EXPECT_EQ(number(second, "uptime_seconds"), number(first, "uptime_seconds") + 61);
  EXPECT_EQ(number(second, "queued_jobs"), 0);
  EXPECT_EQ(later.status, 200);  // degraded (the engine was never reached), said in the body
  EXPECT_STREQ(second["status"].GetString(), "degraded");
}

// The state is in the body for every client (a dashboard counts any non-2xx answer as a
// dead worker); ?strict=1 puts it in the status code too, for probes.
TEST_F(HealthTest, StrictFormAnswers503WhenDegraded) {
  const auto withQuery = [&](const std::string& query) {
    http::HttpRequest request;
    request.method = "GET";
    request.query = query;
    return api_.health(request);
  };
  const http::HttpResponse relaxed = withQuery("strict=0");
  const http::HttpResponse strict = withQuery("_=123&strict=1");
  EXPECT_EQ(relaxed.status, 200);
  EXPECT_EQ(strict.status, 503);
  EXPECT_STREQ(parse(strict.body)["status"].GetString(), "degraded");
  EXPECT_EQ(parse(strict.body)["reasons"].Size(), parse(relaxed.body)["reasons"].Size());
  EXPECT_EQ(withQuery("_=123").status, 200);  // other parameters are ignored

  const http::HttpResponse bad = withQuery("strict=yes");
  EXPECT_EQ(bad.status, 400);
  EXPECT_STREQ(parse(bad.body)["error"]["code"].GetString(), "INVALID_QUERY");
  EXPECT_STREQ(parse(bad.body)["error"]["message"].GetString(), "strict must be 0 or 1");
  EXPECT_EQ(withQuery("strict=%zz").status, 400);
}

TEST_F(HealthTest, RenderedAgainWhenWhatItShowsChanges) {
  expectAsRendered();
  addJob("queued-1");  // queued count and accepted total
  expectAsRendered();
  EXPECT_EQ(parse(health().body)["queued_jobs"].GetInt(), 1);
  sampler_.sampleNow();  // a new sample (cgroup figures, load, disks)
  expectAsRendered();
  EXPECT_TRUE(parse(health().body)["memory_total_mb"].IsInt64());
  sampler_.setJobsPath("/nonexistent-jobs");
  expectAsRendered();
  EXPECT_STREQ(parse(health().body)["jobs_path"].GetString(), "/nonexistent-jobs");
  engine_.reportConnectFailed("connection refused");  // the engine's error, a reason
  expectAsRendered();
  EXPECT_STREQ(parse(health().body)["docker"]["error"].GetString(), "connection refused");
  policy_.disk_min_free_percent = 0;
  api_.setHealthPolicy(policy_);
  expectAsRendered();
  EXPECT_EQ(parse(health().body)["health_limits"]["disk_min_free_percent"].GetInt(), 0);
  scheduler_.setMaxConcurrent(7);
  expectAsRendered();
  EXPECT_EQ(parse(health().body)["max_concurrent_jobs"].GetInt(), 7);
}

TEST_F(WorkerApiTest, AJobLargerThanTheMemoryBudgetIsRefusedAtSubmission) {
  scheduler_.setMemoryBudgetMb(1024);
  const auto submit = [this](int64_t memory_mb) {
    http::HttpRequest request;
    request.method = "POST";
    request.body = R"({"protocol_version":1,"job_id":"m)" + std::to_string(memory_mb) +
                   R"(","task":{"type":"t"},"runtime":{"mode":"image","image":"runner:1",)"
                   R"("limits":{"memory_mb":)" +
                   std::to_string(memory_mb) + "}}}";
    return api_.submitJob(request);
  };
  const http::HttpResponse over = submit(2048);
  EXPECT_EQ(over.status, 400);
  rapidjson::Document doc;
  doc.Parse(over.body.c_str(), over.body.size());
  ASSERT_FALSE(doc.HasParseError()) << over.body;
  EXPECT_STREQ(doc["state"].GetString(), "rejected");
  EXPECT_STREQ(doc["job_id"].GetString(), "m2048");
  EXPECT_STREQ(doc["error"]["code"].GetString(), "MEMORY_OVER_BUDGET");
  EXPECT_NE(std::string(doc["error"]["message"].GetString()).find("runtime.limits.memory_mb"),
            std::string::npos);
  EXPECT_EQ(store_.find("m2048"), nullptr) << "a rejected job is not stored";
  EXPECT_EQ(submit(1024).status, 202) << "a job that fits the budget alone is accepted";
}

TEST_F(WorkerApiTest, JobWithoutOutputsHasNoOutputsField) {
  addJob("job-3", jobs::JobState::kFailed);
  rapidjson::Document doc = record("job-3");
  EXPECT_FALSE(doc.HasMember("outputs"));
  EXPECT_TRUE(doc["isolation"].IsObject());  // started: the defaults it ran with
  EXPECT_STREQ(doc["isolation"]["network"].GetString(), "none");
  EXPECT_TRUE(doc["isolation"]["user"].IsNull());
}

TEST_F(WorkerApiTest, Base64EncodingAddsTheExactBytes) {
  jobs::Job& job = addJob("job-4", jobs::JobState::kFinished);
  const std::string out("ok\xff\xfe\0end\n", 9);
  job.stdout_output.append(out, 1024);
  job.stderr_output.append("warn\n", 1024);
  rapidjson::Document doc = record("job-4", "encoding=base64");
  EXPECT_STREQ(doc["stdout"].GetString(), "ok\xEF\xBF\xBD\xEF\xBF\xBD");  // text stays as it was
  EXPECT_EQ(core::base64Decode(doc["stdout_base64"].GetString()), out);
  EXPECT_STREQ(doc["stderr_base64"].GetString(), "d2Fybgo=");
  const std::vector<std::string> order = keys(doc);
  const auto at = [&](const char* name) { return std::find(order.begin(), order.end(), name); };
  EXPECT_EQ(at("stdout_base64"), at("stderr") + 1);
  EXPECT_EQ(at("stderr_base64"), at("stderr") + 2);
  for (const char* query : {"", "encoding=utf8", "other=1"}) {
    rapidjson::Document plain = record("job-4", query);
    EXPECT_FALSE(plain.HasMember("stdout_base64")) << query;
    EXPECT_FALSE(plain.HasMember("stderr_base64")) << query;
  }
}

TEST_F(WorkerApiTest, BadEncodingIs400NamingTheParameter) {
  addJob("job-5");
  for (const char* query : {"encoding=hex", "encoding=", "encoding=BASE64", "encoding=%zz"}) {
    rapidjson::Document doc = record("job-5", query, 400);
    EXPECT_STREQ(doc["error"]["code"].GetString(), "INVALID_QUERY") << query;
  }
  rapidjson::Document doc = record("job-5", "encoding=hex", 400);
  EXPECT_NE(std::string(doc["error"]["message"].GetString()).find("encoding"), std::string::npos);
  rapidjson::Document missing = record("nope", "", 404);
  EXPECT_STREQ(missing["state"].GetString(), "not_found");
  EXPECT_STREQ(missing["job_id"].GetString(), "nope");
}

TEST_F(WorkerApiTest, OutputOfAnEndedJobIsStdoutThenStderr) {
  jobs::Job& job = addJob("done", jobs::JobState::kFinished);
  job.stdout_output.append(std::string("out\0\xff", 5), 1024);
  job.stderr_output.append("err", 1024);
  serve();
  auto client = connect();
  ParsedResponse head = get(*client, "/jobs/done/output");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.headerOr("Content-Type"), "application/octet-stream");
  EXPECT_EQ(head.headerOr("Transfer-Encoding"), "chunked");
  EXPECT_EQ(head.headerOr("X-Content-Type-Options"), "nosniff");
  ChunkedBody body = client->readChunkedBody();
  ASSERT_TRUE(body.complete);
  EXPECT_EQ(body.joined(), std::string("out\0\xff", 5) + "err");

  for (const auto& [query, expected] : std::vector<std::pair<std::string, std::string>>{
           {"?stream=stdout", std::string("out\0\xff", 5)},
           {"?stream=stderr", "err"},
           {"?stream=both", std::string("out\0\xff", 5) + "err"}}) {
    ParsedResponse again = get(*client, "/jobs/done/output" + query);
    EXPECT_EQ(again.status, 200) << query;
    EXPECT_EQ(client->readChunkedBody().joined(), expected) << query;
  }
  // An empty output is an empty body.
  addJob("quiet", jobs::JobState::kFinished);
  EXPECT_EQ(get(*client, "/jobs/quiet/output").status, 200);
  ChunkedBody empty = client->readChunkedBody();
  EXPECT_TRUE(empty.complete);
  EXPECT_TRUE(empty.chunks.empty());
  EXPECT_EQ(feed_.subscriptions(), 0u);
}

TEST_F(WorkerApiTest, OutputErrors) {
  addJob("job", jobs::JobState::kFinished);
  serve();
  auto client = connect();
  ParsedResponse bad = get(*client, "/jobs/job/output?stream=all");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.headerOr("Content-Type"), "application/json");
  EXPECT_NE(bad.body.find("INVALID_QUERY"), std::string::npos);
  EXPECT_NE(bad.body.find("stream"), std::string::npos);
  ParsedResponse missing = get(*client, "/jobs/ghost/output");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, "{\"job_id\":\"ghost\",\"state\":\"not_found\"}");
  EXPECT_EQ(get(*client, "/jobs/job/output/").status, 404);
  EXPECT_EQ(get(*client, "/jobs/job").status, 200);  // still keep-alive and routable
}

TEST_F(WorkerApiTest, LiveOutputFollowsTheJobUntilItEnds) {
  jobs::Job& job = addJob("live", jobs::JobState::kRunning);
  capture(job, OutputStream::kStderr, "e1 ");
  capture(job, OutputStream::kStdout, "o1 ");
  serve();
  auto client = connect();
  auto other = connect();
  EXPECT_EQ(get(*client, "/jobs/live/output").status, 200);
  EXPECT_EQ(get(*other, "/jobs/live/output?stream=stderr").status, 200);
  // What was captured before: stdout, then stderr.
  EXPECT_EQ(receive(*client, 6), "o1 e1 ");
  EXPECT_EQ(receive(*other, 3), "e1 ");
  EXPECT_EQ(feed_.subscriptions("live"), 2u);
  // Then live chunks in the order captured.
  capture(job, OutputStream::kStdout, "o2 ");
  capture(job, OutputStream::kStderr, "e2 ");
  capture(job, OutputStream::kStdout, "o3");
  EXPECT_EQ(receive(*client, 14), "o1 e1 o2 e2 o3");
  EXPECT_EQ(receive(*other, 6), "e1 e2 ");
  EXPECT_FALSE(http::testing::decodeChunked(client->buffer()).complete);
  endJob(job);
  ChunkedBody body = client->readChunkedBody();
  ASSERT_TRUE(body.complete);
  EXPECT_EQ(body.joined(), "o1 e1 o2 e2 o3");
  EXPECT_TRUE(other->readChunkedBody().complete);
  EXPECT_EQ(feed_.subscriptions(), 0u);
  // The connection goes on.
  EXPECT_EQ(get(*client, "/jobs/live").status, 200);
}

TEST_F(WorkerApiTest, QueuedJobStreamStartsEmptyAndEndsWhenTheJobDoes) {
  jobs::Job& job = addJob("waiting");
  serve();
  auto client = connect();
  EXPECT_EQ(get(*client, "/jobs/waiting/output").status, 200);
  spin();
  EXPECT_TRUE(client->buffer().empty());
  EXPECT_EQ(feed_.subscriptions("waiting"), 1u);
  // Cancelled while queued: the scheduler's end hook ends the feed.
  EXPECT_EQ(scheduler_.cancel("waiting"), jobs::Scheduler::CancelResult::kCancelled);
  EXPECT_EQ(job.state, jobs::JobState::kFailed);
  ChunkedBody body = client->readChunkedBody();
  EXPECT_TRUE(body.complete);
  EXPECT_TRUE(body.chunks.empty());
}

TEST_F(WorkerApiTest, ClientLeavingUnsubscribes) {
  jobs::Job& job = addJob("left", jobs::JobState::kRunning);
  serve();
  {
    auto client = connect();
    EXPECT_EQ(get(*client, "/jobs/left/output").status, 200);
    spin();
    EXPECT_EQ(feed_.subscriptions("left"), 1u);
  }
  for (int i = 0; i < 100 && (feed_.subscriptions() > 0 || server_->connectionCount() > 0); ++i) {
    spin(1);
  }
  EXPECT_EQ(feed_.subscriptions(), 0u);
  EXPECT_EQ(server_->connectionCount(), 0u);
  capture(job, OutputStream::kStdout, "nobody listens");  // harmless
}

TEST_F(WorkerApiTest, LargeOutputIsPacedByTheClient) {
  jobs::Job& job = addJob("big", jobs::JobState::kFinished);
  std::string out(size_t{5} * 1024 * 1024, '\0');
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(i * 7 % 251);
  job.stdout_output.append(out, out.size());
  job.stderr_output.append("tail", 16);
  serve();
  auto client = connect();
  EXPECT_EQ(get(*client, "/jobs/big/output").status, 200);
  // More than the HTTP layer's 1 MiB buffer cap: written as the client reads.
  ASSERT_TRUE(client->pumpUntil([&] { return client->buffer().size() > out.size(); },
                                std::chrono::milliseconds(20'000)));
  ChunkedBody body = client->readChunkedBody();
  ASSERT_TRUE(body.complete);
  EXPECT_TRUE(body.joined() == out + "tail");
}

TEST_F(WorkerApiTest, RecordDroppedAtTheEndStillDeliversEverything) {
  // Retention keeps no ended job: the record goes right after the feed's end, while
  // most of its output is still to be sent to a client that has not read yet.
  store_.setPolicy(jobs::RetentionPolicy{0, 0});
  jobs::Job& job = addJob("gone", jobs::JobState::kRunning);
  const std::string out(size_t{3} * 1024 * 1024, 'x');
  capture(job, OutputStream::kStdout, out);
  capture(job, OutputStream::kStderr, "err");
  serve();
  auto client = connect();
  EXPECT_EQ(get(*client, "/jobs/gone/output").status, 200);
  spin();
  capture(job, OutputStream::kStdout, "live");
  endJob(job);
  ASSERT_EQ(store_.find("gone"), nullptr);
  ASSERT_TRUE(client->pumpUntil([&] { return client->buffer().size() > out.size(); },
                                std::chrono::milliseconds(20'000)));
  ChunkedBody body = client->readChunkedBody();
  ASSERT_TRUE(body.complete);
  EXPECT_TRUE(body.joined() == out + "err" + "live");
}

TEST_F(WorkerApiTest, ClientFallingBehindLiveOutputIsCutOff) {
  jobs::Job& job = addJob("flood", jobs::JobState::kRunning);
  serve();
  auto client = connect();
  const int small = 4096;
  ::setsockopt(client->fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  EXPECT_EQ(get(*client, "/jobs/flood/output").status, 200);
  spin();
  // The job writes far faster than the client reads (it reads nothing).
  const std::string chunk(size_t{32} * 1024, 'f');
  for (int i = 0; i < 256 && feed_.subscriptions("flood") > 0; ++i) {
    capture(job, OutputStream::kStdout, chunk);
    loop_.runOnce(0);
  }
  EXPECT_EQ(feed_.subscriptions("flood"), 0u);
  // What was handed to the connection still goes out, within the write deadline.
  clock_.advance(http::HttpServerOptions{}.idle_timeout + core::Millis(1));
  for (int i = 0; i < 100 && server_->connectionCount() > 0; ++i) spin(1);
  EXPECT_EQ(server_->connectionCount(), 0u);
}

TEST_F(WorkerApiTest, WithoutAFeedOnlyEndedJobsStream) {
  api_.setOutputFeed(nullptr);
  addJob("running", jobs::JobState::kRunning);
  jobs::Job& done = addJob("done", jobs::JobState::kFinished);
  done.stdout_output.append("fine", 16);
  serve();
  auto client = connect();
  ParsedResponse refused = get(*client, "/jobs/running/output");
  EXPECT_EQ(refused.status, 503);
  EXPECT_NE(refused.body.find("LIVE_OUTPUT_UNAVAILABLE"), std::string::npos);
  EXPECT_EQ(get(*client, "/jobs/done/output").status, 200);
  EXPECT_EQ(client->readChunkedBody().joined(), "fine");
}

}  // namespace
}  // namespace wa::api
