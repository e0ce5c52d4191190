// JOURNAL_STREAM matching and journal field names; the log sink switch.
#include "core/journal_stream.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "core/log.h"

namespace wa::core {
namespace {

TEST(JournalStreamTest, MatchesOnlyTheNamedFile) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  struct stat st {};
  ASSERT_EQ(::fstat(fds[1], &st), 0);
  const std::string mine = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  EXPECT_TRUE(fdIsJournalStream(mine.c_str(), fds[1]));
  EXPECT_TRUE(fdIsJournalStream(mine.c_str(), fds[0])) << "both ends are one pipe";
  const std::string other = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino + 1);
  EXPECT_FALSE(fdIsJournalStream(other.c_str(), fds[1]));
  EXPECT_FALSE(fdIsJournalStream(nullptr, fds[1]));
  EXPECT_FALSE(fdIsJournalStream("", fds[1]));
  EXPECT_FALSE(fdIsJournalStream((mine + "x").c_str(), fds[1]));
  EXPECT_FALSE(fdIsJournalStream(mine.c_str(), -1));
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(JournalStreamTest, FieldNames) {
  EXPECT_EQ(journalFieldName("job_id"), "JOB_ID");
  EXPECT_EQ(journalFieldName("container_id"), "CONTAINER_ID");
  EXPECT_EQ(journalFieldName("exit-code"), "EXIT_CODE");
  EXPECT_EQ(journalFieldName("_hidden"), "F_HIDDEN") << "a leading _ is the journal's own";
  EXPECT_EQ(journalFieldName("9lives"), "F9LIVES");
  EXPECT_EQ(journalFieldName(""), "F");
  EXPECT_EQ(journalFieldName(std::string(100, 'a')).size(), 64u);
}

std::vector<std::string> g_seen;
void testSink(LogLevel level, std::string_view message, const LogFields& fields) {
  g_seen.push_back(Log::formatLine(level, message, fields));
}

TEST(JournalStreamTest, SinkReceivesEventsAboveTheLevel) {
  g_seen.clear();
  Log::setSink(&testSink);
  Log::write(LogLevel::kInfo, "job finished", {{"job_id", "a"}, {"state", "finished"}});
  Log::write(LogLevel::kDebug, "not shown");
  Log::setSink(nullptr);
  EXPECT_EQ(g_seen, (std::vector<std::string>{"info job finished job_id=a state=finished"}));
}

}  // namespace
}  // namespace wa::core
