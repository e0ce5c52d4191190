#include "jobs/output_recovery.h"

#include <gtest/gtest.h>

#include <string>

namespace wa::jobs {
namespace {

std::string frame(char stream, const std::string& payload) {
  std::string f(8, '\0');
  f[0] = stream;
  const auto n = static_cast<uint32_t>(payload.size());
  f[4] = static_cast<char>(n >> 24);
  f[5] = static_cast<char>(n >> 16);
  f[6] = static_cast<char>(n >> 8);
  f[7] = static_cast<char>(n);
  return f + payload;
}

CapturedOutput received(const std::string& bytes, size_t limit = 1 << 20) {
  CapturedOutput out;
  out.append(bytes, limit);
  return out;
}

// Podman's /logs answer: one frame per logged line, streams interleaved as written.
TEST(OutputRecovery, SplitsTheLogByStream) {
  const auto logged = splitLoggedOutput(frame(1, "7\n") + frame(2, "warn\n") + frame(1, "8"));
  ASSERT_TRUE(logged);
  EXPECT_EQ(logged->stdout_data, "7\n8");
  EXPECT_EQ(logged->stderr_data, "warn\n");
  EXPECT_TRUE(splitLoggedOutput(""));
  EXPECT_FALSE(splitLoggedOutput(frame(1, "7\n").substr(0, 6))) << "a frame cut short";
  EXPECT_FALSE(splitLoggedOutput(std::string("\x07\0\0\0\0\0\0\x01x", 9))) << "no such stream";
}

// The loss seen: a job that printed one line and exited, and a stream that delivered none.
TEST(OutputRecovery, NothingReceivedTakesTheWholeLog) {
  const auto missed = missedByAttach(CapturedOutput{}, "42\n");
  ASSERT_TRUE(missed);
  EXPECT_EQ(*missed, "42\n");
}

// The usual reset: the stream had everything already, and nothing is added twice.
TEST(OutputRecovery, EverythingReceivedAddsNothing) {
  const auto missed = missedByAttach(received("42\n"), "42\n");
  ASSERT_TRUE(missed);
  EXPECT_EQ(*missed, "");
}

TEST(OutputRecovery, AReceivedPrefixGetsTheRest) {
  const CapturedOutput out = received("line 1\nline");
  const std::string log = "line 1\nline 2\nline 3\n";
  const auto missed = missedByAttach(out, log);
  ASSERT_TRUE(missed);
  EXPECT_EQ(out.data + std::string(*missed), log);
}

// Past the cap only the count of received bytes is known; the rest starts after all of them.
TEST(OutputRecovery, ACappedStreamContinuesAfterItsTotal) {
  const CapturedOutput out = received("abcdef", 4);
  ASSERT_EQ(out.data, "abcd");
  ASSERT_EQ(out.total_bytes, 6u);
  const auto missed = missedByAttach(out, "abcdefgh");
  ASSERT_TRUE(missed);
  EXPECT_EQ(*missed, "gh");
}

// A log that does not continue the stream (started afresh at max-size, or other bytes) is
// not used: appending from it could repeat or invent output.
TEST(OutputRecovery, ALogThatDoesNotContinueTheStreamIsRefused) {
  EXPECT_FALSE(missedByAttach(received("line 1\nline 2\n"), "line 2\n")) << "shorter";
  EXPECT_FALSE(missedByAttach(received("line 1\n"), "other 1\nline 2\n")) << "different";
  EXPECT_FALSE(missedByAttach(received("abcdef", 4), "abcd")) << "shorter than the total";
}

// The replay of an adopted container's log, in chunks cut anywhere: the held prefix is
// dropped, the rest comes out once.
TEST(ReplayJoin, DropsTheHeldPrefixAcrossChunksAndYieldsTheRest) {
  CapturedOutput held = received("line1\nli");
  ReplayJoin join(held);
  EXPECT_EQ(join.next("lin"), "");
  EXPECT_EQ(join.next("e1\nline2"), "ne2");
  held.append("ne2", 1 << 20);  // what the run captures grows the held stream
  EXPECT_EQ(join.next("\n"), "\n");
  EXPECT_EQ(join.next("line3\n"), "line3\n");
}

TEST(ReplayJoin, NothingHeldYieldsEverything) {
  const CapturedOutput held;
  ReplayJoin join(held);
  EXPECT_EQ(join.next("abc"), "abc");
}

TEST(ReplayJoin, AReplayThatDisagreesStopsForGood) {
  const CapturedOutput held = received("first part");
  ReplayJoin join(held);
  EXPECT_EQ(join.next("first"), "");
  EXPECT_FALSE(join.next(" tail of a rotated log")) << "not what was held";
  EXPECT_FALSE(join.next("more")) << "nothing after a divergence";
}

// Past the cap only the total was kept: those bytes are skipped unchecked.
TEST(ReplayJoin, BytesPastTheCapAreSkippedByCount) {
  const CapturedOutput held = received("abcdef", 4);
  ASSERT_EQ(held.total_bytes, 6u);
  ReplayJoin join(held);
  EXPECT_EQ(join.next("abcdXYgh"), "gh") << "XY were held, beyond the cap, as a count";
  ReplayJoin wrong(held);
  EXPECT_FALSE(wrong.next("abXdefgh"));
}

}  // namespace
}  // namespace wa::jobs
