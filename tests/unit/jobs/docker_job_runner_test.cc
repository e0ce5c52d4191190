// The runner's state machine (JobRun) on a fake engine that the test answers by hand, on
// a manual clock: every phase, every fault, cancel in every phase, and the late answers
// that used to reach a run already freed.
#include "jobs/docker_job_runner.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/text.h"
#include "docker/tar_archive.h"
#include "jobs/container_spec.h"
#include "jobs/fake_container_engine.h"

namespace wa::jobs {
namespace {

using docker::DockerError;
using docker::StreamKind;
using docker::Unit;
using Phase = JobRun::Phase;
using testing::FakeContainerEngine;

constexpr const char* kJobJson = R"({"job_id":"j1","protocol_version":1})";

docker::ContainerState exited(int64_t code, bool oom = false) {
  docker::ContainerState state;
  state.running = false;
  state.exit_code = code;
  state.oom_killed = oom;
  state.image_id = "sha256:ran";
  return state;
}

class JobRunTest : public ::testing::Test {
 protected:
  JobRunTest() {
    job.spec.job_id = "j1";
    job.spec.task_type = "t";
    job.spec.image = "busybox:1";
    job.spec.job_json = kJobJson;
    job.spec.limits = JobLimits{64, 10, 0};
    options.worker_id = "w1";
    options.output_limit_bytes = 8;
  }

  // The image engine answers inspects from the loop: present unless told to hold them.
  ImageEngine imageEngine() {
    ImageEngine engine;
    engine.inspect = [this](const std::string&, docker::Callback<docker::ImageInfo> done) {
      if (hold_inspect) {
        held_inspect = std::move(done);
        return core::RequestHandle();
      }
      loop.post([done = std::move(done)] { done(docker::ImageInfo{"sha256:img", {}}); });
      return core::RequestHandle();
    };
    engine.pull = [](const std::string&, const std::string&, long,
                     const docker::Callback<docker::StreamedResult>&) {
      return core::RequestHandle();
    };
    engine.build = [](const std::string&, const std::string&, long,
                      const docker::Callback<docker::StreamedResult>&) {
      return core::RequestHandle();
    };
    return engine;
  }

  void startRun() {
    runner = std::make_unique<DockerJobRunner>(loop, engine, images, reaper, options);
    runner->setAccounting(accounting);
    runner->setOnOutput(
        [this](const Job&, StreamKind, std::string_view data) { published += std::string(data); });
    runner->start(job, [this](Job&, JobOutcome o) {
      ++completions;
      outcome = std::move(o);
    });
    settle();
  }
  void settle() {
    for (int pass = 0; pass < 4; ++pass) loop.runOnce(0);
  }
  void advance(core::Millis d) {
    clock.advance(d);
    settle();
  }
  std::optional<Phase> phase() const { return runner->phaseOf(job); }

  // A volume workspace's keeper: created as k1 and started.
  void keeperUp() {
    ASSERT_EQ(phase(), Phase::kCreatingKeeper);
    ASSERT_TRUE(engine.answer<std::string>("create", std::string("k1")));
    ASSERT_EQ(phase(), Phase::kStartingKeeper);
    EXPECT_EQ(engine.last("start")->container, "k1");
    ASSERT_TRUE(engine.answer<Unit>("start", Unit{}));
  }
  // Drives a run to kRunning: the keeper (for a volume workspace), create, attach, start
  // answered.
  void runToRunning() {
    startRun();
    if (usesVolumeWorkspace(job.spec)) keeperUp();
    ASSERT_EQ(phase(), Phase::kCreating);
    ASSERT_TRUE(engine.answer<std::string>("create", std::string("c1")));
    if (phase() == Phase::kPlacingFiles) {
      ASSERT_TRUE(engine.answer<Unit>("put_archive", Unit{}));
    }
    ASSERT_EQ(phase(), Phase::kAttaching);
    engine.attach()->attached();
    ASSERT_EQ(phase(), Phase::kStarting);
    ASSERT_TRUE(engine.answer<Unit>("start", Unit{}));
    ASSERT_EQ(phase(), Phase::kRunning);
  }
  // From kInspecting on: inspect answered with state, removal answered.
  void finishWith(const docker::ContainerState& state) {
    ASSERT_TRUE(engine.answer<docker::ContainerState>("inspect", state));
    ASSERT_EQ(phase(), Phase::kRemoving);
    ASSERT_TRUE(engine.answer<Unit>("remove", Unit{}));
    settle();
  }
  // kRemovingKeeper: the keeper's removal answered.
  void keeperRemoved() {
    ASSERT_EQ(phase(), Phase::kRemovingKeeper);
    EXPECT_EQ(engine.last("remove")->container, "k1");
    ASSERT_TRUE(engine.answer<Unit>("remove", Unit{}));
    settle();
  }

  core::ManualClock clock;
  core::EventLoop loop{clock};
  bool hold_inspect = false;
  docker::Callback<docker::ImageInfo> held_inspect;
  ImageSupplier images{loop, imageEngine(), SupplyOptions{}};
  FakeContainerEngine engine;
  ContainerReaper reaper{loop, engine, core::Millis(5000)};
  RunnerOptions options;
  Job job;
  std::unique_ptr<DockerJobRunner> runner;
  JobAccounting* accounting = nullptr;  // what runs read their usage from; none by default
  int completions = 0;
  std::optional<JobOutcome> outcome;
  std::string published;
};

TEST_F(JobRunTest, AJobWalksEveryPhaseAndEndsOnceWithItsExitCode) {
  runToRunning();
  const FakeContainerEngine::Call* create = engine.last("create");
  EXPECT_EQ(create->spec.labels.at(kWorkerLabel), "w1");
  EXPECT_EQ(create->spec.labels.at(kJobLabel), "j1");
  EXPECT_EQ(create->spec.network_mode, "none");
  EXPECT_EQ(engine.attach()->stdin_data, kJobJson) << "the whole job JSON goes to stdin";
  engine.attach()->output(StreamKind::kStdout, "hi\n");
  engine.attach()->end();
  EXPECT_EQ(phase(), Phase::kRunning) << "the stream's end alone does not end the run";
  ASSERT_TRUE(engine.answer<int64_t>("wait", int64_t{0}));
  ASSERT_EQ(phase(), Phase::kInspecting) << "the stream had ended: no drain";
  EXPECT_FALSE(engine.last("inspect")->fresh_connection) << "an unforced exit 0: kept-alive";
  finishWith(exited(0));
  EXPECT_EQ(completions, 1);
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->exit_code, 0);
  EXPECT_FALSE(outcome->error);
  EXPECT_EQ(job.stdout_output.data, "hi\n");
  EXPECT_EQ(job.image_id, "sha256:ran");
  EXPECT_EQ(runner->active(), 0u);
  EXPECT_TRUE(engine.attachDestroyed()) << "the run and its stream are freed after the batch";
}

TEST_F(JobRunTest, OutputIsCappedAndOnlyTheKeptBytesArePublished) {
  runToRunning();
  engine.attach()->output(StreamKind::kStdout, "0123456789");
  EXPECT_EQ(job.stdout_output.data, "01234567");
  EXPECT_TRUE(job.stdout_output.truncated);
  EXPECT_EQ(job.stdout_output.total_bytes, 10u);
  EXPECT_EQ(published, "01234567");
}

TEST_F(JobRunTest, FilesArePlacedInTheWorkspaceBeforeTheAttach) {
  job.spec.files = {JobFile{"src/main.c", "int main(){}", 0644}};
  startRun();
  keeperUp();
  ASSERT_TRUE(engine.answer<std::string>("create", std::string("c1")));
  ASSERT_EQ(phase(), Phase::kPlacingFiles);
  EXPECT_EQ(engine.count("attach"), 0u);
  const FakeContainerEngine::Call* put = engine.last("put_archive");
  EXPECT_EQ(put->path, "/workspace");
  std::vector<docker::TarEntry> entries;
  std::string error;
  ASSERT_TRUE(docker::readTar(put->tar, 1 << 20, &entries, &error)) << error;
  bool found = false;
  for (const auto& entry : entries) found |= entry.path == "src/main.c";
  EXPECT_TRUE(found);
  EXPECT_EQ(put->container, "c1") << "into the job's container, onto the keeper's volume";
  EXPECT_EQ(engine.last("create")->spec.volumes_from, std::vector<std::string>{"k1"});
  ASSERT_TRUE(engine.answer<Unit>("put_archive", Unit{}));
  EXPECT_EQ(phase(), Phase::kAttaching);
}

TEST_F(JobRunTest, OutputsAreCollectedOneByOneThenTheContainerIsRemoved) {
  job.spec.outputs = {"out/a.txt", "out/missing.txt"};
  runToRunning();
  engine.attach()->end();
  ASSERT_TRUE(engine.answer<int64_t>("wait", int64_t{0}));
  ASSERT_TRUE(engine.answer<docker::ContainerState>("inspect", exited(0)));
  ASSERT_EQ(phase(), Phase::kCollecting);
  EXPECT_EQ(engine.last("get_archive")->path, "/workspace/out/a.txt");
  docker::TarWriter tar;
  tar.addFile("a.txt", "result", 0644);
  ASSERT_TRUE(engine.answer<std::string>("get_archive", tar.finish()));
  ASSERT_EQ(phase(), Phase::kCollecting);
  ASSERT_TRUE(engine.fail("get_archive", DockerError{404, "no such path"}));
  ASSERT_EQ(phase(), Phase::kRemoving);
  EXPECT_EQ(engine.last("remove")->container, "c1") << "the job's container first";
  ASSERT_TRUE(engine.answer<Unit>("remove", Unit{}));
  keeperRemoved();
  EXPECT_EQ(completions, 1);
  ASSERT_EQ(job.output_files.size(), 2u);
  EXPECT_TRUE(job.output_files[0].found);
  EXPECT_EQ(job.output_files[0].data, "result");
  EXPECT_FALSE(job.output_files[1].found);
  EXPECT_EQ(completions, 1);
}

TEST_F(JobRunTest, TheRuntimeLimitKillsTheContainerAndEndsWithTimeout) {
  runToRunning();
  advance(core::Millis(9999));
  EXPECT_EQ(engine.count("kill"), 0u);
  advance(core::Millis(1));
  EXPECT_EQ(engine.count("kill"), 1u);
  EXPECT_TRUE(engine.answer<Unit>("kill", Unit{}));
  ASSERT_TRUE(engine.answer<int64_t>("wait", int64_t{137}));
  engine.attach()->end();
  ASSERT_EQ(phase(), Phase::kInspecting);
  EXPECT_TRUE(engine.last("inspect")->fresh_connection);
  finishWith(exited(137));
  ASSERT_TRUE(outcome && outcome->error);
  EXPECT_EQ(outcome->error->code, "TIMEOUT");
  EXPECT_EQ(completions, 1);
}

// The run the issue found freed under a wait still in flight: the engine never reports
// the killed container stopped, the kill deadline ends the run, and the wait's answer
// comes later. Its handle went with the phase: the answer reaches nobody.
TEST_F(JobRunTest, TheKillDeadlineEndsTheRunAndALateWaitAnswerReachesNobody) {
  options.kill_grace = core::Millis(15000);
  runToRunning();
  advance(core::Millis(10000));  // the runtime limit: killed
  ASSERT_EQ(engine.count("kill"), 1u);
  advance(core::Millis(14999));
  EXPECT_EQ(phase(), Phase::kRunning);
  const std::shared_ptr<bool> stream_freed = engine.attach()->destroyed_;
  advance(core::Millis(1));  // the kill deadline
  ASSERT_EQ(phase(), Phase::kInspecting);
  EXPECT_EQ(engine.pending("wait"), 0u) << "the wait was cancelled with its phase";
  EXPECT_TRUE(engine.last("wait")->cancelled);
  EXPECT_TRUE(*stream_freed) << "the stream was closed and freed with the phase";
  finishWith(exited(137));
  EXPECT_EQ(completions, 1);
  ASSERT_TRUE(outcome && outcome->error);
  EXPECT_EQ(outcome->error->code, "TIMEOUT");
  EXPECT_EQ(runner->active(), 0u);
  // The engine's late answer: nothing is waiting for it any more.
  EXPECT_FALSE(engine.answer<int64_t>("wait", int64_t{137}));
  settle();
  EXPECT_EQ(completions, 1);
}

TEST_F(JobRunTest, AnAttachThatBreaksBeforeStartFailsTheJobWithoutStartingIt) {
  startRun();
  ASSERT_TRUE(engine.answer<std::string>("create", std::string("c1")));
  engine.attach()->end(DockerError{0, "connection reset", false, true});
  ASSERT_EQ(phase(), Phase::kInspecting);
  EXPECT_EQ(engine.count("start"), 0u);
  finishWith(exited(0));
  ASSERT_TRUE(outcome && outcome->error);
  EXPECT_EQ(outcome->error->code, "DOCKER_ERROR");
  EXPECT_NE(outcome->error->message.find("attaching to the container failed"), std::string::npos);
  EXPECT_EQ(engine.count("remove"), 1u);
}

// The other hole the issue found: the stream breaks between start and its reply.
TEST_F(JobRunTest, AnAttachThatBreaksWhileStartIsInFlightDropsTheStartAnswer) {
  startRun();
  ASSERT_TRUE(engine.answer<std::string>("create", std::string("c1")));
  engine.attach()->attached();
  ASSERT_EQ(phase(), Phase::kStarting);
  engine.attach()->end(DockerError{0, "connection reset", false, true});
  ASSERT_EQ(phase(), Phase::kInspecting);
  EXPECT_TRUE(engine.last("start")->cancelled);
  EXPECT_FALSE(engine.answer<Unit>("start", Unit{}));
  finishWith(exited(0));
  EXPECT_EQ(completions, 1);
  ASSERT_TRUE(outcome && outcome->error);
  EXPECT_EQ(outcome->error->code, "DOCKER_ERROR");
  EXPECT_EQ(engine.count("wait"), 0u);
}

TEST_F(JobRunTest, OutputAfterTheExitIsDrainedUntilTheStreamGoesQuiet) {
  options.output_drain_grace = core::Millis(2000);
  runToRunning();
  ASSERT_TRUE(engine.answer<int64_t>("wait", int64_t{0}));
  ASSERT_EQ(phase(), Phase::kDraining);
  advance(core::Millis(1500));
  engine.attach()->output(StreamKind::kStdout, "late");
  advance(core::Millis(1500));
  EXPECT_EQ(phase(), Phase::kDraining) << "each chunk re-arms the grace";
  engine.attach()->unread_output = true;
  advance(core::Millis(2000));
  EXPECT_EQ(phase(), Phase::kDraining) << "output waiting unread is not a stalled stream";
  engine.attach()->unread_output = false;
  advance(core::Millis(2000));
  ASSERT_EQ(phase(), Phase::kInspecting);
  finishWith(exited(0));
  EXPECT_EQ(job.stdout_output.data, "late");
  EXPECT_EQ(outcome->exit_code, 0);
}

TEST_F(JobRunTest, TheStreamEndingWhileDrainingEndsTheRun) {
  runToRunning();
  ASSERT_TRUE(engine.answer<int64_t>("wait", int64_t{3}));
  ASSERT_EQ(phase(), Phase::kDraining);
  engine.attach()->end();
  ASSERT_EQ(phase(), Phase::kInspecting);
  finishWith(exited(3));
  EXPECT_EQ(outcome->exit_code, 3);
}

TEST_F(JobRunTest, CancelWhileTheImageIsSuppliedEndsTheRunAfterTheCall) {
  hold_inspect = true;
  startRun();
  ASSERT_EQ(phase(), Phase::kSupplying);
  runner->cancel(job);
  EXPECT_EQ(completions, 0) << "never inside the call that cancelled it";
  settle();
  EXPECT_EQ(completions, 1);
  ASSERT_TRUE(outcome && outcome->error);
  EXPECT_EQ(outcome->error->code, "CANCELLED");
  EXPECT_EQ(images.waiting(), 0u) << "the supply was dropped";
  held_inspect(docker::ImageInfo{"sha256:img", {}});  // the image comes: nobody is told
  settle();
  EXPECT_EQ(engine.count("create"), 0u);
  EXPECT_EQ(completions, 1);
}

TEST_F(JobRunTest, CancelWhileCreatingRemovesTheContainerWithoutStartingIt) {
  startRun();
  runner->cancel(job);
  ASSERT_TRUE(engine.answer<std::string>("create", std::string("c1")));
  ASSERT_EQ(phase(), Phase::kInspecting);
  EXPECT_EQ(engine.count("attach"), 0u);
  finishWith(exited(0));
  EXPECT_EQ(outcome->error->code, "CANCELLED");
  EXPECT_EQ(engine.count("start"), 0u);
}

TEST_F(JobRunTest, CancelWhileAttachingNeverStartsTheContainer) {
  startRun();
  ASSERT_TRUE(engine.answer<std::string>("create", std::string("c1")));
  runner->cancel(job);
  engine.attach()->attached();
  ASSERT_EQ(phase(), Phase::kInspecting);
  finishWith(exited(0));
  EXPECT_EQ(engine.count("start"), 0u);
  EXPECT_EQ(outcome->error->code, "CANCELLED");
}

TEST_F(JobRunTest, CancelWhileStartingKillsTheContainerOnceItRuns) {
  startRun();
  ASSERT_TRUE(engine.answer<std::string>("create", std::string("c1")));
  engine.attach()->attached();
  runner->cancel(job);
  EXPECT_EQ(engine.count("kill"), 0u);
  ASSERT_TRUE(engine.answer<Unit>("start", Unit{}));
  EXPECT_EQ(engine.count("kill"), 1u);
  ASSERT_TRUE(engine.answer<int64_t>("wait", int64_t{137}));
  engine.attach()->end();
  finishWith(exited(137));
  EXPECT_EQ(outcome->error->code, "CANCELLED");
}

TEST_F(JobRunTest, CancelWhileRunningKillsAndEndsCancelledOnce) {
  runToRunning();
  runner->cancel(job);
  runner->cancel(job);  // a second request changes nothing
  EXPECT_EQ(engine.count("kill"), 1u);
  ASSERT_TRUE(engine.answer<int64_t>("wait", int64_t{137}));
  engine.attach()->end();
  finishWith(exited(137));
  EXPECT_EQ(completions, 1);
  EXPECT_EQ(outcome->error->code, "CANCELLED");
}

TEST_F(JobRunTest, CancelWhileEndingIsIgnored) {
  runToRunning();
  engine.attach()->end();
  ASSERT_TRUE(engine.answer<int64_t>("wait", int64_t{0}));
  ASSERT_EQ(phase(), Phase::kInspecting);
  runner->cancel(job);
  EXPECT_EQ(engine.count("kill"), 0u);
  finishWith(exited(0));
  EXPECT_EQ(outcome->exit_code, 0);
  EXPECT_FALSE(outcome->error);
}

TEST_F(JobRunTest, ACreateThatFindsNoEngineLeavesTheJobFreeToRunAgain) {
  startRun();
  ASSERT_TRUE(engine.fail("create", DockerError{0, "nothing listens", true}));
  settle();
  EXPECT_EQ(completions, 1);
  ASSERT_TRUE(outcome && outcome->error);
  EXPECT_EQ(outcome->error->code, "DOCKER_ERROR");
  EXPECT_TRUE(outcome->error->engine_unreached) << "the scheduler queues it again";
  EXPECT_EQ(engine.count("remove"), 0u) << "no container exists";
}

TEST_F(JobRunTest, ACreateTheEngineRefusesFailsTheJob) {
  startRun();
  ASSERT_TRUE(engine.fail("create", DockerError{500, "no space left on device"}));
  settle();
  ASSERT_TRUE(outcome && outcome->error);
  EXPECT_EQ(outcome->error->code, "DOCKER_ERROR");
  EXPECT_FALSE(outcome->error->engine_unreached);
  EXPECT_NE(outcome->error->message.find("no space left on device (HTTP 500)"), std::string::npos);
}

TEST_F(JobRunTest, AnImageGoneAtCreateIsSuppliedAgainOnce) {
  startRun();
  ASSERT_TRUE(engine.fail("create", DockerError{404, "No such image"}));
  settle();
  ASSERT_EQ(phase(), Phase::kCreating) << "supplied again, then created again";
  EXPECT_EQ(engine.count("create"), 2u);
  ASSERT_TRUE(engine.fail("create", DockerError{404, "No such image"}));
  settle();
  EXPECT_EQ(completions, 1) << "only once";
  EXPECT_EQ(outcome->error->code, "DOCKER_ERROR");
}

TEST_F(JobRunTest, AStartTheEngineRefusesFailsTheJobAndRemovesTheContainer) {
  startRun();
  ASSERT_TRUE(engine.answer<std::string>("create", std::string("c1")));
  engine.attach()->attached();
  ASSERT_TRUE(engine.fail("start", DockerError{500, "OCI runtime create failed"}));
  ASSERT_EQ(phase(), Phase::kInspecting);
  finishWith(exited(127));
  EXPECT_EQ(outcome->error->code, "DOCKER_ERROR");
  EXPECT_NE(outcome->error->message.find("starting the container failed"), std::string::npos);
}

TEST_F(JobRunTest, AFailedWaitFailsTheJob) {
  runToRunning();
  ASSERT_TRUE(engine.fail("wait", DockerError{0, "connection reset", false, true}));
  ASSERT_EQ(phase(), Phase::kInspecting);
  finishWith(exited(0));
  EXPECT_EQ(outcome->error->code, "DOCKER_ERROR");
  EXPECT_NE(outcome->error->message.find("waiting for the container failed"), std::string::npos);
}

TEST_F(JobRunTest, AnEngineGoneAtInspectSaysTheEngineEndedTheJob) {
  runToRunning();
  ASSERT_TRUE(engine.answer<int64_t>("wait", int64_t{137}));
  engine.attach()->end();
  ASSERT_TRUE(engine.fail("inspect", DockerError{0, "nothing listens", true}));
  ASSERT_TRUE(engine.fail("remove", DockerError{0, "nothing listens", true}));
  settle();
  EXPECT_EQ(completions, 1);
  EXPECT_EQ(outcome->error->code, "DOCKER_ERROR");
  EXPECT_NE(outcome->error->message.find("the Docker engine went away while the job ran"),
            std::string::npos);
  EXPECT_EQ(reaper.pending(), 1u) << "the removal is left to the reaper";
  advance(core::Millis(5000));
  ASSERT_TRUE(engine.answer<Unit>("remove", Unit{}));
  EXPECT_EQ(reaper.pending(), 0u);
}

TEST_F(JobRunTest, ALikelyOomKillIsAskedAboutOnceMore) {
  runToRunning();
  ASSERT_TRUE(engine.answer<int64_t>("wait", int64_t{137}));
  engine.attach()->end();
  ASSERT_TRUE(engine.answer<docker::ContainerState>("inspect", exited(137, false)));
  EXPECT_EQ(phase(), Phase::kInspecting);
  EXPECT_EQ(engine.count("inspect"), 1u);
  advance(core::Millis(250));
  EXPECT_EQ(engine.count("inspect"), 2u);
  finishWith(exited(137, true));
  EXPECT_TRUE(outcome->oom_killed);
  EXPECT_EQ(outcome->exit_code, 137);
}

TEST_F(JobRunTest, OnPodmanOutputTheAttachLostIsReadBackFromTheLog) {
  options.podman = true;
  runToRunning();
  EXPECT_EQ(engine.last("create")->spec.log_driver, "k8s-file");
  engine.attach()->output(StreamKind::kStdout, "ab");
  engine.attach()->output(
      StreamKind::kStderr,
      "Error: read unixpacket @->/run/libpod/socket/c1/attach: read: connection reset by peer\n");
  engine.attach()->end();
  ASSERT_TRUE(engine.answer<int64_t>("wait", int64_t{0}));
  ASSERT_EQ(phase(), Phase::kReadingLog);
  // The log holds the whole stdout: one frame of 4 bytes.
  std::string log(8, '\0');
  log[0] = 1;
  log[7] = 4;
  log += "abcd";
  ASSERT_TRUE(engine.answer<std::string>("logs", log));
  ASSERT_EQ(phase(), Phase::kInspecting);
  finishWith(exited(0));
  EXPECT_EQ(job.stdout_output.data, "abcd");
  EXPECT_EQ(job.stderr_output.data, "") << "Podman's own error is not the job's";
}

// Adoption after a restart: the journal kept part of the output; the log holds all of it.
class AdoptedRunTest : public JobRunTest {
 protected:
  void adopt(const std::string& journaled_stdout = "") {
    options.output_limit_bytes = 1024;
    job.state = JobState::kRunning;
    job.stdout_output.data = journaled_stdout;
    job.stdout_output.total_bytes = journaled_stdout.size();
    runner = std::make_unique<DockerJobRunner>(loop, engine, images, reaper, options);
    runner->adopt(job, "c9", [this](Job&, JobOutcome o) {
      ++completions;
      outcome = std::move(o);
    });
    settle();
  }
  static std::string frames(std::string_view out) {
    std::string log(8, '\0');
    log[0] = 1;
    log[7] = static_cast<char>(out.size());
    return log + std::string(out);
  }
  docker::ContainerState runningSince(int64_t unix_ms) {
    docker::ContainerState state;
    state.running = true;
    state.status = "running";
    state.started_at = core::formatRfc3339Millis(unix_ms);
    return state;
  }
};

TEST_F(AdoptedRunTest, ARunningContainerIsFollowedAndItsOutputCompletedFromTheLog) {
  adopt("line1\n");
  ASSERT_EQ(phase(), Phase::kAdopting);
  EXPECT_TRUE(engine.last("inspect")->fresh_connection);
  ASSERT_TRUE(engine.answer<docker::ContainerState>("inspect", runningSince(clock.wallMillis())));
  ASSERT_EQ(phase(), Phase::kFollowing);
  EXPECT_EQ(engine.count("attach"), 0u) << "its stdin was delivered long ago";
  EXPECT_EQ(engine.count("follow"), 1u);
  ASSERT_TRUE(engine.answer<int64_t>("wait", int64_t{0}));
  ASSERT_EQ(phase(), Phase::kReadingLog);
  ASSERT_TRUE(engine.answer<std::string>("logs", frames("line1\nline2\n")));
  finishWith(exited(0));
  EXPECT_EQ(job.stdout_output.data, "line1\nline2\n") << "nothing twice, nothing lost";
  EXPECT_FALSE(job.stdout_output.truncated);
  EXPECT_EQ(outcome->exit_code, 0);
  EXPECT_EQ(completions, 1);
}

// Live output again after a restart: the followed stream replays the log from the start;
// the part the journal held is dropped, the rest published as it comes.
TEST_F(AdoptedRunTest, TheFollowedStreamPublishesOnlyWhatIsNew) {
  adopt("line1\n");
  std::string published;
  runner->setOnOutput([&](const Job&, StreamKind, std::string_view data) { published += data; });
  ASSERT_TRUE(engine.answer<docker::ContainerState>("inspect", runningSince(clock.wallMillis())));
  ASSERT_EQ(engine.count("follow"), 1u);
  testing::FakeAttach* stream = engine.attach();
  ASSERT_NE(stream, nullptr);
  stream->output(StreamKind::kStdout, "line1\nli");
  stream->output(StreamKind::kStdout, "ne2\n");
  stream->output(StreamKind::kStderr, "warn\n");
  EXPECT_EQ(published, "line2\nwarn\n");
  EXPECT_EQ(job.stdout_output.data, "line1\nline2\n") << "seen before the job ends";
  const std::shared_ptr<bool> stream_freed = stream->destroyed_;
  ASSERT_TRUE(engine.answer<int64_t>("wait", int64_t{0}));
  EXPECT_TRUE(*stream_freed || stream->closed) << "the stream ends with the wait";
  ASSERT_TRUE(engine.answer<std::string>("logs", frames("line1\nline2\nline3\n")));
  finishWith(exited(0));
  EXPECT_EQ(job.stdout_output.data, "line1\nline2\nline3\n")
      << "the log adds what the stream missed";
  EXPECT_EQ(job.stderr_output.data, "warn\n");
  EXPECT_EQ(outcome->exit_code, 0);
}

TEST_F(AdoptedRunTest, AFollowedStreamThatDisagreesIsIgnoredAndTheLogDecides) {
  adopt("first part");
  ASSERT_TRUE(engine.answer<docker::ContainerState>("inspect", runningSince(clock.wallMillis())));
  testing::FakeAttach* stream = engine.attach();
  ASSERT_NE(stream, nullptr);
  stream->output(StreamKind::kStdout, "rotated tail");
  stream->output(StreamKind::kStdout, " and more");
  EXPECT_EQ(job.stdout_output.data, "first part") << "nothing placed at a guessed offset";
  ASSERT_TRUE(engine.answer<int64_t>("wait", int64_t{0}));
  ASSERT_TRUE(engine.answer<std::string>("logs", frames("rotated tail and more")));
  finishWith(exited(0));
  EXPECT_EQ(job.stdout_output.data, "first part");
  EXPECT_TRUE(job.stdout_output.truncated);
}

TEST_F(AdoptedRunTest, AFollowedStreamThatFailsLeavesTheWaitInCharge) {
  adopt();
  ASSERT_TRUE(engine.answer<docker::ContainerState>("inspect", runningSince(clock.wallMillis())));
  testing::FakeAttach* stream = engine.attach();
  ASSERT_NE(stream, nullptr);
  stream->end(DockerError{0, "connection reset"});
  EXPECT_EQ(phase(), Phase::kFollowing);
  ASSERT_TRUE(engine.answer<int64_t>("wait", int64_t{0}));
  ASSERT_TRUE(engine.answer<std::string>("logs", frames("all of it")));
  finishWith(exited(0));
  EXPECT_EQ(job.stdout_output.data, "all of it");
  EXPECT_EQ(completions, 1);
}

TEST_F(AdoptedRunTest, TheRuntimeLimitCountsFromTheContainersRealStart) {
  adopt();
  // Started 8 of its 10 seconds ago.
  ASSERT_TRUE(
      engine.answer<docker::ContainerState>("inspect", runningSince(clock.wallMillis() - 8000)));
  advance(core::Millis(1999));
  EXPECT_EQ(engine.count("kill"), 0u);
  advance(core::Millis(1));
  EXPECT_EQ(engine.count("kill"), 1u);
  ASSERT_TRUE(engine.answer<int64_t>("wait", int64_t{137}));
  ASSERT_TRUE(engine.answer<std::string>("logs", std::string()));
  finishWith(exited(137));
  EXPECT_EQ(outcome->error->code, "TIMEOUT");
}

TEST_F(AdoptedRunTest, AContainerThatEndedMeanwhileIsCollected) {
  adopt("a");
  docker::ContainerState state = exited(5);
  state.status = "exited";
  ASSERT_TRUE(engine.answer<docker::ContainerState>("inspect", state));
  ASSERT_EQ(phase(), Phase::kReadingLog);
  EXPECT_EQ(engine.count("wait"), 0u);
  ASSERT_TRUE(engine.answer<std::string>("logs", frames("abc")));
  finishWith(exited(5));
  EXPECT_EQ(job.stdout_output.data, "abc");
  EXPECT_EQ(outcome->exit_code, 5);
}

TEST_F(AdoptedRunTest, ALogThatNoLongerHoldsTheStartMarksTheOutputIncomplete) {
  adopt("first part");
  docker::ContainerState state = exited(0);
  state.status = "exited";
  ASSERT_TRUE(engine.answer<docker::ContainerState>("inspect", state));
  ASSERT_TRUE(engine.answer<std::string>("logs", frames("rotated tail")));
  finishWith(exited(0));
  EXPECT_EQ(job.stdout_output.data, "first part") << "nothing placed at a guessed offset";
  EXPECT_TRUE(job.stdout_output.truncated);
}

TEST_F(AdoptedRunTest, AContainerGoneMeanwhileEndsContainerLost) {
  adopt();
  ASSERT_TRUE(engine.fail("inspect", DockerError{404, "No such container: c9"}));
  settle();
  EXPECT_EQ(completions, 1);
  EXPECT_EQ(outcome->error->code, "CONTAINER_LOST");
  EXPECT_EQ(engine.count("remove"), 0u);
}

TEST_F(AdoptedRunTest, AContainerNeverStartedIsRemovedAndTheJobQueuedAgain) {
  adopt();
  docker::ContainerState state;
  state.status = "created";
  ASSERT_TRUE(engine.answer<docker::ContainerState>("inspect", state));
  ASSERT_EQ(phase(), Phase::kInspecting);
  finishWith(state);
  EXPECT_EQ(outcome->error->code, "WORKER_RESTARTED");
  EXPECT_TRUE(outcome->error->engine_unreached) << "the scheduler queues it again";
}

TEST_F(AdoptedRunTest, CancelWhileFollowingKills) {
  adopt();
  ASSERT_TRUE(engine.answer<docker::ContainerState>("inspect", runningSince(clock.wallMillis())));
  runner->cancel(job);
  EXPECT_EQ(engine.count("kill"), 1u);
  ASSERT_TRUE(engine.answer<int64_t>("wait", int64_t{137}));
  ASSERT_TRUE(engine.answer<std::string>("logs", std::string()));
  finishWith(exited(137));
  EXPECT_EQ(outcome->error->code, "CANCELLED");
}

TEST_F(JobRunTest, TheOutcomeIsToldBeforeTheRemovalAndTheContainerWhenCreated) {
  std::string created;
  std::optional<JobOutcome> told;
  startRun();
  runner->setOnContainerCreated([&](const Job&, const std::string& id) { created = id; });
  runner->setOnOutcome([&](const Job&, const JobOutcome& o) { told = o; });
  ASSERT_TRUE(engine.answer<std::string>("create", std::string("c1")));
  EXPECT_EQ(created, "c1");
  engine.attach()->attached();
  ASSERT_TRUE(engine.answer<Unit>("start", Unit{}));
  engine.attach()->end();
  ASSERT_TRUE(engine.answer<int64_t>("wait", int64_t{2}));
  ASSERT_TRUE(engine.answer<docker::ContainerState>("inspect", exited(2)));
  ASSERT_EQ(phase(), Phase::kRemoving);
  ASSERT_TRUE(told);
  EXPECT_EQ(told->exit_code, 2);
  EXPECT_EQ(completions, 0);
}

TEST_F(JobRunTest, DestroyingTheRunnerMidRunCancelsItsRequests) {
  runToRunning();
  runner.reset();
  EXPECT_EQ(engine.pending("wait"), 0u);
  EXPECT_TRUE(engine.last("wait")->cancelled);
  EXPECT_FALSE(engine.answer<int64_t>("wait", int64_t{0}));
  EXPECT_EQ(completions, 0);
}

// Answers for the usage and records what it was asked.
class FakeAccounting final : public JobAccounting {
 public:
  std::string cgroupParent(const Job&) override { return "/worker-agent/w1/job-x"; }
  std::optional<JobUsage> usage(const Job& job, const std::string& container_id) override {
    asked.push_back(container_id);
    told_before = told_before || job.usage.has_value();
    return JobUsage{2.5, uint64_t{40} << 20, 0, 0, 3, "cgroup"};
  }
  void release(const Job&) override { ++released; }

  std::vector<std::string> asked;
  bool told_before = false;
  int released = 0;
};

TEST_F(JobRunTest, TheUsageIsReadAfterTheExitAndBeforeTheOutcomeIsTold) {
  FakeAccounting fake;
  accounting = &fake;
  std::optional<JobUsage> usage_when_told;
  runToRunning();
  runner->setOnOutcome([&](const Job& j, const JobOutcome&) { usage_when_told = j.usage; });
  EXPECT_EQ(engine.last("create")->spec.cgroup_parent, "/worker-agent/w1/job-x");
  const std::vector<metrics::JobContainer> listed = runner->containers();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].id, "c1");
  EXPECT_EQ(listed[0].cgroup_parent, "/worker-agent/w1/job-x") << "where the sampler looks";
  engine.attach()->end();
  ASSERT_TRUE(engine.answer<int64_t>("wait", int64_t{0}));
  EXPECT_TRUE(fake.asked.empty()) << "not before the inspect";
  ASSERT_TRUE(engine.answer<docker::ContainerState>("inspect", exited(0)));
  ASSERT_EQ(phase(), Phase::kRemoving);
  EXPECT_EQ(fake.asked, (std::vector<std::string>{"c1"}));
  ASSERT_TRUE(job.usage);
  EXPECT_DOUBLE_EQ(*job.usage->cpu_seconds, 2.5);
  ASSERT_TRUE(usage_when_told) << "the journal keeps the record with its usage";
  EXPECT_EQ(fake.released, 0) << "the cgroup stays while the container does";
  ASSERT_TRUE(engine.answer<Unit>("remove", Unit{}));
  settle();
  EXPECT_EQ(fake.released, 1);
  EXPECT_EQ(completions, 1);
}

TEST_F(JobRunTest, OutputsAreCollectedBeforeTheUsageIsRead) {
  FakeAccounting fake;
  accounting = &fake;
  job.spec.outputs = {"out/a.txt"};
  runToRunning();
  engine.attach()->end();
  ASSERT_TRUE(engine.answer<int64_t>("wait", int64_t{0}));
  ASSERT_TRUE(engine.answer<docker::ContainerState>("inspect", exited(0)));
  ASSERT_EQ(phase(), Phase::kCollecting);
  EXPECT_TRUE(fake.asked.empty());
  ASSERT_TRUE(engine.fail("get_archive", DockerError{404, "no such path"}));
  ASSERT_EQ(phase(), Phase::kRemoving);
  EXPECT_EQ(fake.asked.size(), 1u);
}

TEST_F(JobRunTest, AContainerThatNeverRanHasNoUsage) {
  FakeAccounting fake;
  accounting = &fake;
  startRun();
  runner->cancel(job);
  ASSERT_TRUE(engine.answer<std::string>("create", std::string("c1")));
  finishWith(exited(0));
  EXPECT_TRUE(fake.asked.empty());
  EXPECT_FALSE(job.usage);
  EXPECT_EQ(fake.released, 1) << "whatever the engine made for it goes";
  EXPECT_EQ(outcome->error->code, "CANCELLED");
}

TEST_F(JobRunTest, AFailedRemovalStillReleasesTheCgroupOfAStoppedContainer) {
  FakeAccounting fake;
  accounting = &fake;
  runToRunning();
  engine.attach()->end();
  ASSERT_TRUE(engine.answer<int64_t>("wait", int64_t{1}));
  ASSERT_TRUE(engine.answer<docker::ContainerState>("inspect", exited(1)));
  ASSERT_TRUE(engine.fail("remove", DockerError{500, "busy"}));
  settle();
  EXPECT_EQ(fake.released, 1);
  EXPECT_EQ(reaper.pending(), 1u);
  ASSERT_TRUE(job.usage);
}

// A volume workspace (runtime.files or runtime.outputs) is the keeper's tmpfs volume.
TEST_F(JobRunTest, AVolumeWorkspaceIsASizeLimitedTmpfsHeldByAKeeper) {
  options.isolation.workspace_size_mb = 16;
  job.spec.outputs = {"out.txt"};
  startRun();
  ASSERT_EQ(phase(), Phase::kCreatingKeeper) << "the keeper before the job's container";
  const docker::ContainerSpec& keeper = engine.last("create")->spec;
  EXPECT_EQ(keeper.labels.at(kWorkerLabel), "w1");
  EXPECT_EQ(keeper.labels.at(kKeeperLabel), "j1");
  EXPECT_FALSE(keeper.labels.contains(kJobLabel)) << "a job's label names its one container";
  EXPECT_EQ(keeper.anonymous_volumes, std::vector<std::string>{"/workspace"});
  EXPECT_EQ(keeper.anonymous_volume_options.at("type"), "tmpfs");
  EXPECT_EQ(keeper.anonymous_volume_options.at("device"), "tmpfs");
  EXPECT_EQ(keeper.anonymous_volume_options.at("o"),
            "nosuid,nodev,exec,size=16m,uid=65534,gid=65534");
  EXPECT_EQ(keeper.network_mode, "none");
  EXPECT_TRUE(keeper.cap_drop_all);
  EXPECT_TRUE(keeper.read_only_rootfs);
  EXPECT_TRUE(keeper.image.starts_with("worker-agent-build:")) << keeper.image;
  keeperUp();
  ASSERT_EQ(phase(), Phase::kCreating);
  const docker::ContainerSpec& spec = engine.last("create")->spec;
  EXPECT_EQ(spec.volumes_from, std::vector<std::string>{"k1"});
  EXPECT_TRUE(spec.anonymous_volumes.empty());
  EXPECT_FALSE(spec.tmpfs.contains("/workspace"));
  EXPECT_EQ(spec.labels.at(kJobLabel), "j1");
  EXPECT_EQ(job.keeper_id, "k1");
}

TEST_F(JobRunTest, AWorkspaceWithoutFilesOrOutputsIsTheJobsOwnTmpfsAndHasNoKeeper) {
  options.isolation.workspace_size_mb = 16;
  startRun();
  ASSERT_EQ(phase(), Phase::kCreating);
  const docker::ContainerSpec& spec = engine.last("create")->spec;
  EXPECT_EQ(spec.tmpfs.at("/workspace"), "rw,nosuid,nodev,exec,size=16m,uid=65534,gid=65534");
  EXPECT_TRUE(spec.volumes_from.empty());
}

TEST_F(JobRunTest, TheKeepersImageIsBuiltFromScratchWithTheEmbeddedProgram) {
  const BuildSpec build = keeperImageBuild();
  EXPECT_NE(build.dockerfile.find("FROM scratch\n"), std::string::npos);
  EXPECT_NE(build.dockerfile.find("ENTRYPOINT [\"/pause\"]"), std::string::npos);
  ASSERT_EQ(build.context.size(), 1u);
  EXPECT_EQ(build.context[0].path, "pause");
  EXPECT_EQ(build.context[0].mode, 0755u);
  EXPECT_TRUE(
      build.context[0].content.starts_with("\x7f"
                                           "ELF"))
      << "an executable";
  EXPECT_LT(build.context[0].content.size(), 64u * 1024) << "no libc in it";
  EXPECT_EQ(ImageSupplier::buildTag(ImageSupplier::buildContext(build)),
            ImageSupplier::buildTag(ImageSupplier::buildContext(keeperImageBuild())))
      << "one image for every job, found again by its tag";
}

TEST_F(JobRunTest, AKeeperTheEngineRefusesFailsTheJobAndNothingIsLeft) {
  job.spec.files = {JobFile{"in.txt", "x", 0644}};
  startRun();
  ASSERT_TRUE(engine.fail("create", DockerError{500, "no space left on device"}));
  settle();
  EXPECT_EQ(completions, 1);
  ASSERT_TRUE(outcome && outcome->error);
  EXPECT_EQ(outcome->error->code, "DOCKER_ERROR");
  EXPECT_NE(outcome->error->message.find("workspace keeper"), std::string::npos);
  EXPECT_EQ(engine.count("create"), 1u) << "no job container without its workspace";
  EXPECT_EQ(engine.count("remove"), 0u);
}

// A keeper the engine cannot start goes to the reaper and another is made, once; the job
// runs with the second.
TEST_F(JobRunTest, AKeeperThatDoesNotStartIsReplacedOnce) {
  job.spec.files = {JobFile{"in.txt", "x", 0644}};
  startRun();
  ASSERT_TRUE(engine.answer<std::string>("create", std::string("k0")));
  ASSERT_TRUE(engine.fail("start", DockerError{500, "cannot start a stopped process: unknown"}));
  settle();
  EXPECT_EQ(reaper.pending(), 1u) << "the first keeper, and its volume, to the reaper";
  keeperUp();
  ASSERT_EQ(phase(), Phase::kCreating);
  ASSERT_TRUE(engine.answer<std::string>("create", std::string("c1")));
  EXPECT_EQ(engine.last("create")->spec.volumes_from, std::vector<std::string>{"k1"});
  EXPECT_EQ(completions, 0);
}

// A second keeper that does not start either: the job fails, and that keeper is removed.
TEST_F(JobRunTest, AKeeperThatDoesNotStartTwiceFailsTheJob) {
  job.spec.files = {JobFile{"in.txt", "x", 0644}};
  startRun();
  ASSERT_TRUE(engine.answer<std::string>("create", std::string("k0")));
  ASSERT_TRUE(engine.fail("start", DockerError{500, "OCI runtime create failed"}));
  settle();
  ASSERT_TRUE(engine.answer<std::string>("create", std::string("k1")));
  ASSERT_TRUE(engine.fail("start", DockerError{500, "OCI runtime create failed"}));
  keeperRemoved();
  EXPECT_EQ(completions, 1);
  EXPECT_NE(outcome->error->message.find("starting the workspace keeper"), std::string::npos);
  EXPECT_EQ(engine.count("create"), 2u) << "two keepers, no job container";
}

TEST_F(JobRunTest, CancelWhileTheKeeperStartsRemovesItAndCreatesNoJobContainer) {
  job.spec.files = {JobFile{"in.txt", "x", 0644}};
  startRun();
  ASSERT_TRUE(engine.answer<std::string>("create", std::string("k1")));
  runner->cancel(job);
  ASSERT_EQ(phase(), Phase::kStartingKeeper) << "the start's answer sees the cancel";
  ASSERT_TRUE(engine.answer<Unit>("start", Unit{}));
  keeperRemoved();
  EXPECT_EQ(outcome->error->code, "CANCELLED");
  EXPECT_EQ(engine.count("create"), 1u);
}

TEST_F(JobRunTest, CancelWhileTheKeepersImageIsSuppliedEndsWithNothingMade) {
  job.spec.files = {JobFile{"in.txt", "x", 0644}};
  hold_inspect = true;  // the job's image comes at once (known); the keeper's waits
  startRun();
  if (phase() == Phase::kSupplying) {
    ASSERT_TRUE(held_inspect);
    std::exchange(held_inspect, nullptr)(docker::ImageInfo{"sha256:img", {}});
    settle();
  }
  ASSERT_EQ(phase(), Phase::kSupplyingKeeper);
  runner->cancel(job);
  settle();
  EXPECT_EQ(completions, 1);
  EXPECT_EQ(outcome->error->code, "CANCELLED");
  EXPECT_EQ(engine.count("create"), 0u);
}

TEST_F(JobRunTest, AnImageGoneAtCreateKeepsTheKeeperItHas) {
  job.spec.files = {JobFile{"in.txt", "x", 0644}};
  startRun();
  keeperUp();
  ASSERT_TRUE(engine.fail("create", DockerError{404, "No such image"}));
  settle();
  ASSERT_EQ(phase(), Phase::kCreating) << "the job's image supplied again, no second keeper";
  EXPECT_EQ(engine.count("create"), 3u);
  EXPECT_EQ(engine.last("create")->spec.volumes_from, std::vector<std::string>{"k1"});
}

TEST_F(JobRunTest, AKeeperWhoseRemovalFailsIsLeftToTheReaper) {
  job.spec.outputs = {"out.txt"};
  runToRunning();
  engine.attach()->end();
  ASSERT_TRUE(engine.answer<int64_t>("wait", int64_t{0}));
  ASSERT_TRUE(engine.answer<docker::ContainerState>("inspect", exited(0)));
  ASSERT_TRUE(engine.fail("get_archive", DockerError{404, "no such path"}));
  ASSERT_TRUE(engine.answer<Unit>("remove", Unit{}));
  ASSERT_EQ(phase(), Phase::kRemovingKeeper);
  ASSERT_TRUE(engine.fail("remove", DockerError{500, "busy"}));
  settle();
  EXPECT_EQ(completions, 1);
  EXPECT_EQ(reaper.pending(), 1u);
  EXPECT_FALSE(outcome->error) << "the job itself went well";
}

TEST_F(AdoptedRunTest, AnAdoptedJobRemovesTheKeeperTheRecoveryFoundForIt) {
  job.spec.outputs = {"out.txt"};
  job.keeper_id = "k1";
  adopt();
  ASSERT_TRUE(engine.answer<docker::ContainerState>("inspect", exited(0)));
  ASSERT_TRUE(engine.answer<std::string>("logs", std::string()));
  ASSERT_TRUE(engine.answer<docker::ContainerState>("inspect", exited(0)));
  ASSERT_EQ(phase(), Phase::kCollecting) << "the outputs, still on the keeper's volume";
  ASSERT_TRUE(engine.fail("get_archive", DockerError{404, "no such path"}));
  ASSERT_TRUE(engine.answer<Unit>("remove", Unit{}));
  keeperRemoved();
  EXPECT_EQ(completions, 1);
  EXPECT_EQ(engine.count("create"), 0u) << "nothing made again";
}

}  // namespace
}  // namespace wa::jobs
