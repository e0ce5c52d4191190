#include "jobs/journal_database.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <unordered_map>
#include <utility>

#include "core/log.h"
#include "jobs/job_codec.h"
#include "jobs/journal_vfs.h"

namespace wa::jobs::journal_db {
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

}  // namespace

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

void closeDatabase(sqlite3* db) {
  if (db != nullptr) sqlite3_close_v2(db);
}

namespace {

// Renames path and its WAL and shared-memory files to path + suffix; the new name.
std::string moveAside(const std::string& path, const std::string& suffix) {
  std::string target = path + suffix;
  for (const char* extra : {"", "-wal", "-shm"}) {
    const std::string from = path + extra;
    if (::access(from.c_str(), F_OK) == 0 &&
        ::rename(from.c_str(), (target + extra).c_str()) != 0) {
      core::logWarning("journal: cannot move ", from, " aside: ", std::strerror(errno));
    }
  }
  return target;
}

}  // namespace

sqlite3* openConnection(const std::string& path, bool sync_full, Connection kind,
                        std::string* error) {
  sqlite3* db = nullptr;
  const int create = kind == Connection::kMain ? SQLITE_OPEN_CREATE : 0;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | create | SQLITE_OPEN_FULLMUTEX,
                      journal_vfs::name()) != SQLITE_OK) {
    *error = sqliteError(db, "open");
    closeDatabase(db);
    return nullptr;
  }
  sqlite3_extended_result_codes(db, 1);
  // The WAL index is in shared memory (the -shm file beside the journal), not in the
  // heap: the main connection holds its locks (locking_mode EXCLUSIVE, set by JobJournal
  // once it opened) but lets them go while a forced checkpoint reads beside it on side
  // connections (copyAhead, in job_journal_compaction.cc), which needs that index shared.
  // cache_size: the writer touches the right edge of two B-trees and the pages of the jobs
  // it updates; 512 KiB holds those, where SQLite's default 2 MiB would stay in the
  // daemon's resident set for good once filled (SQLite keeps its page buffers).
  // auto_vacuum first: a new file takes it only before its first page is written, which
  // switching to WAL does (an existing file keeps what it has: see prepare()). A side
  // connection sets neither: the file has both, and setting them would take the write
  // lock, which the main connection may hold.
  const std::string pragmas =
      std::string(kind == Connection::kMain
                      ? "PRAGMA auto_vacuum = INCREMENTAL; PRAGMA journal_mode = WAL; "
                      : "") +
      "PRAGMA cache_size = -512; PRAGMA synchronous = " + (sync_full ? "FULL" : "NORMAL") + ";";
  if (!exec(db, pragmas.c_str(), error)) {
    closeDatabase(db);
    return nullptr;
  }
  return db;
}

namespace {

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

// A new file (version 0) gets the schema; an existing one is read back. An older schema,
// once there is one, is migrated here first, a step per version, each in a transaction of
// its own. False (and *error) when the file is unusable.
bool prepare(sqlite3* db, int version, std::vector<JournaledJob>* jobs, std::string* error) {
  if (version == 0) return exec(db, kCreateSchema, error);
  // A journal made before auto_vacuum was set in time (worker-agent 0.1.0 builds before
  // the journal compacted) is rebuilt once with it: retention's free pages can go back.
  bool rebuild = false;
  {
    Statement mode(db, "PRAGMA auto_vacuum");
    rebuild =
        mode && sqlite3_step(mode.get()) == SQLITE_ROW && sqlite3_column_int(mode.get(), 0) != 2;
  }
  if (rebuild) {
    // A rebuild that fails (it needs as much free space again) leaves the journal sound,
    // only without compaction: it is read back all the same, and tried again next start.
    core::logInfo("journal: rebuilding the file once so that it can give free space back");
    std::string why;
    if (!exec(db, "PRAGMA auto_vacuum = INCREMENTAL; VACUUM;", &why)) {
      core::logWarning("journal: cannot rebuild the file (", why, "); it keeps its free pages");
    }
  }
  return load(db, jobs, error);
}

}  // namespace

Opened open(const std::string& path, bool sync_full) {
  Opened opening;
  opening.lock = lockFile(path, &opening.problem);
  if (!opening.lock) return opening;
  // A journal this user may not write (made by another user, on a read-only mount) is
  // sound: moved aside as corrupt, its jobs would be lost to a wrong owner. Start-up stops.
  if (::access(path.c_str(), F_OK) == 0 && ::access(path.c_str(), R_OK | W_OK) != 0) {
    opening.problem = "cannot write " + path + ": " + std::strerror(errno);
    opening.lock.reset();
    return opening;
  }
  std::string error;
  sqlite3* db = openConnection(path, sync_full, Connection::kMain, &error);
  std::optional<int> version;
  if (db != nullptr) version = schemaVersion(db, &error);
  const char* reason = nullptr;
  if (db != nullptr && version && *version > JobJournal::kSchemaVersion) {
    reason = "newer";
    error = "its schema version " + std::to_string(*version) + " is newer than this worker's " +
            std::to_string(JobJournal::kSchemaVersion);
  } else if (db == nullptr || !version || !prepare(db, *version, &opening.jobs, &error)) {
    reason = "corrupt";
  }
  if (reason != nullptr) {
    // Moved aside, never deleted: an operator (or a newer worker) may still want it.
    closeDatabase(db);
    opening.jobs.clear();
    opening.moved_aside = moveAside(path, timestampSuffix(reason));
    opening.problem = "the journal " + path + " was unusable (" + error +
                      ") and was moved aside to " + opening.moved_aside + "; a new one was started";
    core::logError("journal: ", opening.problem);
    db = openConnection(path, sync_full, Connection::kMain, &error);
    if (db == nullptr || !exec(db, kCreateSchema, &error)) {
      closeDatabase(db);
      opening.problem += "; the new journal cannot be created either: " + error;
      core::logError("journal: cannot create ", path, ": ", error);
      return opening;
    }
  }
  opening.db = db;
  return opening;
}

}  // namespace wa::jobs::journal_db
