// JobJournal's checkpoints and compaction (job_journal.h): the idle checkpoint, the
// forced one and its copying beside the loop's commits, and the free pages given back.
#include <sqlite3.h>

#include <algorithm>
#include <mutex>
#include <string>

#include "core/log.h"
#include "jobs/job_journal.h"
#include "jobs/journal_database.h"

namespace wa::jobs {
namespace {

using journal_db::exec;
constexpr auto kSide = journal_db::Connection::kSide;
using journal_db::Statement;

// Free pages (4 KiB) given back to the file system at a time, between commits, while a
// quarter of the file or more is free (and at least this many pages).
constexpr int kVacuumPages = 1024;
// The WAL is checkpointed into the database once it holds this many frames (4 KiB pages)
// and the writes pause (job_journal.cc, kQuietPeriod), or past kForcedCheckpointFrames
// whatever the load. Free pages are counted, and given back step by step, in the pauses
// too.
constexpr int kIdleCheckpointFrames = 1000;
constexpr int kForcedCheckpointFrames = 16384;
// A forced checkpoint copies beside the loop's commits (copyAhead) in passes, at most
// kCopyAheadPasses, until one copies fewer than kCopyAheadEnough frames: what the loop
// committed during that one is little, and compact() copies it holding the database.
constexpr int kCopyAheadPasses = 8;
constexpr int kCopyAheadEnough = 1024;
// Nor once the WAL holds this many frames (256 MiB): a loop that writes faster than the
// passes copy would grow it without bound, and the disk with it.
constexpr int kCopyAheadMaxFrames = 4 * kForcedCheckpointFrames;

// PRAGMA name's one integer; -1 when it cannot be read.
int pragmaInt(sqlite3* db, const char* sql) {
  Statement stmt(db, sql);
  return stmt && sqlite3_step(stmt.get()) == SQLITE_ROW ? sqlite3_column_int(stmt.get(), 0) : -1;
}

}  // namespace

bool JobJournal::compactionDue(bool idle, bool going_on) const {
  return (idle && (going_on || freed_pages_)) ||
         wal_frames_ >= (idle ? kIdleCheckpointFrames : kForcedCheckpointFrames);
}

bool JobJournal::compact(bool idle, bool going_on) {
  // Checkpoints are where SQLite syncs (the WAL before copying it, the database after):
  // done when idle (the caller's pause in the writes), so that they do not sit between a
  // submission and its 202, or past a bound whatever the load, so that the WAL stays
  // small. Pages that retention freed go back to the file system when idle,
  // kVacuumPages at a time with a checkpoint after each step (in WAL mode the file
  // shrinks there), so that a commit never waits behind more than one step, until none is
  // left. A journal whose free pages are few against its size keeps them: new rows reuse
  // them.
  int vacuum = 0;  // free pages to give back in this step
  // The free pages are counted (two statements) only after retention deleted something.
  if (idle && (going_on || freed_pages_)) {
    freed_pages_ = false;
    const int free_pages = std::max(0, pragmaInt(db_, "PRAGMA freelist_count"));
    const bool worth_it =
        free_pages >= kVacuumPages && free_pages * 4 >= pragmaInt(db_, "PRAGMA page_count");
    if (going_on || worth_it) vacuum = free_pages;
  }
  // Busy, the steps resume at the next idle moment.
  const bool resume = going_on && !idle;
  if (vacuum == 0 && wal_frames_ < (idle ? kIdleCheckpointFrames : kForcedCheckpointFrames)) {
    return resume;
  }
  if (vacuum > 0) {
    std::string error;
    const std::string sql = "PRAGMA incremental_vacuum(" + std::to_string(kVacuumPages) + ")";
    if (!exec(db_, sql.c_str(), &error)) {
      core::logWarning("journal: vacuum: ", error);
      vacuum = 0;
    }
  }
  // Idle, the WAL file is truncated, giving its space back. Forced, under load, it keeps
  // its size and is written again from its start (RESTART): freeing its blocks now, and
  // allocating them again, would hold the loop's commits up for longer; the next idle
  // checkpoint truncates it. Counted as empty after any attempt (a failed one may have
  // copied every frame): the next commit may start the WAL again, and so is the writer's,
  // as it syncs.
  sqlite3_wal_checkpoint_v2(db_, nullptr,
                            idle ? SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_RESTART, nullptr,
                            nullptr);
  wal_frames_ = 0;
  return resume || vacuum > kVacuumPages;
}

void JobJournal::holdExclusively() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!shared_) return;
    shared_ = false;
  }
  unpin();
  journal_db::closeDatabase(pin_);
  journal_db::closeDatabase(copier_);
  pin_ = copier_ = nullptr;
  // Taken at db_'s next transaction, and kept.
  std::string error;
  if (!exec(db_, "PRAGMA locking_mode = EXCLUSIVE", &error)) {
    core::logWarning("journal: locking_mode: ", error);
  }
}

void JobJournal::copyAhead() {
  // The writer's own connections, for this checkpoint only: while they are open, db_
  // cannot hold its locks (they keep a shared lock on the file).
  std::string error;
  const bool sync_full = !commit_on_loop_;
  if (copier_ == nullptr) copier_ = journal_db::openConnection(path_, sync_full, kSide, &error);
  if (copier_ != nullptr && pin_ == nullptr) {
    pin_ = journal_db::openConnection(path_, sync_full, kSide, &error);
  }
  if (pin_ == nullptr) {
    core::logWarning("journal: no second connection, the checkpoint stops the commits: ", error);
    return;
  }
  // Pass after pass, each up to a new pin, while the last one had much to copy: the loop
  // commits during each, and what it committed during the last is left for compact().
  // A new pin protects only while the WAL holds frames not yet copied (a reader that
  // starts on a WAL copied to its end reads the database file, and holds nothing back): so
  // another pass, and another pin, only if the loop committed during the last one.
  const auto loopCommits = [this] {
    std::lock_guard<std::mutex> lock(mutex_);
    return loop_commits_;
  };
  const auto writesWaiting = [this] {
    std::lock_guard<std::mutex> lock(mutex_);
    return !pending_.empty();
  };
  int copied_to = 0;  // frames copied so far
  for (int pass = 0; pass < kCopyAheadPasses; ++pass) {
    unpin();
    // Writes handed over to the writer (a commit on the loop failed) wait for it: the rest
    // of the copying is done holding db_, after them.
    if (writesWaiting()) return;
    // The pin: a read transaction, its snapshot taken before the checkpoint starts.
    if (!exec(pin_, "BEGIN; SELECT count(*) FROM sqlite_schema", &error)) {
      core::logWarning("journal: checkpoint: ", error);
      std::string ignored;
      exec(pin_, "ROLLBACK", &ignored);
      return;
    }
    pinned_ = true;
    // Counted once the snapshot is taken: a commit counted here is one the pin does not
    // hold, so the WAL will have frames the pass cannot copy.
    const uint64_t commits_before = loopCommits();
    int frames = 0;
    int copied = 0;
    if (sqlite3_wal_checkpoint_v2(copier_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied) !=
        SQLITE_OK) {
      return;
    }
    copied_ahead_ += static_cast<uint64_t>(std::max(0, copied - copied_to));
    if (copied - copied_to < kCopyAheadEnough || loopCommits() == commits_before ||
        frames >= kCopyAheadMaxFrames) {
      return;
    }
    copied_to = copied;
  }
}

void JobJournal::unpin() {
  if (!pinned_) return;
  std::string ignored;
  exec(pin_, "COMMIT", &ignored);
  pinned_ = false;
}

}  // namespace wa::jobs
