// The job journal on a temporary file: what is written comes back after a reopen, in
// order; unusable journals are moved aside; a second opener is refused; the codec keeps
// every field.
#include "jobs/job_journal.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "jobs/counting_vfs.h"
#include "jobs/fake_runner.h"
#include "jobs/job_codec.h"
#include "jobs/scheduler.h"

namespace wa::jobs {
namespace {

std::string tempDir() {
  char dir[] = "/tmp/wa-journal-XXXXXX";
  if (::mkdtemp(dir) == nullptr) std::abort();
  return dir;
}

std::unique_ptr<Job> makeJob(const std::string& id, uint64_t sequence) {
  auto job = std::make_unique<Job>();
  job->spec.job_id = id;
  job->spec.task_type = "t";
  job->spec.image = "busybox:1";
  job->spec.cmd = {"sh", "-c", "echo hi"};
  job->spec.env = {{"A", "1"}, {"B", "two"}};
  job->spec.limits = JobLimits{64, 10, 500'000'000};
  job->spec.files = {JobFile{"src/a.c",
                             std::string("\0\x01"
                                         "bin",
                                         5),
                             0755}};
  job->spec.outputs = {"out/r.txt"};
  job->spec.job_json = R"({"job_id":")" + id + R"("})";
  job->sequence = sequence;
  job->created_at_ms = 1'700'000'000'000 + static_cast<int64_t>(sequence);
  return job;
}

class JobJournalTest : public ::testing::Test {
 protected:
  ~JobJournalTest() override { std::system(("rm -rf " + dir_).c_str()); }

  JournalOpening open(bool sync_full = false) {
    return JobJournal::open(loop_, JournalOptions{path_, sync_full});
  }
  // Runs the loop until the journal's completions have come back.
  void settle(JobJournal& journal) {
    for (int i = 0; i < 200 && (journal.backlog() > 0 || pending_ > 0); ++i) loop_.runOnce(10);
    loop_.runOnce(10);
  }

  core::SystemClock clock_;
  core::EventLoop loop_{clock_};
  const std::string dir_ = tempDir();
  const std::string path_ = dir_ + "/journal.sqlite";
  int pending_ = 0;
};

TEST(JobCodec, SpecAndRecordComeBackWhole) {
  auto job = makeJob("j1", 1);
  job->spec.build = BuildSpec{"FROM x\n", {JobFile{"ctx/f", "data", 0644}}};
  JobSpec back;
  std::string error;
  ASSERT_TRUE(decodeSpec(encodeSpec(job->spec), &back, &error)) << error;
  EXPECT_EQ(back.job_id, "j1");
  EXPECT_EQ(back.cmd, job->spec.cmd);
  EXPECT_EQ(back.env, job->spec.env);
  EXPECT_EQ(back.limits.nano_cpus, 500'000'000);
  ASSERT_EQ(back.files.size(), 1u);
  EXPECT_EQ(back.files[0].content, std::string("\0\x01"
                                               "bin",
                                               5));
  EXPECT_EQ(back.files[0].mode, 0755u);
  ASSERT_TRUE(back.build);
  EXPECT_EQ(back.build->context[0].path, "ctx/f");
  EXPECT_EQ(back.outputs, job->spec.outputs);

  job->state = JobState::kFailed;
  job->started_at_ms = 5;
  job->finished_at_ms = 9;
  job->exit_code = 3;
  job->error = JobError{"NON_ZERO_EXIT", "exit 3"};
  job->stdout_output.truncated = true;
  job->stdout_output.total_bytes = 99;
  job->output_files = {OutputFile{"out/r.txt", "r", false, true, 1}};
  job->run_settings.user = "1:2";
  job->engine_requeues = 2;
  Job record;
  ASSERT_TRUE(decodeRecord(encodeRecord(*job), &record, &error)) << error;
  EXPECT_EQ(record.state, JobState::kFailed);
  EXPECT_EQ(record.exit_code, 3);
  EXPECT_EQ(record.error->message, "exit 3");
  EXPECT_TRUE(record.stdout_output.truncated);
  EXPECT_EQ(record.stdout_output.total_bytes, 99u);
  EXPECT_EQ(record.output_files[0].data, "r");
  EXPECT_EQ(record.run_settings.user, "1:2");
  EXPECT_EQ(record.engine_requeues, 2u);
  EXPECT_FALSE(decodeRecord("{}", &record, &error));
  EXPECT_FALSE(decodeSpec("[1]", &back, &error));
}

TEST_F(JobJournalTest, WhatIsWrittenComesBackInOrder) {
  {
    JournalOpening opening = open();
    ASSERT_TRUE(opening.journal) << opening.problem;
    EXPECT_TRUE(opening.jobs.empty());
    JobJournal& journal = *opening.journal;
    auto ended = makeJob("ended", 1);
    auto running = makeJob("running", 2);
    auto queued = makeJob("queued", 3);
    auto dropped = makeJob("dropped", 4);
    for (Job* job : {ended.get(), running.get(), queued.get(), dropped.get()}) {
      ++pending_;
      journal.accepted(*job, [this](const std::optional<std::string>& error) {
        EXPECT_FALSE(error) << *error;
        --pending_;
      });
    }
    ended->started_at_ms = 10;
    journal.containerCreated(*ended, "c0");
    ended->state = JobState::kFinished;
    ended->finished_at_ms = 20;
    ended->exit_code = 0;
    ended->stdout_output.data = "out";
    ended->stderr_output.data = std::string("e\0rr", 4);
    journal.ended(*ended);
    running->started_at_ms = 11;
    journal.containerCreated(*running, "c1");
    journal.output(*running, docker::StreamKind::kStdout, "ab");
    journal.output(*running, docker::StreamKind::kStdout, "cd");
    journal.output(*running, docker::StreamKind::kStderr, "x");
    journal.dropped(*dropped);
    settle(journal);
    EXPECT_EQ(pending_, 0);
    EXPECT_GT(journal.commits(), 0u);
  }
  JournalOpening reopened = open();
  ASSERT_TRUE(reopened.journal) << reopened.problem;
  EXPECT_TRUE(reopened.moved_aside.empty());
  ASSERT_EQ(reopened.jobs.size(), 3u);
  const Job& ended = *reopened.jobs[0].job;
  EXPECT_EQ(ended.spec.job_id, "ended");
  EXPECT_EQ(ended.state, JobState::kFinished);
  EXPECT_EQ(ended.stdout_output.data, "out");
  EXPECT_EQ(ended.stderr_output.data, std::string("e\0rr", 4));
  EXPECT_EQ(ended.finished_at_ms, 20);
  EXPECT_EQ(ended.spec.job_json, R"({"job_id":"ended"})") << "the request bytes as received";
  const JournaledJob& running = reopened.jobs[1];
  EXPECT_EQ(running.job->state, JobState::kRunning);
  EXPECT_EQ(running.container_id, "c1");
  EXPECT_EQ(running.job->started_at_ms, 11);
  EXPECT_EQ(running.job->stdout_output.data, "abcd");
  EXPECT_EQ(running.job->stderr_output.data, "x");
  EXPECT_EQ(reopened.jobs[2].job->state, JobState::kQueued);
  EXPECT_EQ(reopened.jobs[2].job->sequence, 3u);
}

off_t fileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

// journal_sync: normal. The first commit writes the WAL's header, which SQLite syncs: the
// writer thread's. Once the WAL has it, a turn's writes are committed on the loop at the end
// of the turn, and its submissions are told in that turn, without the writer's round trip.
// The journal holds its locks from one commit to the next: the loop's commit takes none.
TEST_F(JobJournalTest, OnceTheWalHasItsHeaderTheLoopCommitsItself) {
  {
    std::optional<CountingVfs> vfs(std::in_place);
    JournalOpening opening = open();
    ASSERT_TRUE(opening.journal) << opening.problem;
    JobJournal& journal = *opening.journal;
    auto first = makeJob("first", 1);
    auto second = makeJob("second", 2);
    std::vector<std::string> told;
    const auto tell = [&told](const char* id) {
      return [&told, id](const std::optional<std::string>& error) {
        EXPECT_FALSE(error) << *error;
        told.emplace_back(id);
      };
    };
    journal.accepted(*first, tell("first"));
    loop_.runOnce(0);
    EXPECT_EQ(journal.commitsOnLoop(), 0u) << "the WAL's header is the writer's";
    for (int i = 0; i < 200 && told.empty(); ++i) loop_.runOnce(10);
    ASSERT_EQ(told, std::vector<std::string>{"first"});
    vfs->locks.on_loop = 0;
    journal.accepted(*second, tell("second"));
    second->started_at_ms = 5;
    journal.containerCreated(*second, "c2");
    journal.output(*second, docker::StreamKind::kStdout, "out");
    loop_.runOnce(0);  // the turn's end: one commit, on the loop
    EXPECT_EQ(told, (std::vector<std::string>{"first", "second"})) << "told in the same turn";
    EXPECT_EQ(journal.commitsOnLoop(), 1u);
    EXPECT_EQ(journal.commits(), 2u);
    EXPECT_EQ(journal.backlog(), 0u);
    EXPECT_EQ(vfs->locks.on_loop.load(), 0) << "the loop's commit took locks";
    EXPECT_GT(vfs->locks.elsewhere.load(), 0) << "the writer's first commit took them";
  }
  JournalOpening reopened = open();
  ASSERT_TRUE(reopened.journal) << reopened.problem;
  ASSERT_EQ(reopened.jobs.size(), 2u);
  EXPECT_EQ(reopened.jobs[1].container_id, "c2");
  EXPECT_EQ(reopened.jobs[1].job->stdout_output.data, "out");
}

// The checkpoint sequence number in a WAL file's header (big-endian, at byte 12), which
// SQLite adds one to each time it starts the WAL again; 0 when there is none.
uint32_t walCheckpointSequence(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char header[16] = {};
  if (!in.read(reinterpret_cast<char*>(header), sizeof header)) return 0;
  return uint32_t{header[12]} << 24 | uint32_t{header[13]} << 16 | uint32_t{header[14]} << 8 |
         header[15];
}

// Under a steady load the WAL passes the bound of the forced checkpoint again and again.
// Each one copies beside the loop's commits (copyAhead) and holds the database only for
// the rest; the loop keeps committing itself and never syncs (the WAL is never started
// again by one of its commits). Everything comes back after a reopen. (That the loop never
// syncs is checked here under load; the window the pin closes, a commit of the loop just
// after a pass that copied everything, is too narrow for a test to hit at will.)
TEST_F(JobJournalTest, ForcedCheckpointsUnderLoadNeverSyncOnTheLoop) {
  // Turns until the WAL has been started again twice under the load, and 100 more; each
  // turn writes 64 KiB and more (16 pages), so the bound of 16,384 frames (64 MiB) is
  // first passed after about 1,000 turns. A loop this fast outruns the copying, whose
  // passes then go on until the WAL holds 65,536 frames: a restart every 4,000 turns or so.
  constexpr int kMaxJobs = 16000;
  const std::string chunk(size_t{64} * 1024, 'x');  // 16 pages of WAL a turn, and more
  std::optional<CountingVfs> vfs(std::in_place);
  std::vector<std::unique_ptr<Job>> jobs;
  {
    JournalOpening opening = open();
    ASSERT_TRUE(opening.journal) << opening.problem;
    JobJournal& journal = *opening.journal;
    vfs->syncs.on_loop = 0;  // opening is the loop's, before it serves
    uint32_t restarts = 0;   // seen the WAL started again: checkpoints made under the load
    uint32_t sequence = walCheckpointSequence(path_ + "-wal");
    int refused = 0;
    int jobs_after = 100;  // turns left once the WAL was started again twice
    for (int i = 0; i < kMaxJobs && jobs_after > 0; ++i) {
      jobs_after -= restarts >= 2 ? 1 : 0;
      jobs.push_back(makeJob("j" + std::to_string(i), static_cast<uint64_t>(i) + 1));
      Job& job = *jobs.back();
      ++pending_;
      journal.accepted(job, [this, &refused](const std::optional<std::string>& error) {
        refused += error ? 1 : 0;
        --pending_;
      });
      job.started_at_ms = 1;
      journal.containerCreated(job, "c" + std::to_string(i));
      journal.output(job, docker::StreamKind::kStdout, chunk);
      if (i > 0) {  // the one before ends: its output rows go
        Job& before = *jobs[static_cast<size_t>(i) - 1];
        before.state = JobState::kFinished;
        before.exit_code = 0;
        before.stdout_output.data = "done";
        journal.ended(before);
      }
      loop_.runOnce(0);
      // A load the journal keeps up with: the next turn once this one is committed (when
      // the writer had it, the loop would hand it every turn that comes faster).
      for (int k = 0; k < 5000 && journal.backlog() > 0; ++k) loop_.runOnce(1);
      const uint32_t now = walCheckpointSequence(path_ + "-wal");
      restarts += now != sequence ? 1 : 0;
      sequence = now;
    }
    settle(journal);
    EXPECT_EQ(pending_, 0);
    EXPECT_EQ(refused, 0);
    EXPECT_EQ(vfs->syncs.on_loop.load(), 0) << "a sync on the loop";
    EXPECT_GT(vfs->syncs.elsewhere.load(), 0) << "no checkpoint was made";
    EXPECT_GT(journal.framesCopiedAhead(), 0u) << "no checkpoint copied beside the loop";
    EXPECT_GE(restarts, 2u);
    // The loop committed turns itself (most, here; few in a ThreadSanitizer build, whose
    // writer is slow enough to be found busy by most turns).
    EXPECT_GT(journal.commitsOnLoop(), 0u) << jobs.size() << " turns";
  }
  vfs.reset();
  JournalOpening reopened = open();
  ASSERT_TRUE(reopened.journal) << reopened.problem;
  ASSERT_EQ(reopened.jobs.size(), jobs.size());
  EXPECT_EQ(reopened.jobs[jobs.size() - 2].job->stdout_output.data, "done");
  const std::string& last = reopened.jobs.back().job->stdout_output.data;
  EXPECT_TRUE(last == chunk) << last.size() << " bytes";
}

// journal_sync: full fsyncs every commit: none runs on the loop.
TEST_F(JobJournalTest, WithJournalSyncFullEveryCommitIsTheWriters) {
  JournalOpening opening = open(true);
  ASSERT_TRUE(opening.journal) << opening.problem;
  JobJournal& journal = *opening.journal;
  std::vector<std::unique_ptr<Job>> jobs;
  for (int i = 0; i < 5; ++i) {
    jobs.push_back(makeJob("j" + std::to_string(i), static_cast<uint64_t>(i) + 1));
    ++pending_;
    journal.accepted(*jobs.back(), [this](const std::optional<std::string>&) { --pending_; });
    settle(journal);
  }
  EXPECT_EQ(pending_, 0);
  EXPECT_GE(journal.commits(), 5u);
  EXPECT_EQ(journal.commitsOnLoop(), 0u);
}

// A commit on the loop that fails (the file may not grow: a full disk, as the process's
// file size limit makes it here) refuses its submission at once and says why; the other
// writes of the turn go to the writer thread, which commits them once the file may grow
// again, and the journal says so.
TEST_F(JobJournalTest, AFailedCommitOnTheLoopRefusesItsSubmissionAndTheWriterRetriesTheRest) {
  JournalOpening opening = open();
  ASSERT_TRUE(opening.journal) << opening.problem;
  JobJournal& journal = *opening.journal;
  auto running = makeJob("running", 1);
  auto refused = makeJob("refused", 2);
  journal.accepted(*running, [this](const std::optional<std::string>&) { --pending_; });
  ++pending_;
  settle(journal);
  ASSERT_EQ(pending_, 0);
  struct rlimit unlimited {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &unlimited), 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit full = unlimited;
  full.rlim_cur = static_cast<rlim_t>(fileSize(path_ + "-wal"));
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &full), 0);
  std::optional<std::optional<std::string>> told;
  running->started_at_ms = 7;
  journal.containerCreated(*running, "c1");
  journal.output(*running, docker::StreamKind::kStdout, std::string(100'000, 'x'));
  journal.accepted(*refused, [&told](const std::optional<std::string>& error) { told = error; });
  loop_.runOnce(0);
  ::setrlimit(RLIMIT_FSIZE, &unlimited);
  std::signal(SIGXFSZ, old_handler);
  ASSERT_TRUE(told) << "told in the same turn";
  ASSERT_TRUE(*told) << "refused";
  EXPECT_EQ(journal.commitsOnLoop(), 0u);
  EXPECT_FALSE(journal.problem().empty());
  for (int i = 0; i < 300 && !journal.problem().empty(); ++i) loop_.runOnce(10);
  EXPECT_EQ(journal.problem(), "") << "the writer's retry went through";
  opening.journal.reset();
  JournalOpening reopened = open();
  ASSERT_TRUE(reopened.journal) << reopened.problem;
  ASSERT_EQ(reopened.jobs.size(), 1u) << "the refused submission is not there";
  EXPECT_EQ(reopened.jobs[0].container_id, "c1");
  EXPECT_EQ(reopened.jobs[0].job->stdout_output.data, std::string(100'000, 'x'));
}

// Retention drops most of a journal's records: the writer gives the space back while it
// is idle, step by step, without new writes to prompt it; the records kept stay whole.
TEST_F(JobJournalTest, SpaceThatRetentionFreesGoesBackToTheFileSystem) {
  constexpr int kJobs = 300;
  const std::string output(20'000, 'o');
  JournalOpening opening = open();
  ASSERT_TRUE(opening.journal) << opening.problem;
  JobJournal& journal = *opening.journal;
  std::vector<std::unique_ptr<Job>> jobs;
  for (int i = 0; i < kJobs; ++i) {
    jobs.push_back(makeJob("j" + std::to_string(i), static_cast<uint64_t>(i) + 1));
    Job& job = *jobs.back();
    journal.accepted(job, [](const std::optional<std::string>&) {});
    job.state = JobState::kFinished;
    job.exit_code = 0;
    job.stdout_output.data = output;
    journal.ended(job);
  }
  settle(journal);
  // Everything checkpointed into the file: the size of kJobs records.
  auto wal = [this] { return fileSize(path_ + "-wal"); };
  for (int i = 0; i < 300 && wal() > 0; ++i) loop_.runOnce(10);
  const off_t full = fileSize(path_);
  ASSERT_GT(full, kJobs * 20'000) << "wal " << wal();
  for (int i = 10; i < kJobs; ++i) journal.dropped(*jobs[i]);
  settle(journal);
  for (int i = 0; i < 500 && fileSize(path_) > full / 4; ++i) loop_.runOnce(10);
  EXPECT_LT(fileSize(path_), full / 4) << "from " << full;
  opening.journal.reset();
  JournalOpening reopened = open();
  ASSERT_TRUE(reopened.journal) << reopened.problem;
  ASSERT_EQ(reopened.jobs.size(), 10u);
  EXPECT_EQ(reopened.jobs[9].job->stdout_output.data, output);
}

// A journal written before auto_vacuum was set in time cannot give space back: it is
// rebuilt once, at the next start, with everything in it.
TEST_F(JobJournalTest, AJournalWithoutAutoVacuumIsRebuiltWithIt) {
  auto autoVacuum = [this] {
    sqlite3* db = nullptr;
    int mode = -1;
    if (sqlite3_open(path_.c_str(), &db) == SQLITE_OK) {
      sqlite3_exec(
          db, "PRAGMA auto_vacuum",
          [](void* out, int, char** values, char**) {
            *static_cast<int*>(out) = std::atoi(values[0]);
            return 0;
          },
          &mode, nullptr);
    }
    sqlite3_close(db);
    return mode;
  };
  {
    JournalOpening opening = open();
    ASSERT_TRUE(opening.journal) << opening.problem;
    auto job = makeJob("kept", 1);
    opening.journal->accepted(*job, [](const std::optional<std::string>&) {});
    settle(*opening.journal);
  }
  EXPECT_EQ(autoVacuum(), 2) << "a new journal has it";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA auto_vacuum = NONE; VACUUM;", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  ASSERT_EQ(autoVacuum(), 0);
  {
    JournalOpening opening = open();
    ASSERT_TRUE(opening.journal) << opening.problem;
    EXPECT_TRUE(opening.moved_aside.empty());
    ASSERT_EQ(opening.jobs.size(), 1u);
    EXPECT_EQ(opening.jobs[0].job->spec.job_id, "kept");
  }
  EXPECT_EQ(autoVacuum(), 2);
}

TEST_F(JobJournalTest, AnOutcomeKnownBeforeTheRemovalComesBackWithIt) {
  {
    JournalOpening opening = open();
    auto job = makeJob("j", 1);
    opening.journal->accepted(*job, [](const std::optional<std::string>&) {});
    job->started_at_ms = 3;
    opening.journal->containerCreated(*job, "c1");
    job->stdout_output.data = "all of it";
    opening.journal->outcomeKnown(*job, JobOutcome{7, true, std::nullopt});
    settle(*opening.journal);
  }
  JournalOpening reopened = open();
  ASSERT_EQ(reopened.jobs.size(), 1u);
  EXPECT_TRUE(reopened.jobs[0].outcome_known);
  EXPECT_EQ(reopened.jobs[0].job->state, JobState::kRunning);
  EXPECT_EQ(reopened.jobs[0].job->exit_code, 7);
  EXPECT_TRUE(reopened.jobs[0].job->oom_killed);
  EXPECT_EQ(reopened.jobs[0].job->stdout_output.data, "all of it");
}

TEST_F(JobJournalTest, ASecondOpenerIsRefused) {
  JournalOpening first = open();
  ASSERT_TRUE(first.journal);
  JournalOpening second = open();
  EXPECT_FALSE(second.journal);
  EXPECT_NE(second.problem.find("another worker-agent uses the journal"), std::string::npos)
      << second.problem;
}

TEST_F(JobJournalTest, GarbageIsMovedAsideAndANewJournalStarted) {
  {
    std::ofstream out(path_);
    out << "not a database at all, but long enough to look like a header of one......";
  }
  JournalOpening opening = open();
  ASSERT_TRUE(opening.journal) << opening.problem;
  EXPECT_NE(opening.moved_aside.find(".corrupt-"), std::string::npos) << opening.moved_aside;
  EXPECT_EQ(::access(opening.moved_aside.c_str(), F_OK), 0) << "moved, not deleted";
  EXPECT_NE(opening.problem.find("moved aside"), std::string::npos);
  EXPECT_TRUE(opening.jobs.empty());
  auto job = makeJob("after", 1);
  ++pending_;
  opening.journal->accepted(*job, [this](const std::optional<std::string>& error) {
    EXPECT_FALSE(error);
    --pending_;
  });
  settle(*opening.journal);
  EXPECT_EQ(pending_, 0);
}

TEST_F(JobJournalTest, ANewerSchemaIsMovedAside) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(db, "PRAGMA user_version = 2; CREATE TABLE t(x);", nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);
  JournalOpening opening = open();
  ASSERT_TRUE(opening.journal);
  EXPECT_NE(opening.moved_aside.find(".newer-"), std::string::npos);
  EXPECT_NE(opening.problem.find("schema version 2 is newer"), std::string::npos)
      << opening.problem;
}

// A journal another user owns is sound but out of reach: start-up stops and says so,
// and the file stays where it is (moved aside, its jobs would be lost to a wrong owner).
// As root, whom permissions do not stop, the open runs in a child as nobody.
TEST_F(JobJournalTest, AJournalThisUserMayNotWriteIsLeftAlone) {
  {
    JournalOpening first = open();
    ASSERT_TRUE(first.journal) << first.problem;
  }
  ASSERT_EQ(::chmod(path_.c_str(), 0400), 0);
  auto check = [this]() -> std::string {
    JournalOpening opening = open();
    if (opening.journal) return "opened";
    if (!opening.moved_aside.empty()) return "moved aside to " + opening.moved_aside;
    if (opening.problem.find("cannot write " + path_ + ": Permission denied") ==
        std::string::npos) {
      return "problem: " + opening.problem;
    }
    return ::access(path_.c_str(), F_OK) == 0 ? "" : "the journal is gone";
  };
  if (::geteuid() != 0) {
    EXPECT_EQ(check(), "");
    return;
  }
  // nobody may lock it and could move it aside: the journal alone is out of reach.
  ASSERT_EQ(::chmod(dir_.c_str(), 0777), 0);
  ASSERT_EQ(::chmod((path_ + ".lock").c_str(), 0666), 0);
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(pipe_fds[0]);
    std::string result =
        ::setresgid(65534, 65534, 65534) == 0 && ::setresuid(65534, 65534, 65534) == 0
            ? check()
            : "cannot become nobody";
    result += "\n";
    const ssize_t written = ::write(pipe_fds[1], result.data(), result.size());
    ::_exit(written == static_cast<ssize_t>(result.size()) ? 0 : 1);
  }
  ::close(pipe_fds[1]);
  std::string result;
  char buffer[512];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;) result.append(buffer, n);
  ::close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(result, "\n");
}

TEST_F(JobJournalTest, ARowThatDoesNotDecodeMovesTheJournalAside) {
  {
    JournalOpening opening = open();
    auto job = makeJob("j", 1);
    opening.journal->accepted(*job, [](const std::optional<std::string>&) {});
    settle(*opening.journal);
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE jobs SET spec = '{\"job_id\": 7}'", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  JournalOpening opening = open();
  ASSERT_TRUE(opening.journal);
  EXPECT_FALSE(opening.moved_aside.empty());
  EXPECT_NE(opening.problem.find("spec"), std::string::npos) << opening.problem;
}

TEST_F(JobJournalTest, TheSchedulerStartsAJobOnlyOnceItIsOnDisk) {
  JournalOpening opening = open();
  ASSERT_TRUE(opening.journal);
  JobStore store{RetentionPolicy{}};
  testing::FakeRunner runner{loop_};
  Scheduler scheduler{loop_, store, runner, 2, 10};
  scheduler.setJournal(opening.journal.get());
  std::optional<std::optional<std::string>> durable;
  std::vector<std::string> started_at_commit{"not called"};
  auto job = std::make_unique<Job>(*makeJob("j", 0));
  ASSERT_EQ(scheduler.submit(std::move(job),
                             [&](const std::optional<std::string>& error) {
                               durable = error;
                               started_at_commit = runner.started;
                             }),
            Scheduler::SubmitResult::kAccepted);
  // The pump the submission asked for runs on the first turn of the loop, most likely before
  // the writer's commit comes back; either way nothing may have started when it does.
  for (int i = 0; i < 200 && !durable; ++i) loop_.runOnce(10);
  EXPECT_TRUE(started_at_commit.empty()) << "not before the commit";
  ASSERT_TRUE(durable);
  EXPECT_FALSE(*durable);
  for (int i = 0; i < 4; ++i) loop_.runOnce(0);
  EXPECT_EQ(runner.started, std::vector<std::string>{"j"});
}

}  // namespace
}  // namespace wa::jobs
