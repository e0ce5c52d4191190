// What each `worker-agent ctl` command asks the worker, prints and exits with, against a
// fake transport that answers as the worker would.
#include "ctl/commands.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <deque>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "ctl/ctl_options.h"

namespace wa::ctl {
namespace {

class FakeTransport final : public HttpTransport {
 public:
  HttpReply request(std::string_view method, std::string_view path) override {
    asked.push_back(std::string(method) + " " + std::string(path));
    if (replies.empty()) return HttpReply{0, "", "no reply scripted", 0};
    HttpReply reply = std::move(replies.front());
    replies.pop_front();
    return reply;
  }
  std::string where() const override { return "unix socket /run/w/api.sock"; }

  void answer(int status, std::string body) {
    replies.push_back(HttpReply{status, std::move(body), "", 0});
  }

  std::deque<HttpReply> replies;
  std::vector<std::string> asked;
};

constexpr const char* kHealth =
    R"({"status":"ok","uptime_seconds":3725,"load_average":[0.5,0.25,0.1],"running_jobs":1,
        "queued_jobs":2,"max_concurrent_jobs":4,"memory_total_mb":2000,"memory_available_mb":1500,
        "jobs_path":"/var/lib/worker-agent","jobs_disk_total_mb":100,"jobs_disk_available_mb":60,
        "docker_root_dir":"/var/lib/docker","docker_disk_total_mb":100,
        "docker_disk_available_mb":60,"docker":{"reachable":true,"ping_ms":0.41,"error":null},
        "accepting_jobs":true,"draining":false,
        "jobs":{"queued":2,"running":1,"accepted_total":17,"finished_total":12,"failed_total":2}})";
constexpr const char* kInfo =
    R"({"worker_id":"build-7","version":"0.1.0",
        "docker":{"server_version":"20.10.24","api_version":"1.41","min_api_version":"1.12",
                  "negotiated_api_version":"1.41"}})";

class CommandsTest : public ::testing::Test {
 protected:
  Commands commands(bool json = false) {
    Commands c(transport_, out_, err_, json);
    c.setClock([this] { return now_; },
               [this](std::chrono::milliseconds ms) {
                 now_ += ms;
                 ++sleeps_;
               });
    return c;
  }

  FakeTransport transport_;
  std::ostringstream out_;
  std::ostringstream err_;
  std::chrono::steady_clock::time_point now_{};
  int sleeps_ = 0;
};

TEST_F(CommandsTest, StatusShowsHealthAndIdentity) {
  transport_.answer(200, kHealth);
  transport_.answer(200, kInfo);
  EXPECT_EQ(commands().status(), kExitOk);
  EXPECT_EQ(transport_.asked, (std::vector<std::string>{"GET /health", "GET /info"}));
  const std::string out = out_.str();
  EXPECT_NE(out.find("worker          build-7 (worker-agent 0.1.0), up 1 h 02 min\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("accepting jobs  yes\n"), std::string::npos) << out;
  EXPECT_NE(out.find("1 running, 2 queued, 4 slots; since start 17 accepted, 12 finished, 2 "
                     "failed"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("engine          reachable, 20.10.24 (Engine API 1.41 spoken; the engine "
                     "speaks 1.12 to 1.41), ping 0.41 ms"),
            std::string::npos)
      << out;
}

TEST_F(CommandsTest, StatusJsonJoinsBothAnswers) {
  transport_.answer(200, "{\"status\":\"ok\"}");
  transport_.answer(401, "{\"error\":{}}");  // /info closed to this caller
  EXPECT_EQ(commands(true).status(), kExitOk);
  EXPECT_EQ(out_.str(), "{\"health\":{\"status\":\"ok\"},\"info\":null}\n");
}

TEST_F(CommandsTest, FailuresAndTheirExitStatus) {
  transport_.replies.push_back(HttpReply{0, "", "Couldn't connect to server", ENOENT});
  EXPECT_EQ(commands().status(), kExitUnreachable);
  EXPECT_NE(err_.str().find("cannot reach the worker at unix socket /run/w/api.sock"),
            std::string::npos);
  EXPECT_NE(err_.str().find("listen_unix"), std::string::npos) << err_.str();

  transport_.answer(401, R"({"error":{"code":"UNAUTHORIZED","message":"token"}})");
  EXPECT_EQ(commands().jobs("", 100), kExitUnreachable);
  EXPECT_NE(err_.str().find("--token-file"), std::string::npos) << err_.str();

  transport_.answer(404, R"({"job_id":"gone","state":"not_found"})");
  EXPECT_EQ(commands().cancel("gone"), kExitNotFound);
  EXPECT_NE(err_.str().find("no job gone on this worker"), std::string::npos) << err_.str();

  transport_.answer(403, R"({"error":{"code":"UNIX_SOCKET_ONLY","message":"only there"}})");
  EXPECT_EQ(commands().drain(false, std::chrono::seconds(0)), kExitFailed);
  EXPECT_NE(err_.str().find("UNIX_SOCKET_ONLY: only there; reach the worker on its unix socket"),
            std::string::npos)
      << err_.str();

  transport_.answer(409, R"({"error":{"code":"SHUTTING_DOWN","message":"shutting down"}})");
  EXPECT_EQ(commands().resume(), kExitFailed);
}

TEST_F(CommandsTest, JobsTable) {
  transport_.answer(200, R"({"jobs":[
      {"job_id":"a","state":"finished","created_at":"2026-11-28T10:00:00.000Z","duration_ms":712,
       "image":"busybox:1","exit_code":0,"error":null},
      {"job_id":"long-job-id","state":"failed","created_at":"2026-11-28T10:00:01.000Z",
       "duration_ms":5287,"image":"busybox:1","exit_code":null,
       "error":{"code":"TIMEOUT","message":"..."}},
      {"job_id":"q","state":"queued","created_at":"2026-11-28T10:00:02.000Z","duration_ms":null,
       "image":"busybox:1","exit_code":null,"error":null}],"count":3})");
  EXPECT_EQ(commands().jobs("failed", 5), kExitOk);
  EXPECT_EQ(transport_.asked, std::vector<std::string>{"GET /jobs?limit=5&state=failed"});
  EXPECT_EQ(out_.str(),
            "JOB ID       STATE     CREATED                   DURATION  IMAGE      RESULT\n"
            "a            finished  2026-11-28T10:00:00.000Z  0.7 s     busybox:1  exit 0\n"
            "long-job-id  failed    2026-11-28T10:00:01.000Z  5.3 s     busybox:1  TIMEOUT\n"
            "q            queued    2026-11-28T10:00:02.000Z  -         busybox:1  -\n"
            "3 jobs\n");
}

TEST_F(CommandsTest, CancelOneAndAll) {
  transport_.answer(202, R"({"job_id":"a/b c","state":"running","note":"Cancellation requested"})");
  EXPECT_EQ(commands().cancel("a/b c"), kExitOk);
  EXPECT_EQ(transport_.asked.back(), "DELETE /jobs/a%2Fb%20c");
  EXPECT_EQ(out_.str(), "a/b c: Cancellation requested (state running)\n");
  out_.str("");
  transport_.answer(200, R"({"cancelled":3,"cancel_requested":2})");
  EXPECT_EQ(commands().cancelAll(), kExitOk);
  EXPECT_EQ(transport_.asked.back(), "POST /operator/cancel-all");
  EXPECT_EQ(out_.str(),
            "cancelled 3 queued job(s); asked 2 running job(s) to stop (each ends failed, "
            "CANCELLED)\n");
}

TEST_F(CommandsTest, DrainWaitsUntilNoJobIsLeft) {
  transport_.answer(200,
                    R"({"draining":true,"accepting_jobs":false,"running_jobs":1,"queued_jobs":1})");
  transport_.answer(200, R"({"running_jobs":1,"queued_jobs":1})");
  transport_.answer(200, R"({"running_jobs":1,"queued_jobs":0})");
  transport_.answer(200, R"({"running_jobs":1,"queued_jobs":0})");
  transport_.answer(200, R"({"running_jobs":0,"queued_jobs":0})");
  EXPECT_EQ(commands().drain(true, std::chrono::seconds(0)), kExitOk);
  EXPECT_EQ(out_.str(),
            "draining: new jobs are refused (503 DRAINING); 1 running and 1 queued job(s) will "
            "finish\n");
  EXPECT_EQ(err_.str(),
            "waiting: 1 running and 1 queued\nwaiting: 1 running and 0 queued\n"
            "drained: no job is left\n");
  EXPECT_EQ(sleeps_, 3);
}

TEST_F(CommandsTest, DrainGivesUpAfterItsTimeout) {
  transport_.answer(200, R"({"draining":true,"running_jobs":1,"queued_jobs":0})");
  for (int i = 0; i < 10; ++i) transport_.answer(200, R"({"running_jobs":1,"queued_jobs":0})");
  EXPECT_EQ(commands().drain(true, std::chrono::seconds(3)), kExitFailed);
  EXPECT_NE(err_.str().find("still 1 running and 0 queued after 3 s"), std::string::npos)
      << err_.str();
  EXPECT_EQ(sleeps_, 3);
}

TEST_F(CommandsTest, ResumeSaysWhenJobsStillWait) {
  transport_.answer(200, R"({"draining":false,"accepting_jobs":true})");
  EXPECT_EQ(commands().resume(), kExitOk);
  EXPECT_EQ(out_.str(), "taking new jobs again\n");
  out_.str("");
  transport_.answer(200, R"({"draining":false,"accepting_jobs":false})");
  EXPECT_EQ(commands().resume(), kExitOk);
  EXPECT_NE(out_.str().find("takes no jobs yet"), std::string::npos);
}

TEST_F(CommandsTest, ReloadReportsTheWorkersOutcome) {
  bool answered = false;
  transport_.answer(200, R"({"reloaded":true,"applied":["labels","max_concurrent_jobs"],
                             "restart_needed":["port"]})");
  EXPECT_EQ(commands().reload(&answered), kExitOk);
  EXPECT_TRUE(answered);
  EXPECT_EQ(out_.str(),
            "configuration reloaded; applied: labels, max_concurrent_jobs; kept until a restart: "
            "port\n");

  transport_.answer(409, R"({"error":{"code":"CONFIG_REJECTED","message":"the configuration was
    rejected and nothing changed: w.yaml:1:1: port: bad"}})");
  EXPECT_EQ(commands().reload(&answered), kExitFailed);
  EXPECT_TRUE(answered);
  EXPECT_NE(err_.str().find("CONFIG_REJECTED"), std::string::npos);

  // Not taken there: the caller falls back, nothing printed.
  err_.str("");
  transport_.replies.push_back(HttpReply{0, "", "Couldn't connect", ENOENT});
  EXPECT_EQ(commands().reload(&answered), kExitUnreachable);
  EXPECT_FALSE(answered);
  transport_.answer(403, R"({"error":{"code":"UNIX_SOCKET_ONLY","message":"x"}})");
  EXPECT_EQ(commands().reload(&answered), kExitUnreachable);
  EXPECT_FALSE(answered);
  EXPECT_EQ(err_.str(), "");
}

TEST_F(CommandsTest, JsonPrintsTheAnswerAsItCame) {
  const std::string body = R"({"cancelled":0,"cancel_requested":0})";
  transport_.answer(200, body);
  EXPECT_EQ(commands(true).cancelAll(), kExitOk);
  EXPECT_EQ(out_.str(), body + "\n");
}

}  // namespace
}  // namespace wa::ctl
