// JobJournal: every accepted job on disk, so that a restart, an upgrade or a crash of the
// daemon loses nothing. One SQLite database (WAL mode) holds each job's request bytes as
// received, its validated spec, its state and times, its container id, its output as it
// is captured (up to the cap) and, once it ends, its record.
//
// The event loop never waits on the disk. The writes of a loop turn are committed together,
// after the turn's events, in one transaction (group commit per turn), in one of two
// places:
// - On the loop itself, with synchronous=NORMAL (journal_sync: normal, the default), when
//   the writer thread is not using the database and the WAL already has its header: such
//   a commit only writes WAL frames into the kernel's page cache and never syncs (SQLite
//   syncs in checkpoints, and at the first commit after one, when it writes the WAL's
//   header again: both are the writer's).
// - Otherwise on the writer thread: they are handed over (one lock, one wake-up), and it
//   reports back through an eventfd watched by the loop. With synchronous=FULL
//   (journal_sync: full) every commit goes there, as each one fsyncs.
// The writer thread also checkpoints the WAL into the database and gives free pages back,
// and retries writes that failed. It does so holding the database connection, in the
// pauses between the loop's commits, except for the checkpoint forced under a steady load
// (the WAL past a bound): that one first copies on connections of the writer's own while
// the loop goes on committing (copyAhead), and holds the connection only for the rest.
// The connection holds its locks from one transaction to the next (locking_mode EXCLUSIVE:
// a commit makes no fcntl call), and lets them go only while a forced checkpoint copies
// ahead (holdExclusively). A submission is answered 202 only after its row is committed:
// with synchronous=NORMAL a committed row survives a crash of the daemon (it is in the WAL
// file, in the kernel's page cache); with synchronous=FULL it also survives a power loss or
// a kernel crash. Either way the database stays consistent.
//
// Opening reads everything back (start-up, before the loop serves). A journal that is
// corrupt, truncated or of a newer schema is moved aside (renamed, never deleted), said
// so, and replaced by a new one: the worker starts either way. A journal that cannot take
// writes (a full disk, an I/O error) keeps what it has; new submissions are refused
// (their durable callback gets an error) and every other write is tried again until it
// goes through.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/event_loop.h"
#include "core/liveness.h"
#include "core/unique_fd.h"
#include "docker/docker_types.h"
#include "jobs/job.h"
#include "jobs/job_runner.h"

struct sqlite3;
struct sqlite3_stmt;

namespace wa::jobs {

struct JournalOptions {
  std::string path;        // the database file
  bool sync_full = false;  // synchronous=FULL: every commit fsynced (power-loss durability)
};

// One job as the journal held it at start-up.
struct JournaledJob {
  std::unique_ptr<Job> job;  // spec, request bytes, state, times, what was learnt
  std::string container_id;  // "" until the engine created one
  // A running job whose run knew its outcome before the daemon stopped (only the removal
  // of its container was left): job holds that outcome.
  bool outcome_known = false;
};

class JobJournal;

struct JournalOpening {
  std::unique_ptr<JobJournal> journal;  // null when no journal could be opened at all
  std::vector<JournaledJob> jobs;       // in submission order
  std::string moved_aside;              // where an unusable journal went ("" if none was found)
  std::string problem;                  // why it was moved aside, or why none could be opened
};

class JobJournal {
 public:
  // The schema this build writes; a journal of a newer one is moved aside.
  static constexpr int kSchemaVersion = 1;

  // Opens (or creates) the journal at options.path, reads back what it holds, and starts
  // the writer thread. Takes an exclusive lock on "<path>.lock": a second daemon on the
  // same journal gets a problem and no journal.
  static JournalOpening open(core::EventLoop& loop, const JournalOptions& options);
  // Commits everything still queued, then stops the writer thread.
  ~JobJournal();
  JobJournal(const JobJournal&) = delete;
  JobJournal& operator=(const JobJournal&) = delete;

  // Told once the row is committed (nullopt) or cannot be (why). Runs on the loop.
  using Durable = std::function<void(std::optional<std::string> error)>;

  // A new submission (queued). durable runs once, from the loop, after the commit.
  void accepted(const Job& job, Durable durable);
  // The engine created the job's container: from now on the journal holds it as running
  // (until then a job whose image is being supplied is still queued there: after a
  // restart it is queued again, as nothing of it ran).
  void containerCreated(const Job& job, const std::string& container_id);
  // The bytes of one stream kept under the cap, appended as they are captured.
  void output(const Job& job, docker::StreamKind kind, std::string_view bytes);
  // The run's outcome is known and only its container's removal is left: the record so far
  // with outcome's exit code, OOM flag and error.
  void outcomeKnown(const Job& job, const JobOutcome& outcome);
  // Back in the queue (the engine was away before the job had a container).
  void requeued(const Job& job);
  // Ended: the record and the output.
  void ended(const Job& job);
  // Dropped by retention: its row goes, and the space is given back in time.
  void dropped(const Job& job);

  // "" while writes go through; otherwise why the last commit failed (a full disk).
  const std::string& problem() const { return problem_; }
  // Writes queued and not yet committed.
  size_t backlog() const;
  const std::string& path() const { return path_; }
  // Commits made (for /metrics), on the loop and on the writer thread.
  uint64_t commits() const;
  // Of those, the ones made on the loop.
  uint64_t commitsOnLoop() const { return loop_commits_; }
  // WAL frames the forced checkpoints copied beside the loop's commits (copyAhead).
  uint64_t framesCopiedAhead() const { return copied_ahead_; }

 private:
  enum class Kind { kAccepted, kContainer, kOutput, kOutcome, kRequeued, kEnded, kDropped };
  struct Write {
    Kind kind;
    uint64_t seq = 0;
    std::string job_id;   // kAccepted
    std::string state;    // kEnded: "finished" or "failed"
    std::string spec;     // kAccepted
    std::string request;  // kAccepted: the request bytes
    int64_t time_ms = 0;  // created_at (kAccepted), started_at (kContainer)
    std::string text;     // container id, or the record (kOutcome, kEnded)
    int stream = 0;       // kOutput: 1 stdout, 2 stderr
    std::string bytes;    // kOutput: the chunk; kEnded/kOutcome: stdout
    std::string bytes2;   // kEnded/kOutcome: stderr
    uint64_t ticket = 0;  // kAccepted: its Durable
  };
  struct Completion {
    uint64_t ticket;
    std::optional<std::string> error;
  };

  // Who uses the database connection (statements_, wal_frames_, freed_pages_ too): one
  // side at a time, handed over under mutex_.
  enum class DbUser { kNone, kLoop, kWriter };

  JobJournal(core::EventLoop& loop, std::string path, sqlite3* db, core::UniqueFd lock,
             bool commit_on_loop);
  // b is output that continues a (the same job and stream): one row.
  static bool sameOutput(const Write& a, const Write& b) {
    return a.kind == Kind::kOutput && b.kind == Kind::kOutput && a.seq == b.seq &&
           a.stream == b.stream;
  }
  // Adds write to this turn's outbox; the first of a turn posts the hand-over.
  void queue(Write write);
  // Commits the outbox on the loop when it may (commitHere), or hands it to the writer
  // thread, in order.
  void handOver(bool may_commit_here);
  // The outbox committed on the loop, and its submissions told; false (nothing done) when
  // the writer has older writes or the database, a commit is failing, or the WAL's header
  // is yet to be written.
  bool commitHere();
  // The writes of a failed commit other than submissions, back to the front of pending_
  // (under mutex_).
  void retryLater(std::vector<Write>& batch);
  static bool hasDrops(const std::vector<Write>& batch);
  // Tells the Durable of ticket (from the loop).
  void complete(uint64_t ticket, std::optional<std::string> error);
  void writerLoop();
  // One transaction over batch; false (and *error) when it could not be committed.
  // share: the transaction's end lets db_'s locks go (locking_mode NORMAL).
  bool commit(const std::vector<Write>& batch, bool share, std::string* error);
  bool apply(const Write& write, std::string* error);
  // The database user's prepared statement for sql (kept for the journal's life), reset.
  sqlite3_stmt* statement(const char* sql, std::string* error);
  // Checkpoints the WAL into the database when the writer is idle, or when it has grown
  // past a bound whatever the load; while idle, gives a step of free pages back to the
  // file system (once a quarter of the file is free, and then until none is: going_on).
  // True when free pages are left for another step.
  bool compact(bool idle, bool going_on);
  // Whether compact(idle, going_on) would do anything (a checkpoint, a step, a count).
  bool compactionDue(bool idle, bool going_on) const;
  // The copying of a forced checkpoint, done by the writer without db_ while the loop goes
  // on committing on it, in passes: each a PASSIVE checkpoint on copier_, with a read
  // transaction opened on pin_ before it, which stays open until the next pass or until
  // the writer holds db_ (unpin). SQLite starts the WAL again (at the next commit, which
  // then syncs the WAL's header) only once every frame is copied and no reader holds an
  // older snapshot: the pin keeps that from happening on the loop, and the checkpoint
  // copies up to the pin's snapshot. compact() then copies what the loop committed during
  // the last pass, holding db_, and the next commit is the writer's, as after any
  // checkpoint.
  void copyAhead();
  void unpin();
  // db_ holds its locks from one transaction to the next (locking_mode EXCLUSIVE), except
  // while a forced checkpoint copies ahead, which reads beside it on connections of its
  // own: the writer asks for that (share_wanted_), and the next commit on db_, the loop's
  // or the writer's, lets them go (shared_). holdExclusively() (the writer's, holding db_)
  // closes those connections and takes the locks back, at db_'s next transaction.
  void holdExclusively();
  void onCompletions();

  core::EventLoop& loop_;
  const std::string path_;
  sqlite3* db_;                // used by db_user_ only
  sqlite3* copier_ = nullptr;  // the writer thread's, open during copyAhead only
  sqlite3* pin_ = nullptr;     // likewise
  bool pinned_ = false;        // the writer thread's: pin_ holds its read transaction
  std::atomic<uint64_t> copied_ahead_{0};
  const bool commit_on_loop_;  // synchronous=NORMAL: commits may run on the loop
  core::UniqueFd lock_;
  core::UniqueFd wake_fd_;  // eventfd: the writer has completions or news for the loop
  std::unique_ptr<core::FileEvent> wake_event_;

  // Loop side.
  std::vector<Write> outbox_;  // this turn's writes, not yet handed over
  core::Liveness liveness_;    // for the posted hand-over
  uint64_t next_ticket_ = 1;
  std::unordered_map<uint64_t, Durable> waiting_;
  std::string problem_;

  // Shared with the writer thread, under mutex_.
  mutable std::mutex mutex_;
  std::condition_variable wake_writer_;
  std::deque<Write> pending_;
  std::vector<Completion> completed_;
  std::optional<std::string> writer_problem_;  // set on a change; the loop takes it
  uint64_t writer_commits_ = 0;
  uint64_t loop_commits_ = 0;  // written by the loop; the writer watches it for pauses
  DbUser db_user_ = DbUser::kNone;
  bool failing_ = false;         // the last commit failed: the writer retries, after a pause
  bool compact_wanted_ = false;  // the WAL is past the forced checkpoint: the writer's, now
  bool quiet_work_ = false;      // an idle checkpoint or a count of free pages is due
  bool compacting_ = false;      // free pages are left to give back, step by step
  bool share_wanted_ = false;    // the writer waits for the next commit to share db_
  bool shared_ = true;  // db_ does not hold its locks (as opened; holdExclusively takes them)
  bool stopping_ = false;

  // The database user's: prepared statements by their SQL's address, and the WAL's size in
  // frames after the last commit (sqlite3_wal_hook; 0 after a checkpoint).
  std::unordered_map<const char*, sqlite3_stmt*> statements_;
  int wal_frames_ = 0;
  bool freed_pages_ = false;  // rows were deleted since the free pages were last counted

  std::thread writer_;
};

}  // namespace wa::jobs
