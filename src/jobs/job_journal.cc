#include "jobs/job_journal.h"

#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <utility>

#include "core/log.h"
#include "jobs/job_codec.h"

namespace wa::jobs {
namespace {

// Schema version 1. auto_vacuum must be set before the first table exists.
constexpr const char* kCreateSchema = R"sql(
PRAGMA auto_vacuum = INCREMENTAL;
CREATE TABLE jobs(
  seq INTEGER PRIMARY KEY,
  job_id TEXT NOT NULL,
  state TEXT NOT NULL,
  spec TEXT NOT NULL,
  request BLOB NOT NULL,
  created_at_ms INTEGER NOT NULL,
  started_at_ms INTEGER,
  container_id TEXT,
  record TEXT,
  outcome_known INTEGER NOT NULL DEFAULT 0,
  stdout BLOB,
  stderr BLOB
);
CREATE TABLE output(
  seq INTEGER NOT NULL,
  stream INTEGER NOT NULL,
  chunk BLOB NOT NULL
);
CREATE INDEX output_by_job ON output(seq);
PRAGMA user_version = 1;
)sql";

// Free pages given back to the file system at a time, once this many are free.
constexpr int kVacuumPages = 256;
// How long a commit that failed (a full disk) waits before it is tried again.
constexpr auto kRetryDelay = std::chrono::milliseconds(1000);

std::string sqliteError(sqlite3* db, const char* what) {
  return std::string(what) + ": " + (db ? sqlite3_errmsg(db) : "out of memory");
}

bool exec(sqlite3* db, const char* sql, std::string* error) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) == SQLITE_OK) return true;
  *error = message ? message : sqlite3_errmsg(db);
  sqlite3_free(message);
  return false;
}

// A prepared statement, finalized with its owner.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  sqlite3_stmt* get() const { return stmt_; }
  explicit operator bool() const { return stmt_ != nullptr; }
  void text(int i, std::string_view s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  void blob(int i, std::string_view s) {
    sqlite3_bind_blob(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  void integer(int i, int64_t n) { sqlite3_bind_int64(stmt_, i, n); }
  void null(int i) { sqlite3_bind_null(stmt_, i); }
  std::string column(int i) const {
    const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt_, i));
    return data ? std::string(data, static_cast<size_t>(sqlite3_column_bytes(stmt_, i)))
                : std::string();
  }
  bool isNull(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

void closeDb(sqlite3* db) {
  if (db != nullptr) sqlite3_close_v2(db);
}

// Renames path and its WAL and shared-memory files to path + suffix; the new name.
std::string moveAside(const std::string& path, const std::string& suffix) {
  const std::string target = path + suffix;
  for (const char* extra : {"", "-wal", "-shm"}) {
    const std::string from = path + extra;
    if (::access(from.c_str(), F_OK) == 0 &&
        ::rename(from.c_str(), (target + extra).c_str()) != 0) {
      core::logWarning("journal: cannot move ", from, " aside: ", std::strerror(errno));
    }
  }
  return target;
}

// Opens and configures the database; nullptr (and *error) when that fails.
sqlite3* openDb(const std::string& path, bool sync_full, std::string* error) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    *error = sqliteError(db, "open");
    closeDb(db);
    return nullptr;
  }
  sqlite3_extended_result_codes(db, 1);
  // EXCLUSIVE: the daemon is the journal's only user (its flock says so), so SQLite takes
  // its locks once instead of at every transaction, and the WAL needs no shared memory.
  const std::string pragmas = std::string(
                                  "PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL; "
                                  "PRAGMA synchronous = ") +
                              (sync_full ? "FULL" : "NORMAL") + ";";
  if (!exec(db, pragmas.c_str(), error)) {
    closeDb(db);
    return nullptr;
  }
  return db;
}

// The schema version of db (0 for a new file); nullopt (and *error) when db is unreadable.
std::optional<int> schemaVersion(sqlite3* db, std::string* error) {
  Statement stmt(db, "PRAGMA user_version");
  if (!stmt || sqlite3_step(stmt.get()) != SQLITE_ROW) {
    *error = sqliteError(db, "reading the schema version");
    return std::nullopt;
  }
  return sqlite3_column_int(stmt.get(), 0);
}

// Reads every job back, oldest first; false (and *error) on a corrupt database.
bool load(sqlite3* db, std::vector<JournaledJob>* jobs, std::string* error) {
  Statement rows(db,
                 "SELECT seq, job_id, state, spec, request, created_at_ms, started_at_ms, "
                 "container_id, record, outcome_known, stdout, stderr FROM jobs ORDER BY seq");
  if (!rows) {
    *error = sqliteError(db, "reading the jobs");
    return false;
  }
  std::unordered_map<uint64_t, size_t> running;  // seq -> index, for their output
  int rc;
  while ((rc = sqlite3_step(rows.get())) == SQLITE_ROW) {
    JournaledJob entry;
    entry.job = std::make_unique<Job>();
    Job& job = *entry.job;
    job.sequence = static_cast<uint64_t>(sqlite3_column_int64(rows.get(), 0));
    const std::string state = rows.column(2);
    std::string why;
    if (!decodeSpec(rows.column(3), &job.spec, &why)) {
      *error = "job " + rows.column(1) + ": spec: " + why;
      return false;
    }
    job.spec.job_json = rows.column(4);
    job.created_at_ms = sqlite3_column_int64(rows.get(), 5);
    if (!rows.isNull(6)) job.started_at_ms = sqlite3_column_int64(rows.get(), 6);
    entry.container_id = rows.column(7);
    entry.outcome_known = sqlite3_column_int(rows.get(), 9) != 0;
    if (!rows.isNull(8)) {
      if (!decodeRecord(rows.column(8), &job, &why)) {
        *error = "job " + rows.column(1) + ": record: " + why;
        return false;
      }
      job.stdout_output.data = rows.column(10);
      job.stderr_output.data = rows.column(11);
    }
    if (!parseState(state, &job.state)) {
      *error = "job " + rows.column(1) + ": state \"" + state + "\"";
      return false;
    }
    if (job.state == JobState::kRunning && !entry.outcome_known)
      running[job.sequence] = jobs->size();
    jobs->push_back(std::move(entry));
  }
  if (rc != SQLITE_DONE) {
    *error = sqliteError(db, "reading the jobs");
    return false;
  }
  if (running.empty()) return true;
  Statement chunks(db, "SELECT seq, stream, chunk FROM output ORDER BY rowid");
  if (!chunks) {
    *error = sqliteError(db, "reading the output");
    return false;
  }
  while ((rc = sqlite3_step(chunks.get())) == SQLITE_ROW) {
    auto it = running.find(static_cast<uint64_t>(sqlite3_column_int64(chunks.get(), 0)));
    if (it == running.end()) continue;
    Job& job = *(*jobs)[it->second].job;
    CapturedOutput& out =
        sqlite3_column_int(chunks.get(), 1) == 2 ? job.stderr_output : job.stdout_output;
    const std::string chunk = chunks.column(2);
    out.data += chunk;
    out.total_bytes += chunk.size();
  }
  if (rc != SQLITE_DONE) {
    *error = sqliteError(db, "reading the output");
    return false;
  }
  return true;
}

core::UniqueFd lockFile(const std::string& path, std::string* error) {
  const std::string lock_path = path + ".lock";
  core::UniqueFd fd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) {
    *error = "cannot open " + lock_path + ": " + std::strerror(errno);
    return fd;
  }
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    *error = errno == EWOULDBLOCK ? "another worker-agent uses the journal " + path
                                  : "cannot lock " + lock_path + ": " + std::strerror(errno);
    fd.reset();
  }
  return fd;
}

std::string timestampSuffix(const char* why) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::string(".") + why + "-" +
         std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now).count());
}

}  // namespace

JournalOpening JobJournal::open(core::EventLoop& loop, const JournalOptions& options) {
  JournalOpening opening;
  core::UniqueFd lock = lockFile(options.path, &opening.problem);
  if (!lock) return opening;
  std::string error;
  sqlite3* db = openDb(options.path, options.sync_full, &error);
  std::optional<int> version;
  if (db != nullptr) version = schemaVersion(db, &error);
  const char* reason = nullptr;
  if (db == nullptr || !version) {
    reason = "corrupt";
  } else if (*version > kSchemaVersion) {
    reason = "newer";
    error = "its schema version " + std::to_string(*version) + " is newer than this worker's " +
            std::to_string(kSchemaVersion);
  } else if (*version == 0) {
    if (!exec(db, kCreateSchema, &error)) reason = "corrupt";
  } else if (!load(db, &opening.jobs, &error)) {
    reason = "corrupt";
  }
  if (reason != nullptr) {
    // Moved aside, never deleted: an operator (or a newer worker) may still want it.
    closeDb(db);
    opening.jobs.clear();
    opening.moved_aside = moveAside(options.path, timestampSuffix(reason));
    opening.problem = "the journal " + options.path + " was unusable (" + error +
                      ") and was moved aside to " + opening.moved_aside + "; a new one was started";
    core::logError("journal: ", opening.problem);
    db = openDb(options.path, options.sync_full, &error);
    if (db == nullptr || !exec(db, kCreateSchema, &error)) {
      closeDb(db);
      opening.problem += "; the new journal cannot be created either: " + error;
      core::logError("journal: cannot create ", options.path, ": ", error);
      return opening;
    }
  }
  opening.journal.reset(new JobJournal(loop, options.path, db, std::move(lock)));
  return opening;
}

JobJournal::JobJournal(core::EventLoop& loop, std::string path, sqlite3* db, core::UniqueFd lock)
    : loop_(loop),
      path_(std::move(path)),
      db_(db),
      lock_(std::move(lock)),
      wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (!wake_fd_) {
    core::logError("fatal: eventfd: ", std::strerror(errno));
    std::abort();
  }
  wake_event_ = loop_.watch(wake_fd_.get(), core::FileEvent::kReadable,
                            [this](uint32_t) { onCompletions(); });
  writer_ = std::thread([this] { writerLoop(); });
}

JobJournal::~JobJournal() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_writer_.notify_one();
  writer_.join();  // commits what is queued first
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  // The WAL into the database, so that the next start reads one file.
  sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  closeDb(db_);
}

size_t JobJournal::backlog() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return pending_.size();
}

void JobJournal::queue(Write write) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.push_back(std::move(write));
  }
  wake_writer_.notify_one();
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
  {
    // Consecutive chunks of one job and stream still queued are one row.
    std::lock_guard<std::mutex> lock(mutex_);
    const int stream = kind == docker::StreamKind::kStderr ? 2 : 1;
    if (!pending_.empty() && pending_.back().kind == Kind::kOutput &&
        pending_.back().seq == job.sequence && pending_.back().stream == stream) {
      pending_.back().bytes.append(bytes);
      return;
    }
  }
  Write w{Kind::kOutput};
  w.seq = job.sequence;
  w.stream = kind == docker::StreamKind::kStderr ? 2 : 1;
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
    commits_ = writer_commits_;
  }
  if (problem) {
    if (problem->empty()) {
      core::logInfo("journal: writes go through again path=", path_);
    } else {
      core::logError("journal: writes fail path=", path_, " error=", *problem);
    }
    problem_ = std::move(*problem);
  }
  for (Completion& completion : done) {
    auto it = waiting_.find(completion.ticket);
    if (it == waiting_.end()) continue;
    Durable durable = std::move(it->second);
    waiting_.erase(it);
    durable(std::move(completion.error));
  }
}

void JobJournal::writerLoop() {
  // Signals belong to the loop's signalfd: never delivered to this thread.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  // Checkpoints are the writer's own decision (compact), not SQLite's after each commit.
  sqlite3_wal_autocheckpoint(db_, 0);
  sqlite3_wal_hook(
      db_,
      [](void* self, sqlite3*, const char*, int frames) {
        static_cast<JobJournal*>(self)->wal_frames_ = frames;
        return SQLITE_OK;
      },
      this);
  bool failing = false;
  for (;;) {
    std::vector<Write> batch;
    bool stop = false;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (failing) {
        // After a failed commit, again after a pause (or at once when stopping).
        wake_writer_.wait_for(lock, kRetryDelay, [this] { return stopping_; });
      } else {
        wake_writer_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
      }
      stop = stopping_;
      batch.assign(std::make_move_iterator(pending_.begin()),
                   std::make_move_iterator(pending_.end()));
      pending_.clear();
    }
    if (batch.empty()) {
      if (stop) break;
      continue;
    }
    std::string error;
    const bool ok = commit(batch, &error);
    std::vector<Completion> done;
    for (const Write& w : batch) {
      if (w.kind == Kind::kAccepted) {
        done.push_back({w.ticket, ok ? std::nullopt : std::optional<std::string>(error)});
      }
    }
    bool notify = !done.empty();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (ok) {
        ++writer_commits_;
      } else {
        // Submissions are refused (their callers are told); every other write goes back
        // to the front of the queue, in order, until a commit goes through again.
        std::deque<Write> retry;
        for (Write& w : batch) {
          if (w.kind != Kind::kAccepted) retry.push_back(std::move(w));
        }
        pending_.insert(pending_.begin(), std::make_move_iterator(retry.begin()),
                        std::make_move_iterator(retry.end()));
      }
      if (ok == failing) {  // the journal's health changed: the loop takes the news
        writer_problem_ = ok ? std::string() : error;
        notify = true;
      }
      completed_.insert(completed_.end(), done.begin(), done.end());
    }
    if (!ok && stop) {
      core::logError("journal: stopping with writes not committed: ", error);
      break;
    }
    failing = !ok;
    if (ok) {
      bool idle;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        idle = pending_.empty();
      }
      compact(idle);
    }
    if (notify) {
      const uint64_t one = 1;
      [[maybe_unused]] ssize_t written = ::write(wake_fd_.get(), &one, sizeof one);
    }
  }
}

bool JobJournal::commit(const std::vector<Write>& batch, std::string* error) {
  if (!exec(db_, "BEGIN IMMEDIATE", error)) return false;
  for (const Write& w : batch) {
    if (!apply(w, error)) {
      std::string ignored;
      exec(db_, "ROLLBACK", &ignored);
      return false;
    }
  }
  if (!exec(db_, "COMMIT", error)) {
    std::string ignored;
    exec(db_, "ROLLBACK", &ignored);
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

namespace {

// Binds a text or blob parameter (SQLite copies it).
void bindText(sqlite3_stmt* s, int i, std::string_view text) {
  sqlite3_bind_text(s, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}
void bindBlob(sqlite3_stmt* s, int i, std::string_view bytes) {
  sqlite3_bind_blob(s, i, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
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

// The statements of the writer; their addresses key its cache.
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

void JobJournal::compact(bool idle) {
  // Checkpoints are where SQLite syncs (the WAL before copying it, the database after):
  // done while nothing waits to be committed, so that they do not sit between a
  // submission and its 202, or past a bound whatever the load, so that the WAL stays
  // small. Retention's freed pages go back to the file system in the same breath.
  constexpr int kIdleCheckpointFrames = 1000;
  constexpr int kForcedCheckpointFrames = 16384;
  if (wal_frames_ < (idle ? kIdleCheckpointFrames : kForcedCheckpointFrames)) return;
  Statement free_pages(db_, "PRAGMA freelist_count");
  if (free_pages && sqlite3_step(free_pages.get()) == SQLITE_ROW &&
      sqlite3_column_int(free_pages.get(), 0) >= kVacuumPages) {
    std::string error;
    const std::string sql = "PRAGMA incremental_vacuum(" + std::to_string(kVacuumPages) + ")";
    if (!exec(db_, sql.c_str(), &error)) core::logWarning("journal: vacuum: ", error);
  }
  int log_frames = 0;
  int checkpointed = 0;
  if (sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, &log_frames,
                                &checkpointed) == SQLITE_OK) {
    wal_frames_ = 0;
  }
}

}  // namespace wa::jobs
