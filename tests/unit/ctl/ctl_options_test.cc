// The command line of `worker-agent ctl`: commands, their options, and what is refused.
#include "ctl/ctl_options.h"

#include <gtest/gtest.h>

#include <string_view>
#include <vector>

namespace wa::ctl {
namespace {

ParsedCommandLine parse(const std::vector<std::string_view>& args) {
  return parseCommandLine(args);
}

std::string errorOf(const std::vector<std::string_view>& args) {
  const ParsedCommandLine parsed = parse(args);
  EXPECT_FALSE(parsed.options.has_value());
  return parsed.error;
}

TEST(CtlOptionsTest, CommandsAndTheirOptions) {
  ParsedCommandLine p = parse({"status"});
  ASSERT_TRUE(p.options);
  EXPECT_EQ(p.options->command, Command::kStatus);
  EXPECT_FALSE(p.options->config_path.has_value());
  EXPECT_EQ(p.options->timeout, std::chrono::seconds(10));

  p = parse({"--config", "/etc/w.yaml", "jobs", "--state", "failed", "--limit=5", "--json"});
  ASSERT_TRUE(p.options) << p.error;
  EXPECT_EQ(p.options->command, Command::kJobs);
  EXPECT_EQ(p.options->config_path, "/etc/w.yaml");
  EXPECT_EQ(p.options->state, "failed");
  EXPECT_EQ(p.options->limit, 5);
  EXPECT_TRUE(p.options->json);

  p = parse({"cancel", "job 7"});
  ASSERT_TRUE(p.options) << p.error;
  EXPECT_EQ(p.options->job_id, "job 7");
  EXPECT_FALSE(p.options->all);
  p = parse({"cancel", "--all"});
  ASSERT_TRUE(p.options) << p.error;
  EXPECT_TRUE(p.options->all);

  p = parse({"drain", "--wait", "--wait-timeout", "600"});
  ASSERT_TRUE(p.options) << p.error;
  EXPECT_TRUE(p.options->wait);
  EXPECT_EQ(p.options->wait_timeout, std::chrono::seconds(600));

  p = parse({"reload", "--pid", "4242", "--socket", "/run/worker-agent/api.sock"});
  ASSERT_TRUE(p.options) << p.error;
  EXPECT_EQ(p.options->pid, 4242);
  EXPECT_EQ(p.options->socket_path, "/run/worker-agent/api.sock");

  p = parse({"check", "--user", "svc", "--url", "http://127.0.0.1:9000/", "--timeout", "3"});
  ASSERT_TRUE(p.options) << p.error;
  EXPECT_EQ(p.options->user, "svc");
  EXPECT_EQ(p.options->url, "http://127.0.0.1:9000");
  EXPECT_EQ(p.options->timeout, std::chrono::seconds(3));

  EXPECT_EQ(parse({"resume"}).options->command, Command::kResume);
  EXPECT_TRUE(parse({"status", "--help"}).help);
  EXPECT_TRUE(parse({"-h"}).help);
}

TEST(CtlOptionsTest, MistakesAreNamed) {
  EXPECT_EQ(errorOf({}), "no command given");
  EXPECT_EQ(errorOf({"stop"}), "unknown command \"stop\"");
  EXPECT_EQ(errorOf({"status", "--verbose"}), "unknown option --verbose");
  EXPECT_EQ(errorOf({"cancel"}), "cancel takes one job id, or --all");
  EXPECT_EQ(errorOf({"cancel", "a", "b"}), "cancel takes one job id, or --all");
  EXPECT_EQ(errorOf({"cancel", "a", "--all"}), "cancel takes one job id, or --all");
  EXPECT_EQ(errorOf({"status", "extra"}), "unexpected argument \"extra\"");
  EXPECT_EQ(errorOf({"status", "--all"}), "--all does not go with this command");
  EXPECT_EQ(errorOf({"drain", "--pid", "7"}), "--pid does not go with this command");
  EXPECT_EQ(errorOf({"drain", "--wait-timeout", "5"}), "--wait-timeout goes with --wait");
  EXPECT_EQ(errorOf({"jobs", "--state", "done"}),
            "--state must be queued, running, finished or failed");
  EXPECT_EQ(errorOf({"jobs", "--limit", "0"}), "--limit needs a whole number from 1 to 10000");
  EXPECT_EQ(errorOf({"status", "--timeout", "1s"}),
            "--timeout needs a whole number of seconds from 1 to 3600");
  EXPECT_EQ(errorOf({"status", "--socket", "api.sock"}), "--socket needs an absolute path");
  EXPECT_EQ(errorOf({"status", "--url", "https://w:9000"}), "--url needs http://HOST:PORT");
  EXPECT_EQ(errorOf({"status", "--socket", "/a", "--url", "http://w:1"}),
            "give --socket or --url, not both");
  EXPECT_EQ(errorOf({"reload", "--pid", "1"}), "--pid needs a process id");
  EXPECT_EQ(errorOf({"status", "--json=yes"}), "--json takes no value");
  EXPECT_EQ(errorOf({"status", "--config"}), "--config needs a file");
}

}  // namespace
}  // namespace wa::ctl
