#include "api/job_request_parser.h"

#include <gtest/gtest.h>

#include <string>

namespace wa::api {
namespace {

JobRequestParser makeParser() {
  JobPolicy policy;
  policy.default_memory_mb = 256;
  policy.default_max_runtime_seconds = 60;
  policy.max_memory_mb = 1024;
  policy.max_runtime_seconds = 600;
  return JobRequestParser(policy, jobs::ImagePolicy({"runner:*", "busybox:1"}));
}

const char* kValid = R"({"protocol_version": 1, "job_id": "job-1",
  "task": {"type": "compile_and_run_cpp", "payload": {"x": 1}},
  "runtime": {"mode": "image", "image": "runner:1.0", "cmd": ["cat"],
              "env": {"A": "x", "N": 3, "B": true, "F": 1.5, "T": 0.1},
              "limits": {"memory_mb": 512, "max_runtime_seconds": 5}}})";

TEST(JobRequestParser, AcceptsTheProtocolExample) {
  auto parsed = makeParser().parse(kValid);
  ASSERT_TRUE(parsed.spec) << parsed.rejection.code << ": " << parsed.rejection.message;
  const auto& spec = *parsed.spec;
  EXPECT_EQ(spec.job_id, "job-1");
  EXPECT_EQ(spec.task_type, "compile_and_run_cpp");
  EXPECT_EQ(spec.image, "runner:1.0");
  EXPECT_EQ(spec.cmd, std::vector<std::string>{"cat"});
  using Env = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(spec.env, (Env{{"A", "x"}, {"N", "3"}, {"B", "true"}, {"F", "1.5"}, {"T", "0.1"}}));
  EXPECT_EQ(spec.limits.memory_mb, 512);
  EXPECT_EQ(spec.limits.max_runtime_seconds, 5);
  EXPECT_EQ(spec.job_json, kValid);
}

TEST(JobRequestParser, DefaultsApplyWhenLimitsAreAbsent) {
  auto parsed = makeParser().parse(
      R"({"protocol_version":1,"job_id":"a","task":{"type":"t"},"runtime":{"mode":"image","image":"busybox:1"}})");
  ASSERT_TRUE(parsed.spec);
  EXPECT_EQ(parsed.spec->limits.memory_mb, 256);
  EXPECT_EQ(parsed.spec->limits.max_runtime_seconds, 60);
  EXPECT_TRUE(parsed.spec->cmd.empty());
}

struct Case {
  const char* name;
  std::string body;
  const char* code;
  const char* field;  // the message must name it
  int status = 400;
};

// Names the case in test listings instead of dumping its bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::string job(const std::string& runtime, const std::string& extra = "") {
  return R"({"protocol_version":1,"job_id":"j","task":{"type":"t"},"runtime":)" + runtime + extra +
         "}";
}

class Rejections : public ::testing::TestWithParam<Case> {};

TEST_P(Rejections, NameTheCodeAndField) {
  const Case& c = GetParam();
  auto parsed = makeParser().parse(c.body);
  ASSERT_FALSE(parsed.spec) << c.name;
  EXPECT_EQ(parsed.rejection.code, c.code) << c.name << ": " << parsed.rejection.message;
  EXPECT_EQ(parsed.rejection.status, c.status);
  EXPECT_NE(parsed.rejection.message.find(c.field), std::string::npos)
      << c.name << ": " << parsed.rejection.message;
}

const std::string kImage = R"({"mode":"image","image":"runner:1"})";

INSTANTIATE_TEST_SUITE_P(
    EveryCode, Rejections,
    ::testing::Values(
        Case{"not json", "{nope", "INVALID_BODY", "JSON"},
        Case{"array", "[1,2]", "INVALID_BODY", "object"}, Case{"empty", "", "INVALID_BODY", "JSON"},
        Case{"byte order mark", "\xEF\xBB\xBF{}", "INVALID_BODY", "byte order mark"},
        Case{"no version", R"({"job_id":"j"})", "UNSUPPORTED_PROTOCOL_VERSION", "protocol_version"},
        Case{"version 2", R"({"protocol_version":2,"job_id":"j"})", "UNSUPPORTED_PROTOCOL_VERSION",
             "protocol_version"},
        Case{"version string", R"({"protocol_version":"1","job_id":"j"})",
             "UNSUPPORTED_PROTOCOL_VERSION", "protocol_version"},
        Case{"no job_id", R"({"protocol_version":1})", "MISSING_JOB_ID", "job_id"},
        Case{"empty job_id", R"({"protocol_version":1,"job_id":""})", "MISSING_JOB_ID", "job_id"},
        Case{"numeric job_id", R"({"protocol_version":1,"job_id":7})", "MISSING_JOB_ID", "job_id"},
        Case{"long job_id", R"({"protocol_version":1,"job_id":")" + std::string(257, 'x') + "\"}",
             "INVALID_JOB_ID", "job_id"},
        Case{"control job_id", R"({"protocol_version":1,"job_id":"a\nb"})", "INVALID_JOB_ID",
             "job_id"},
        Case{"nul job_id", R"({"protocol_version":1,"job_id":"a\u0000b"})", "INVALID_JOB_ID",
             "job_id"},
        Case{"no task", R"({"protocol_version":1,"job_id":"j","runtime":{}})", "MISSING_TASK",
             "task"},
        Case{"task string", R"({"protocol_version":1,"job_id":"j","task":"x"})", "INVALID_TASK",
             "task"},
        Case{"task without type", R"({"protocol_version":1,"job_id":"j","task":{}})",
             "INVALID_TASK", "task.type"},
        Case{"no runtime", R"({"protocol_version":1,"job_id":"j","task":{"type":"t"}})",
             "MISSING_RUNTIME", "runtime"},
        Case{"runtime array", job("[]"), "MISSING_RUNTIME", "runtime"},
        Case{"no mode", job(R"({"image":"runner:1"})"), "BAD_RUNTIME_MODE", "runtime.mode"},
        Case{"odd mode", job(R"({"mode":"vm","image":"runner:1"})"), "BAD_RUNTIME_MODE",
             "runtime.mode"},
        Case{"build mode", job(R"({"mode":"build","image":"runner:1"})"), "RUNTIME_NOT_SUPPORTED",
             "runtime.mode"},
        Case{"no image", job(R"({"mode":"image"})"), "MISSING_IMAGE", "runtime.image"},
        Case{"empty image", job(R"({"mode":"image","image":""})"), "MISSING_IMAGE",
             "runtime.image"},
        Case{"not allowed", job(R"({"mode":"image","image":"evil:1"})"), "IMAGE_NOT_ALLOWED",
             "runtime.image"},
        Case{"cmd string", job(R"({"mode":"image","image":"runner:1","cmd":"ls"})"), "INVALID_CMD",
             "runtime.cmd"},
        Case{"cmd number", job(R"({"mode":"image","image":"runner:1","cmd":["ls",1]})"),
             "INVALID_CMD", "runtime.cmd"},
        Case{"env array", job(R"({"mode":"image","image":"runner:1","env":["A=1"]})"),
             "INVALID_ENV", "runtime.env"},
        Case{"env object value", job(R"({"mode":"image","image":"runner:1","env":{"A":{}}})"),
             "INVALID_ENV", "runtime.env.A"},
        Case{"env key with =", job(R"({"mode":"image","image":"runner:1","env":{"A=B":"1"}})"),
             "INVALID_ENV", "runtime.env"},
        Case{"limits string", job(R"({"mode":"image","image":"runner:1","limits":"big"})"),
             "INVALID_LIMITS", "runtime.limits"},
        Case{"memory fraction",
             job(R"({"mode":"image","image":"runner:1","limits":{"memory_mb":1.5}})"),
             "INVALID_LIMITS", "runtime.limits.memory_mb"},
        Case{"memory tiny", job(R"({"mode":"image","image":"runner:1","limits":{"memory_mb":1}})"),
             "INVALID_LIMITS", "runtime.limits.memory_mb"},
        Case{"runtime zero",
             job(R"({"mode":"image","image":"runner:1","limits":{"max_runtime_seconds":0}})"),
             "INVALID_LIMITS", "runtime.limits.max_runtime_seconds"},
        Case{"memory over ceiling",
             job(R"({"mode":"image","image":"runner:1","limits":{"memory_mb":4096}})"),
             "LIMIT_EXCEEDED", "max_memory_mb"},
        Case{"runtime over ceiling",
             job(R"({"mode":"image","image":"runner:1","limits":{"max_runtime_seconds":1e9}})"),
             "LIMIT_EXCEEDED", "max_runtime_seconds"},
        Case{"duplicate key", job(kImage, R"(,"job_id":"k")"), "INVALID_BODY", "twice"}),
    [](const ::testing::TestParamInfo<Case>& info) {
      std::string name = info.param.name;
      for (char& ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return name;
    });

TEST(JobRequestParser, DeepNestingIsRejectedWithoutCrashing) {
  std::string deep = R"({"protocol_version":1,"job_id":"j","task":{"type":"t","payload":)";
  deep += std::string(100000, '[') + std::string(100000, ']') + "}}";
  auto parsed = makeParser().parse(deep);
  EXPECT_FALSE(parsed.spec);  // no runtime; what matters is that parsing did not overflow the stack
  EXPECT_EQ(parsed.rejection.code, "MISSING_RUNTIME");
}

TEST(JobRequestParser, RejectionEchoesAUsableJobId) {
  auto parsed = makeParser().parse(R"({"protocol_version":2,"job_id":"mine"})");
  ASSERT_TRUE(parsed.rejection.job_id);
  EXPECT_EQ(*parsed.rejection.job_id, "mine");
}

}  // namespace
}  // namespace wa::api
