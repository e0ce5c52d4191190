// The journal's VFS (src/jobs/journal_vfs.h) over the default one, seen from below by a
// CountingVfs: a transaction's WAL frames reach the file system in one write, what is
// written reads back through the plain default VFS, and a failed write fails its
// transaction as before.
#include "jobs/journal_vfs.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "jobs/counting_vfs.h"

namespace wa::jobs {
namespace {

class JournalVfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/wa-journal-vfs-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/test.sqlite";
  }
  void TearDown() override {
    for (const char* extra : {"", "-wal", "-shm"}) ::unlink((path_ + extra).c_str());
    ::rmdir(dir_.c_str());
  }

  // A connection through vfs (nullptr: the default one), in WAL mode, with table t.
  sqlite3* open(const char* vfs) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs),
              SQLITE_OK);
    exec(db,
         "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
         "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, body BLOB)");
    sqlite3_wal_autocheckpoint(db, 0);  // the WAL is what is looked at
    return db;
  }
  static int exec(sqlite3* db, const std::string& sql) {
    char* message = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
    sqlite3_free(message);
    return rc;
  }
  static std::string insert(int id, int bytes) {
    return "INSERT INTO t VALUES(" + std::to_string(id) + ", zeroblob(" + std::to_string(bytes) +
           "))";
  }
  static std::string one(sqlite3* db, const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    return out;
  }

  std::string dir_;
  std::string path_;
};

// A transaction's frames reach the file system in one write (a big one in pieces of at
// most 64 KiB and a frame), and read back through the plain default VFS.
TEST_F(JournalVfsTest, ATransactionsFramesAreOneWriteAndReadBackWithoutIt) {
  constexpr int kFrame = 24 + 4096;
  {
    std::optional<CountingVfs> below(std::in_place);
    sqlite3* db = open(journal_vfs::name());  // its CREATE TABLE: one transaction
    ASSERT_EQ(exec(db, "BEGIN; " + insert(1, 100) + "; " + insert(2, 20000) + "; COMMIT"),
              SQLITE_OK);
    for (int i = 3; i < 40; ++i) ASSERT_EQ(exec(db, insert(i, 300 * i)), SQLITE_OK);
    const std::vector<int> small = below->walWrites();
    ASSERT_EQ(exec(db, insert(40, 300000)), SQLITE_OK);  // some 75 frames
    const std::vector<int> writes = below->walWrites();
    sqlite3_close(db);
    ASSERT_EQ(small.size(), 1u + 39u) << "the WAL's header, then a write a transaction";
    EXPECT_EQ(small.front(), 32) << "the WAL's own header";
    EXPECT_GE(small[2], 5 * kFrame) << "the 20,000 bytes' transaction, whole";
    ASSERT_GE(writes.size(), small.size() + 5);
    for (size_t i = 1; i < writes.size(); ++i) {
      EXPECT_EQ(writes[i] % kFrame, 0) << "write " << i << ": whole frames";
      EXPECT_LE(writes[i], 17 * kFrame) << "write " << i;
    }
  }
  // The plain default VFS reads what went through it (the WAL is recovered at the open).
  sqlite3* plain = open(nullptr);
  EXPECT_EQ(one(plain, "SELECT count(*) || ' ' || sum(length(body)) FROM t"),
            "40 " + std::to_string(100 + 20000 + 300 * (3 + 39) * 37 / 2 + 300000));
  EXPECT_EQ(one(plain, "PRAGMA integrity_check"), "ok");
  sqlite3_close(plain);
}

// A transaction bigger than the page cache spills pages to the WAL before its commit and
// reads them back within itself: held frames are written before any read.
TEST_F(JournalVfsTest, ATransactionThatSpillsReadsItsOwnFramesBack) {
  {
    std::optional<CountingVfs> below(std::in_place);
    sqlite3* db = open(journal_vfs::name());
    ASSERT_EQ(exec(db, "PRAGMA cache_size = 5"), SQLITE_OK);
    std::string batch = "BEGIN;";
    for (int i = 1; i <= 300; ++i) batch += insert(i, 1000) + ";";
    ASSERT_EQ(exec(db, batch), SQLITE_OK) << sqlite3_errmsg(db);
    EXPECT_EQ(one(db, "SELECT sum(length(body)) FROM t"), "300000");
    EXPECT_GT(below->walWrites().size(), 2u) << "nothing spilled before the commit";
    ASSERT_EQ(exec(db, "UPDATE t SET body = zeroblob(500) WHERE id % 2 = 0; COMMIT"), SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  sqlite3* plain = open(nullptr);
  EXPECT_EQ(one(plain, "SELECT count(*) || ' ' || sum(length(body)) FROM t"), "300 225000");
  EXPECT_EQ(one(plain, "PRAGMA integrity_check"), "ok");
  sqlite3_close(plain);
}

TEST_F(JournalVfsTest, AFailedWriteFailsItsTransactionAndNothingCommittedIsLost) {
  std::optional<CountingVfs> below(std::in_place);
  sqlite3* db = open(journal_vfs::name());
  ASSERT_EQ(exec(db, insert(1, 5000)), SQLITE_OK);
  below->fail_wal_writes = true;
  EXPECT_EQ(exec(db, insert(2, 5000)) & 0xff, SQLITE_FULL);
  below->fail_wal_writes = false;
  EXPECT_EQ(exec(db, insert(3, 5000)), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
  below.reset();
  sqlite3* plain = open(nullptr);
  EXPECT_EQ(one(plain, "SELECT group_concat(id) FROM t"), "1,3");
  EXPECT_EQ(one(plain, "PRAGMA integrity_check"), "ok");
  sqlite3_close(plain);
}

}  // namespace
}  // namespace wa::jobs
