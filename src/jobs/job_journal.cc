#include "jobs/job_journal.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <utility>

#include "core/log.h"
#include "jobs/job_codec.h"
#include "jobs/journal_database.h"

namespace wa::jobs {
namespace {

using journal_db::sqliteError;

// How long a commit that failed (a full disk) waits before it is tried again.
constexpr auto kRetryDelay = std::chrono::milliseconds(1000);
// A pause in the writes: nothing committed for this long. The idle work waits for one
// (job_journal_compaction.cc).
constexpr auto kQuietPeriod = std::chrono::milliseconds(100);
// The outbox keeps its room from turn to turn up to this many writes (a reallocation in
// every turn showed in the loop's profile); a burst (retention dropping thousands of
// records in one turn) gives its room back rather than holding it, ~260 bytes a write,
// for the rest of the daemon's life.
constexpr size_t kOutboxKept = 64;

}  // namespace

JournalOpening JobJournal::open(core::EventLoop& loop, const JournalOptions& options) {
  journal_db::Opened opened = journal_db::open(options.path, options.sync_full);
  JournalOpening opening;
  opening.jobs = std::move(opened.jobs);
  opening.moved_aside = std::move(opened.moved_aside);
  opening.problem = std::move(opened.problem);
  if (opened.db != nullptr) {
    opening.journal.reset(
        new JobJournal(loop, options.path, opened.db, std::move(opened.lock), !options.sync_full));
  }
  return opening;
}

JobJournal::JobJournal(core::EventLoop& loop, std::string path, sqlite3* db, core::UniqueFd lock,
                       bool commit_on_loop)
    : loop_(loop),
      path_(std::move(path)),
      db_(db),
      commit_on_loop_(commit_on_loop),
      lock_(std::move(lock)),
      wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (!wake_fd_) {
    core::logError("fatal: eventfd: ", std::strerror(errno));
    std::abort();
  }
  // Checkpoints are the writer's decision (compact), never SQLite's after a commit.
  sqlite3_wal_autocheckpoint(db_, 0);
  // The journal's locks are held from one transaction to the next (taken at the first):
  // a commit takes none, where it would make four fcntl calls. db_ opens as if shared
  // (locking_mode NORMAL); only while a forced checkpoint copies ahead does it let them
  // go again.
  holdExclusively();
  sqlite3_wal_hook(
      db_,
      [](void* self, sqlite3*, const char*, int frames) {
        static_cast<JobJournal*>(self)->wal_frames_ = frames;
        return SQLITE_OK;
      },
      this);
  wake_event_ = loop_.watch(wake_fd_.get(), core::FileEvent::kReadable,
                            [this](uint32_t) { onCompletions(); });
  writer_ = std::thread([this] { writerLoop(); });
}

JobJournal::~JobJournal() {
  handOver(false);  // no Durable is told any more
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_writer_.notify_one();
  writer_.join();  // commits what is queued first
  journal_db::closeDatabase(pin_);
  journal_db::closeDatabase(copier_);
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  // The WAL into the database, so that the next start reads one file.
  sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  journal_db::closeDatabase(db_);
}

size_t JobJournal::backlog() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return pending_.size() + outbox_.size();
}

uint64_t JobJournal::commits() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return writer_commits_ + loop_commits_;
}

void JobJournal::queue(Write write) {
  if (outbox_.empty()) {
    loop_.post([this, watch = liveness_.watch()] {
      if (watch.alive()) handOver(true);
    });
  }
  outbox_.push_back(std::move(write));
}

void JobJournal::handOver(bool may_commit_here) {
  if (outbox_.empty()) return;
  if (may_commit_here && commit_on_loop_ && commitHere()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (Write& w : outbox_) {
      // Consecutive chunks of one job and stream still queued are one row.
      if (!pending_.empty() && sameOutput(pending_.back(), w)) {
        pending_.back().bytes.append(w.bytes);
      } else {
        pending_.push_back(std::move(w));
      }
    }
  }
  outbox_.clear();
  if (outbox_.capacity() > kOutboxKept) std::vector<Write>().swap(outbox_);
  wake_writer_.notify_one();
}

bool JobJournal::commitHere() {
  bool share = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // wal_frames_ 0: the next commit writes the WAL's header again and syncs it. (Read only
    // once db_user_ says the writer is not using it.)
    if (db_user_ != DbUser::kNone || !pending_.empty() || failing_ || wal_frames_ == 0) {
      return false;
    }
    db_user_ = DbUser::kLoop;
    share = share_wanted_;
    share_wanted_ = false;
  }
  // The batch leaves outbox_ first: a Durable told below may queue new writes.
  std::vector<Write> batch;
  batch.swap(outbox_);
  std::string error;
  const bool ok = commit(batch, share, &error);
  freed_pages_ = freed_pages_ || (ok && hasDrops(batch));
  bool wake = share;  // the writer waits for it
  {
    std::lock_guard<std::mutex> lock(mutex_);
    db_user_ = DbUser::kNone;
    shared_ = shared_ || share;
    if (ok) {
      ++loop_commits_;
      compact_wanted_ = compact_wanted_ || compactionDue(false, false);
      if (!quiet_work_ && compactionDue(true, false)) {
        quiet_work_ = true;
        wake = true;  // the writer starts watching for a pause
      }
    } else {
      failing_ = true;
      retryLater(batch);
    }
    wake = wake || !ok || compact_wanted_;
  }
  if (wake) wake_writer_.notify_one();
  if (!ok && problem_.empty())
    core::logError("journal: writes fail path=", path_, " error=", error);
  if (!ok) problem_ = error;
  for (const Write& w : batch) {
    if (w.kind == Kind::kAccepted) {
      complete(w.ticket, ok ? std::nullopt : std::optional<std::string>(error));
    }
  }
  // Its room back to the outbox, unless a Durable has queued writes there since.
  batch.clear();
  if (outbox_.empty() && batch.capacity() <= kOutboxKept) outbox_.swap(batch);
  return true;
}

void JobJournal::retryLater(std::vector<Write>& batch) {
  // Submissions are refused (their callers are told); every other write goes back to the
  // front of the queue, in order, and the writer tries it again after a pause, until a
  // commit goes through.
  std::deque<Write> retry;
  for (Write& w : batch) {
    if (w.kind != Kind::kAccepted) retry.push_back(std::move(w));
  }
  pending_.insert(pending_.begin(), std::make_move_iterator(retry.begin()),
                  std::make_move_iterator(retry.end()));
}

bool JobJournal::hasDrops(const std::vector<Write>& batch) {
  return std::any_of(batch.begin(), batch.end(),
                     [](const Write& w) { return w.kind == Kind::kDropped; });
}

void JobJournal::complete(uint64_t ticket, std::optional<std::string> error) {
  auto it = waiting_.find(ticket);
  if (it == waiting_.end()) return;
  Durable durable = std::move(it->second);
  waiting_.erase(it);
  durable(std::move(error));
}

void JobJournal::accepted(const Job& job, Durable durable) {
  Write w{Kind::kAccepted};
  w.seq = job.sequence;
  w.job_id = job.spec.job_id;
  w.spec = encodeSpec(job.spec);
  w.request = job.spec.job_json;
  w.time_ms = job.created_at_ms;
  w.ticket = next_ticket_++;
  waiting_.emplace(w.ticket, std::move(durable));
  queue(std::move(w));
}

void JobJournal::containerCreated(const Job& job, const std::string& container_id) {
  Write w{Kind::kContainer};
  w.seq = job.sequence;
  w.text = container_id;
  w.time_ms = job.started_at_ms.value_or(0);
  queue(std::move(w));
}

void JobJournal::output(const Job& job, docker::StreamKind kind, std::string_view bytes) {
  if (bytes.empty()) return;
  const int stream = kind == docker::StreamKind::kStderr ? 2 : 1;
  // Consecutive chunks of one job and stream in this turn are one row (handOver joins
  // them to one still queued too).
  Write w{Kind::kOutput};
  w.seq = job.sequence;
  w.stream = stream;
  if (!outbox_.empty() && sameOutput(outbox_.back(), w)) {
    outbox_.back().bytes.append(bytes);
    return;
  }
  w.bytes.assign(bytes);
  queue(std::move(w));
}

void JobJournal::outcomeKnown(const Job& job, const JobOutcome& outcome) {
  Write w{Kind::kOutcome};
  w.seq = job.sequence;
  w.text = encodeRecord(job, &outcome);
  w.bytes = job.stdout_output.data;
  w.bytes2 = job.stderr_output.data;
  queue(std::move(w));
}

void JobJournal::requeued(const Job& job) {
  Write w{Kind::kRequeued};
  w.seq = job.sequence;
  queue(std::move(w));
}

void JobJournal::ended(const Job& job) {
  Write w{Kind::kEnded};
  w.seq = job.sequence;
  w.state = stateName(job.state);
  w.text = encodeRecord(job);
  w.bytes = job.stdout_output.data;
  w.bytes2 = job.stderr_output.data;
  queue(std::move(w));
}

void JobJournal::dropped(const Job& job) {
  Write w{Kind::kDropped};
  w.seq = job.sequence;
  queue(std::move(w));
}

void JobJournal::onCompletions() {
  uint64_t count;
  [[maybe_unused]] ssize_t r = ::read(wake_fd_.get(), &count, sizeof count);
  std::vector<Completion> done;
  std::optional<std::string> problem;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done.swap(completed_);
    problem.swap(writer_problem_);
  }
  if (problem) {
    if (problem->empty()) {
      core::logInfo("journal: writes go through again path=", path_);
    } else {
      core::logError("journal: writes fail path=", path_, " error=", *problem);
    }
    problem_ = std::move(*problem);
  }
  for (Completion& completion : done) complete(completion.ticket, std::move(completion.error));
}

void JobJournal::writerLoop() {
  // Signals belong to the loop's signalfd: never delivered to this thread.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  // In a pause (the last step was done in one), and loop_commits_ then: while it stays so,
  // the pause goes on.
  bool in_pause = false;
  uint64_t pause_mark = 0;
  // A forced checkpoint's copying was done ahead (copyAhead): the database next.
  bool copied_ahead = false;
  for (;;) {
    std::vector<Write> batch;
    bool stop = false;
    bool failing = false;
    bool compacting = false;
    bool quiet = false;  // the loop committed nothing for a while: the idle work is due
    bool share = false;  // this commit lets db_'s locks go (share_wanted_)
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (failing_) {
        // After a failed commit, again after a pause (or at once when stopping).
        wake_writer_.wait_for(lock, kRetryDelay, [this] { return stopping_; });
      }
      // Work, and the database to do it with (the loop holds it only for a commit).
      const auto ready = [this] {
        return db_user_ == DbUser::kNone &&
               (stopping_ || failing_ || (compact_wanted_ && !share_wanted_) || !pending_.empty());
      };
      for (;;) {
        while (!ready()) {
          if (!quiet_work_ && !compacting_) {
            wake_writer_.wait(lock, [&] { return ready() || quiet_work_ || compacting_; });
            continue;
          }
          // Quiet since the last step of giving pages back: the next one at once.
          if (in_pause && pause_mark == loop_commits_ && db_user_ == DbUser::kNone) {
            quiet = true;
            break;
          }
          const uint64_t seen = loop_commits_;
          if (wake_writer_.wait_for(lock, kQuietPeriod, ready)) break;
          if (loop_commits_ == seen && db_user_ == DbUser::kNone) {
            quiet = true;
            break;
          }
        }
        // A forced checkpoint under load: its copying first, beside the loop's commits.
        if (quiet || copied_ahead || !compact_wanted_ || stopping_ || failing_ ||
            !pending_.empty()) {
          break;
        }
        if (!shared_) {
          // The database's locks go first: the next commit lets them go (on the loop, in
          // its turn; or the writer's own, when writes come to it meanwhile).
          share_wanted_ = true;
          continue;
        }
        lock.unlock();
        copyAhead();
        lock.lock();
        copied_ahead = true;
      }
      if (quiet) quiet_work_ = false;
      db_user_ = DbUser::kWriter;
      copied_ahead = false;
      stop = stopping_;
      failing = failing_;
      compacting = compacting_;
      compact_wanted_ = false;
      batch.assign(std::make_move_iterator(pending_.begin()),
                   std::make_move_iterator(pending_.end()));
      pending_.clear();
      share = share_wanted_ && !batch.empty();
      share_wanted_ = false;
    }
    unpin();  // the loop cannot start the WAL again now: the writer has the database
    if (batch.empty()) {
      // Nothing to commit: a forced checkpoint the loop's commits called for, or, in a
      // pause, the idle checkpoint or the next step of giving free pages back.
      holdExclusively();
      compacting = !stop && compact(quiet, compacting);
      std::lock_guard<std::mutex> lock(mutex_);
      db_user_ = DbUser::kNone;
      compacting_ = compacting;
      in_pause = quiet;
      pause_mark = loop_commits_;
      if (stop) break;
      continue;
    }
    std::string error;
    const bool ok = commit(batch, share, &error);
    std::vector<Completion> done;
    for (const Write& w : batch) {
      if (w.kind == Kind::kAccepted) {
        done.push_back({w.ticket, ok ? std::nullopt : std::optional<std::string>(error)});
      }
    }
    bool notify = !done.empty();
    freed_pages_ = freed_pages_ || (ok && hasDrops(batch));
    bool compact_now = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (ok) {
        ++writer_commits_;
      } else {
        retryLater(batch);
      }
      if (ok == failing) {  // the journal's health changed: the loop takes the news
        writer_problem_ = ok ? std::string() : error;
        notify = true;
      }
      failing_ = !ok;
      shared_ = shared_ || share;
      completed_.insert(completed_.end(), done.begin(), done.end());
      // The database goes back before the loop hears of the commit, unless a forced
      // checkpoint follows, so that its next turn may commit itself. The idle work waits
      // for a pause.
      compact_now = ok && compactionDue(false, compacting);
      quiet_work_ = quiet_work_ || (ok && compactionDue(true, false));
      if (!compact_now) db_user_ = DbUser::kNone;
      in_pause = false;
    }
    if (!ok && stop) {
      core::logError("journal: stopping with writes not committed: ", error);
      break;
    }
    // The loop hears of the commit first: its 202s never wait behind a checkpoint.
    if (notify) {
      const uint64_t one = 1;
      [[maybe_unused]] ssize_t written = ::write(wake_fd_.get(), &one, sizeof one);
    }
    if (compact_now) {
      holdExclusively();
      compacting = compact(false, compacting);
      std::lock_guard<std::mutex> lock(mutex_);
      db_user_ = DbUser::kNone;
      compacting_ = compacting;
    }
  }
}

namespace {

// Binds a text or blob parameter without a copy (SQLITE_STATIC): the Write it comes from
// outlives the step, and statement() clears the bindings before the next use.
void bindText(sqlite3_stmt* s, int i, std::string_view text) {
  sqlite3_bind_text(s, i, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
}
void bindBlob(sqlite3_stmt* s, int i, std::string_view bytes) {
  sqlite3_bind_blob(s, i, bytes.data(), static_cast<int>(bytes.size()), SQLITE_STATIC);
}

// Runs a statement with the parameters bind sets; false (and *error) on a failure.
template <typename Bind>
bool step(sqlite3* db, sqlite3_stmt* stmt, Bind bind, std::string* error) {
  if (stmt == nullptr) return false;
  bind(stmt);
  const int rc = sqlite3_step(stmt);
  sqlite3_reset(stmt);
  if (rc == SQLITE_DONE || rc == SQLITE_ROW) return true;
  *error = sqliteError(db, "write");
  return false;
}

// The statements of the database's user; their addresses key its cache.
constexpr const char* kShare = "PRAGMA locking_mode = NORMAL";
constexpr const char* kBegin = "BEGIN IMMEDIATE";
constexpr const char* kCommit = "COMMIT";
constexpr const char* kRollback = "ROLLBACK";
constexpr const char* kInsertJob =
    "INSERT INTO jobs(seq, job_id, state, spec, request, created_at_ms) "
    "VALUES(?, ?, 'queued', ?, ?, ?)";
constexpr const char* kContainerJob =
    "UPDATE jobs SET state = 'running', started_at_ms = ?, container_id = ? WHERE seq = ?";
constexpr const char* kInsertOutput = "INSERT INTO output(seq, stream, chunk) VALUES(?, ?, ?)";
constexpr const char* kEndJob =
    "UPDATE jobs SET state = ?, record = ?, stdout = ?, stderr = ?, outcome_known = 0, "
    "container_id = NULL WHERE seq = ?";
constexpr const char* kOutcomeJob =
    "UPDATE jobs SET record = ?, stdout = ?, stderr = ?, outcome_known = 1 WHERE seq = ?";
constexpr const char* kRequeueJob =
    "UPDATE jobs SET state = 'queued', started_at_ms = NULL, container_id = NULL, record = NULL, "
    "outcome_known = 0 WHERE seq = ?";
constexpr const char* kDeleteJob = "DELETE FROM jobs WHERE seq = ?";
constexpr const char* kDeleteOutput = "DELETE FROM output WHERE seq = ?";

}  // namespace

bool JobJournal::commit(const std::vector<Write>& batch, bool share, std::string* error) {
  // Prepared once, like the writes: sqlite3_exec would parse them on every commit.
  const auto run = [this](const char* sql, std::string* why) {
    return step(
        db_, statement(sql, why), [](sqlite3_stmt*) {}, why);
  };
  // The transaction's end (a commit or a rollback) lets the locks go.
  if (share && !run(kShare, error)) return false;
  if (!run(kBegin, error)) return false;
  for (const Write& w : batch) {
    if (!apply(w, error)) {
      std::string ignored;
      run(kRollback, &ignored);
      return false;
    }
  }
  if (!run(kCommit, error)) {
    std::string ignored;
    run(kRollback, &ignored);
    return false;
  }
  return true;
}

sqlite3_stmt* JobJournal::statement(const char* sql, std::string* error) {
  sqlite3_stmt*& stmt = statements_[sql];
  if (stmt == nullptr &&
      sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
    *error = sqliteError(db_, "prepare");
    statements_.erase(sql);
    return nullptr;
  }
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  return stmt;
}

bool JobJournal::apply(const Write& w, std::string* error) {
  const auto seq = static_cast<int64_t>(w.seq);
  const auto bySeq = [seq](sqlite3_stmt* s) { sqlite3_bind_int64(s, 1, seq); };
  switch (w.kind) {
    case Kind::kAccepted:
      return step(
          db_, statement(kInsertJob, error),
          [&](sqlite3_stmt* s) {
            sqlite3_bind_int64(s, 1, seq);
            bindText(s, 2, w.job_id);
            bindText(s, 3, w.spec);
            bindBlob(s, 4, w.request);
            sqlite3_bind_int64(s, 5, w.time_ms);
          },
          error);
    case Kind::kContainer:
      return step(
          db_, statement(kContainerJob, error),
          [&](sqlite3_stmt* s) {
            sqlite3_bind_int64(s, 1, w.time_ms);
            bindText(s, 2, w.text);
            sqlite3_bind_int64(s, 3, seq);
          },
          error);
    case Kind::kOutput:
      return step(
          db_, statement(kInsertOutput, error),
          [&](sqlite3_stmt* s) {
            sqlite3_bind_int64(s, 1, seq);
            sqlite3_bind_int(s, 2, w.stream);
            bindBlob(s, 3, w.bytes);
          },
          error);
    case Kind::kOutcome:
    case Kind::kEnded: {
      const bool ended = w.kind == Kind::kEnded;
      const bool updated = step(
          db_, statement(ended ? kEndJob : kOutcomeJob, error),
          [&](sqlite3_stmt* s) {
            int i = 1;
            if (ended) bindText(s, i++, w.state);
            bindText(s, i++, w.text);
            bindBlob(s, i++, w.bytes);
            bindBlob(s, i++, w.bytes2);
            sqlite3_bind_int64(s, i, seq);
          },
          error);
      return updated && step(db_, statement(kDeleteOutput, error), bySeq, error);
    }
    case Kind::kRequeued:
      return step(db_, statement(kRequeueJob, error), bySeq, error) &&
             step(db_, statement(kDeleteOutput, error), bySeq, error);
    case Kind::kDropped:
      return step(db_, statement(kDeleteJob, error), bySeq, error) &&
             step(db_, statement(kDeleteOutput, error), bySeq, error);
  }
  return false;
}

}  // namespace wa::jobs
