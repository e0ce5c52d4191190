// The tables `worker-agent ctl` prints.
#include "ctl/views.h"

#include <gtest/gtest.h>

namespace wa::ctl {
namespace {

TEST(ViewsTest, Uptime) {
  EXPECT_EQ(formatUptime(0), "0 s");
  EXPECT_EQ(formatUptime(59), "59 s");
  EXPECT_EQ(formatUptime(60), "1 min");
  EXPECT_EQ(formatUptime(3599), "59 min");
  EXPECT_EQ(formatUptime(3660), "1 h 01 min");
  EXPECT_EQ(formatUptime(2 * 86400 + 4 * 3600 + 5), "2 d 4 h");
}

TEST(ViewsTest, TableColumnsFitTheirWidestCell) {
  EXPECT_EQ(formatTable({{"A", "BB", "C"}, {"long", "x", ""}, {"y"}}), "A     BB  C\nlong  x\ny\n");
}

TEST(ViewsTest, StatusOfADrainingDegradedWorkerWithoutInfo) {
  rapidjson::Document health;
  health.Parse(R"({"status":"degraded","reasons":["docker engine unreachable: refused"],
      "uptime_seconds":5,"running_jobs":2,"queued_jobs":1,"max_concurrent_jobs":2,
      "accepting_jobs":false,"draining":true,
      "docker":{"reachable":false,"ping_ms":null,"error":"refused"}})");
  const std::string out = formatStatus(health, nullptr);
  EXPECT_NE(out.find("worker          -, up 5 s\n"), std::string::npos) << out;
  EXPECT_NE(out.find("accepting jobs  no: draining (2 running and 1 queued still to finish"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("health          degraded: docker engine unreachable: refused\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("engine          unreachable: refused\n"), std::string::npos) << out;
}

TEST(ViewsTest, ChecksWithFixesAndASummary) {
  const std::string out =
      formatChecks({{"configuration", CheckLevel::kOk, "/etc/w.yaml is valid", ""},
                    {"engine socket", CheckLevel::kFail, "no socket at /x", "start the engine"},
                    {"exposure", CheckLevel::kWarn, "open", "set a token"}});
  EXPECT_EQ(out,
            "CHECK          RESULT  DETAIL\n"
            "configuration  ok      /etc/w.yaml is valid\n"
            "engine socket  FAIL    no socket at /x\n"
            "                       fix: start the engine\n"
            "exposure       warn    open\n"
            "                       fix: set a token\n"
            "1 problem to fix, 1 warning\n");
  EXPECT_EQ(formatChecks({{"c", CheckLevel::kOk, "fine", ""}}),
            "CHECK  RESULT  DETAIL\nc      ok      fine\nno problem found\n");
}

}  // namespace
}  // namespace wa::ctl
