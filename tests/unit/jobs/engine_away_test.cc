// A job that starts while the engine is going away: the scheduler, the real runner, image
// supplier, Docker client and engine monitor against a fake engine whose socket can be
// taken away and put back (a symlink in front of the fake's own socket).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "docker/docker_client.h"
#include "docker/engine_monitor.h"
#include "docker/fake_engine.h"
#include "docker/recorded_info.h"
#include "jobs/container_reaper.h"
#include "jobs/docker_container_engine.h"
#include "jobs/docker_job_runner.h"
#include "jobs/engine_gate.h"
#include "jobs/image_supplier.h"
#include "jobs/scheduler.h"

namespace wa::jobs {
namespace {

using namespace std::chrono_literals;
using docker::testing::FakeEngine;
using docker::testing::FakeReply;
using docker::testing::FakeRequest;
using docker::testing::frame;
using docker::testing::runFor;
using docker::testing::runUntil;

std::unique_ptr<Job> engineJob(const std::string& id) {
  auto job = std::make_unique<Job>();
  job->spec.job_id = id;
  job->spec.image = "busybox:1";
  job->spec.job_json = R"({"job_id":")" + id + R"("})";
  job->spec.limits.max_runtime_seconds = 60;
  return job;
}

std::string makeTempDir() {
  char dir_template[] = "/tmp/wa-engine-away-XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) std::abort();
  return dir_template;
}

class EngineAwayTest : public ::testing::Test {
 protected:
  EngineAwayTest() {
    engine->setHandler([this](const FakeRequest& r) { return answer(r); });
  }
  ~EngineAwayTest() override {
    ::unlink(link_path.c_str());
    ::rmdir(link_dir.c_str());
  }

  // The engine's socket appears at (or vanishes from) the path the client uses.
  void engineUp() {
    const std::string target = engine->dockerHost().substr(std::string("unix://").size());
    ASSERT_EQ(::symlink(target.c_str(), link_path.c_str()), 0);
  }
  void engineDown() { ::unlink(link_path.c_str()); }

  size_t requestsFor(const std::string& job_id, const std::string& what) const {
    size_t n = 0;
    for (const FakeRequest& r : engine->requests) {
      if (r.target.find(what) != std::string::npos && r.body.find(job_id) != std::string::npos) ++n;
    }
    return n;
  }

  // The jobs that went back to the queue because the engine was away when they started.
  std::vector<std::string> requeued() const {
    std::vector<std::string> ids;
    for (const char* id : {"j0", "j1", "j2"}) {
      const Job* job = store.find(id);
      if (job != nullptr && job->engine_requeues > 0) ids.emplace_back(id);
    }
    return ids;
  }

  // The engine answers ping, /version and /info (so the gate lets jobs start) as Docker,
  // closing those connections: a job's first request must find out whether the engine
  // still listens, as it does once a real engine has gone.
  void startMonitor() {
    monitor.start();
    ASSERT_TRUE(
        runUntil(loop, [&] { return !scheduler.paused(Scheduler::PauseReason::kEngineLimits); }));
  }

  FakeReply answer(const FakeRequest& r) {
    const std::string& t = r.target;
    if (t == "/_ping") return FakeReply{200, "OK"};
    if (t == "/version" || t == "/v1.41/info") {
      FakeReply reply{200, t == "/v1.41/info" ? docker::testing::kDockerRootInfo
                                              : R"({"Version":"20.10.24","ApiVersion":"1.41"})"};
      reply.close_after = true;
      return reply;
    }
    if (t.starts_with("/v1.41/images/")) return FakeReply{200, R"({"Id":"sha256:1"})"};
    if (t.starts_with("/v1.41/containers/create")) {
      ++creates;
      return FakeReply{201, R"({"Id":"c)" + std::to_string(creates) + R"("})"};
    }
    if (t.find("/attach") != std::string::npos) {
      FakeReply reply;
      if (hang_attach) {
        reply.hang = true;
        return reply;
      }
      reply.hijack = true;
      reply.on_stdin_eof = [](const std::string& in) { return frame(1, in); };
      return reply;
    }
    if (t.ends_with("/start")) return FakeReply{204, ""};
    if (t.ends_with("/wait")) return FakeReply{200, R"({"StatusCode":0})"};
    if (t.ends_with("/json") && t.starts_with("/v1.41/containers/c")) {
      return FakeReply{200, R"({"Image":"sha256:1","State":{"Running":false,"OOMKilled":false,)"
                            R"("Error":"","Status":"exited","ExitCode":0}})"};
    }
    if (r.method == "DELETE") return FakeReply{204, ""};
    return FakeReply{404, R"({"message":"page not found"})"};
  }

  core::SystemClock clock;
  core::EventLoop loop{clock};
  std::unique_ptr<FakeEngine> engine = std::make_unique<FakeEngine>(loop);
  const std::string link_dir = makeTempDir();
  const std::string link_path = link_dir + "/docker.sock";
  docker::DockerClient docker{loop, "unix://" + link_path};
  docker::EngineMonitor monitor{loop, docker, 60s};
  ImageSupplier images{loop, engineCalls(docker), SupplyOptions{}};
  DockerContainerEngine container_engine{docker};
  ContainerReaper reaper{loop, container_engine, 5s};
  DockerJobRunner runner{loop, container_engine, images, reaper, RunnerOptions{.worker_id = "w1"}};
  JobStore store{RetentionPolicy{}};
  Scheduler scheduler{loop, store, runner, 1, 10};
  // As the daemon wires them.
  EngineGate gate{docker, monitor, scheduler, reaper};
  int creates = 0;
  bool hang_attach = false;
};

// The window: the monitor still thinks the engine is there (its last ping answered) when a
// slot frees and a queued job starts; the engine is gone, so the job's first request
// finds nothing listening. The job must wait in the queue, in its place, not fail.
TEST_F(EngineAwayTest, AJobThatFindsTheEngineGoneBeforeItsContainerWaitsInTheQueue) {
  engineUp();
  startMonitor();
  engineDown();
  for (const char* id : {"j0", "j1", "j2"}) {
    ASSERT_EQ(scheduler.submit(engineJob(id)), Scheduler::SubmitResult::kAccepted);
  }
  ASSERT_TRUE(runUntil(loop, [&] { return !requeued().empty(); }));
  runFor(loop, 300ms);  // the queue is held: nothing starts (or fails) meanwhile
  EXPECT_EQ(requeued(), std::vector<std::string>{"j0"});
  EXPECT_FALSE(monitor.status().reachable);
  EXPECT_TRUE(scheduler.paused(Scheduler::PauseReason::kEngineUnreachable));
  EXPECT_EQ(scheduler.running(), 0u);
  EXPECT_EQ(scheduler.queued(), 3u);
  EXPECT_EQ(store.count(JobState::kFailed), 0u);
  const Job* j0 = store.find("j0");
  EXPECT_EQ(j0->state, JobState::kQueued);
  EXPECT_EQ(scheduler.queuePosition(*j0), 1u) << "back at the head, where it was";
  EXPECT_EQ(scheduler.queuePosition(*store.find("j2")), 3u);
  EXPECT_FALSE(j0->error);
  EXPECT_FALSE(j0->started_at_ms);
  EXPECT_EQ(j0->engine_requeues, 1u);
  EXPECT_EQ(creates, 0);

  // The engine returns: the next ping says so and the queue runs in its order, each job
  // with one container.
  engineUp();
  monitor.checkNow([](const docker::EngineStatus&) {});
  ASSERT_TRUE(runUntil(
      loop, [&] { return store.count(JobState::kFinished) == 3; }, 10s));
  EXPECT_EQ(store.count(JobState::kFailed), 0u);
  EXPECT_EQ(creates, 3);
  for (const char* id : {"j0", "j1", "j2"}) {
    EXPECT_EQ(requestsFor(id, "/containers/create"), 1u) << id;
  }
  std::vector<uint64_t> started;
  for (const char* id : {"j0", "j1", "j2"}) started.push_back(*store.find(id)->started_at_ms);
  EXPECT_LE(started[0], started[1]);
  EXPECT_LE(started[1], started[2]);
  EXPECT_EQ(scheduler.totalEntered(JobState::kQueued), 3u) << "accepted once each";
}

// Once the job has a container, an engine that goes away ends it as before: DOCKER_ERROR,
// with no second try (its container may still be there, and its output is lost).
TEST_F(EngineAwayTest, AJobWhoseContainerExistsStillFailsWithDockerError) {
  engineUp();
  startMonitor();
  hang_attach = true;
  ASSERT_EQ(scheduler.submit(engineJob("j0")), Scheduler::SubmitResult::kAccepted);
  ASSERT_TRUE(runUntil(loop, [&] {
    for (const FakeRequest& r : engine->requests) {
      if (r.target.find("/attach") != std::string::npos) return true;
    }
    return false;
  }));
  engineDown();
  engine.reset();  // the engine stops: its connections close, its socket goes
  ASSERT_TRUE(runUntil(
      loop, [&] { return store.count(JobState::kFailed) == 1; }, 10s));
  const Job* j0 = store.find("j0");
  ASSERT_TRUE(j0->error);
  EXPECT_EQ(j0->error->code, "DOCKER_ERROR");
  EXPECT_NE(j0->error->message.find("attaching to the container failed"), std::string::npos)
      << j0->error->message;
  EXPECT_TRUE(requeued().empty());
  EXPECT_EQ(j0->engine_requeues, 0u);
  EXPECT_EQ(creates, 1);
}

}  // namespace
}  // namespace wa::jobs
