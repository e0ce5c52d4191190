// The job journal's database file (job_journal.h): its schema, opening it under a lock,
// moving one that cannot be used aside, and reading its jobs back. The writes are
// JobJournal's.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/unique_fd.h"
#include "jobs/job_journal.h"

namespace wa::jobs::journal_db {

struct Opened {
  sqlite3* db = nullptr;           // null when no journal could be opened at all
  core::UniqueFd lock;             // the flock on "<path>.lock", held for the journal's life
  std::vector<JournaledJob> jobs;  // in submission order
  std::string moved_aside;         // where an unusable journal went ("" if none was found)
  std::string problem;             // why it was moved aside, or why none could be opened
};

// Locks path, opens it (WAL, synchronous NORMAL or FULL), creates the schema in a new file
// and reads the jobs back. One that is corrupt, truncated or of a newer schema is moved
// aside (renamed, never deleted) and a new one is created in its place. One that cannot
// be written (its owner, a read-only mount) is left as it is: no journal, and why.
Opened open(const std::string& path, bool sync_full);
void closeDatabase(sqlite3* db);
// The main connection (open()'s: it creates the file and sets it up) or a side one (the
// writer thread's own, for checkpoints: job_journal_compaction.cc).
enum class Connection { kMain, kSide };
// Opens and configures a connection to the journal at path; nullptr (and *error) when it
// cannot be opened.
sqlite3* openConnection(const std::string& path, bool sync_full, Connection kind,
                        std::string* error);

// "what: SQLite's message".
std::string sqliteError(sqlite3* db, const char* what);
// Runs sql; false (and *error) when it fails.
bool exec(sqlite3* db, const char* sql, std::string* error);

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

}  // namespace wa::jobs::journal_db
