#include "api/job_request_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "core/text.h"

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

// The execution backend's fields: build mode, files, outputs, network, CPUs, isolation.
JobPolicy execPolicy() {
  JobPolicy policy;
  policy.allowed_runtime_modes = {"image", "build"};
  policy.default_cpus = 1.0;
  policy.max_cpus = 4.0;
  policy.allow_network = false;
  policy.max_job_files_bytes = 64;
  policy.max_build_context_bytes = 128;
  return policy;
}

JobRequestParser makeExecParser(JobPolicy policy = execPolicy()) {
  return JobRequestParser(std::move(policy), jobs::ImagePolicy({"runner:*", "busybox:1"}));
}

// A runtime object for image mode with extra members, e.g. R"("network":"none")".
std::string imageRuntime(const std::string& members) {
  return R"({"mode":"image","image":"runner:1")" + (members.empty() ? "" : "," + members) + "}";
}

std::string buildRuntime(const std::string& build, const std::string& members = "") {
  return R"({"mode":"build","build":)" + build + (members.empty() ? "" : "," + members) + "}";
}

// runtime.files (or a context) holding one file at path.
std::string oneFile(const std::string& path, const std::string& more = "") {
  return R"([{"path":)" + path + R"(,"content":"x")" + more + "}]";
}

std::string files(const std::string& list) { return job(imageRuntime(R"("files":)" + list)); }
std::string outputs(const std::string& list) { return job(imageRuntime(R"("outputs":)" + list)); }
std::string cpus(const std::string& value) {
  return job(imageRuntime(R"("limits":{"cpus":)" + value + "}"));
}

ParsedJob accept(const std::string& body, JobPolicy policy = execPolicy()) {
  ParsedJob parsed = makeExecParser(std::move(policy)).parse(body);
  EXPECT_TRUE(parsed.spec) << parsed.rejection.code << ": " << parsed.rejection.message;
  return parsed;
}

TEST(JobRequestParser, ImplementsBothModes) {
  EXPECT_EQ(JobPolicy{}.implemented_runtime_modes, (std::vector<std::string>{"image", "build"}));
  // Allowed by default: image only.
  EXPECT_EQ(JobPolicy{}.allowed_runtime_modes, std::vector<std::string>{"image"});
}

TEST(JobRequestParser, ImageJobWithEverything) {
  JobPolicy policy = execPolicy();
  policy.allow_network = true;
  const std::string body = job(
      imageRuntime(R"("network":"bridge","limits":{"cpus":2.5},)"
                   R"("files":[{"path":"src/main.cc","content":"int main(){}"},)"
                   R"({"path":"bin/run","content":"AAEC/w==","encoding":"base64","mode":"0755"},)"
                   R"({"path":"data","content":"","encoding":null,"mode":420}],)"
                   R"("outputs":["out/result.json","log.txt"])"));
  const ParsedJob parsed = accept(body, policy);
  ASSERT_TRUE(parsed.spec);
  const jobs::JobSpec& spec = *parsed.spec;
  EXPECT_EQ(spec.runtime_mode, "image");
  EXPECT_FALSE(spec.build);
  EXPECT_TRUE(spec.network);
  EXPECT_EQ(spec.limits.nano_cpus, 2'500'000'000);
  ASSERT_EQ(spec.files.size(), 3u);
  EXPECT_EQ(spec.files[0].path, "src/main.cc");
  EXPECT_EQ(spec.files[0].content, "int main(){}");
  EXPECT_EQ(spec.files[0].mode, 0644u);
  EXPECT_EQ(spec.files[1].path, "bin/run");
  EXPECT_EQ(spec.files[1].content, std::string("\0\1\2\xff", 4));
  EXPECT_EQ(spec.files[1].mode, 0755u);
  EXPECT_EQ(spec.files[2].content, "");
  EXPECT_EQ(spec.files[2].mode, 0644u);  // 420 is 0644
  EXPECT_EQ(spec.outputs, (std::vector<std::string>{"out/result.json", "log.txt"}));
  EXPECT_EQ(spec.job_json, body);
}

TEST(JobRequestParser, ExecutionDefaults) {
  const ParsedJob parsed = accept(job(imageRuntime("")));
  ASSERT_TRUE(parsed.spec);
  EXPECT_EQ(parsed.spec->runtime_mode, "image");
  EXPECT_FALSE(parsed.spec->network);
  EXPECT_EQ(parsed.spec->limits.nano_cpus, 1'000'000'000);
  EXPECT_TRUE(parsed.spec->files.empty());
  EXPECT_TRUE(parsed.spec->outputs.empty());
  // null means "not given" for every new member.
  const ParsedJob nulls = accept(job(imageRuntime(
      R"("network":null,"files":null,"outputs":null,"build":null,"limits":{"cpus":null})")));
  ASSERT_TRUE(nulls.spec);
  EXPECT_EQ(nulls.spec->limits.nano_cpus, 1'000'000'000);
  const ParsedJob none = accept(job(imageRuntime(R"("network":"none","files":[],"outputs":[])")));
  ASSERT_TRUE(none.spec);
  EXPECT_FALSE(none.spec->network);
}

TEST(JobRequestParser, DefaultCpus) {
  JobPolicy policy = execPolicy();
  policy.default_cpus = 0;
  EXPECT_EQ(accept(job(imageRuntime("")), policy).spec->limits.nano_cpus, 0);  // no limit
  policy.default_cpus = 8;  // above the ceiling of 4: the ceiling
  EXPECT_EQ(accept(job(imageRuntime("")), policy).spec->limits.nano_cpus, 4'000'000'000);
  policy.default_cpus = 0.25;
  EXPECT_EQ(accept(job(imageRuntime("")), policy).spec->limits.nano_cpus, 250'000'000);
}

TEST(JobRequestParser, CpusRoundToTheNearestBillionth) {
  EXPECT_EQ(accept(cpus("0.01")).spec->limits.nano_cpus, 10'000'000);
  EXPECT_EQ(accept(cpus("1")).spec->limits.nano_cpus, 1'000'000'000);
  EXPECT_EQ(accept(cpus("0.1")).spec->limits.nano_cpus, 100'000'000);
  EXPECT_EQ(accept(cpus("0.3333333333333")).spec->limits.nano_cpus, 333'333'333);
  EXPECT_EQ(accept(cpus("0.6666666666")).spec->limits.nano_cpus, 666'666'667);
  EXPECT_EQ(accept(cpus("4")).spec->limits.nano_cpus, 4'000'000'000);  // the ceiling itself
  EXPECT_EQ(accept(cpus("4.0000000001")).spec->limits.nano_cpus, 4'000'000'000);
  EXPECT_EQ(accept(cpus("4e0")).spec->limits.nano_cpus, 4'000'000'000);
  JobPolicy fractional = execPolicy();
  fractional.max_cpus = 0.3;
  EXPECT_EQ(accept(cpus("0.3"), fractional).spec->limits.nano_cpus, 300'000'000);
}

TEST(JobRequestParser, BuildJob) {
  const std::string body = job(buildRuntime(
      R"({"dockerfile":"FROM busybox\nCOPY run.sh /\n",)"
      R"("context":[{"path":"run.sh","content":"IyEvYmluL3No","encoding":"base64","mode":"0755"},)"
      R"({"path":"etc/dockerfile","content":"not the Dockerfile"}]})",
      R"("cmd":["/run.sh"],"files":[{"path":"input.txt","content":"hi"}])"));
  const ParsedJob parsed = accept(body);
  ASSERT_TRUE(parsed.spec);
  const jobs::JobSpec& spec = *parsed.spec;
  EXPECT_EQ(spec.runtime_mode, "build");
  EXPECT_EQ(spec.image, "");  // allowed_images does not apply
  ASSERT_TRUE(spec.build);
  EXPECT_EQ(spec.build->dockerfile, "FROM busybox\nCOPY run.sh /\n");
  ASSERT_EQ(spec.build->context.size(), 2u);
  EXPECT_EQ(spec.build->context[0].path, "run.sh");
  EXPECT_EQ(spec.build->context[0].content, "#!/bin/sh");
  EXPECT_EQ(spec.build->context[0].mode, 0755u);
  EXPECT_EQ(spec.build->context[1].path, "etc/dockerfile");
  EXPECT_EQ(spec.cmd, std::vector<std::string>{"/run.sh"});
  ASSERT_EQ(spec.files.size(), 1u);
  EXPECT_EQ(spec.files[0].path, "input.txt");
}

TEST(JobRequestParser, BuildJobWithoutContext) {
  const ParsedJob parsed = accept(job(buildRuntime(R"({"dockerfile":"FROM scratch"})")));
  ASSERT_TRUE(parsed.spec);
  ASSERT_TRUE(parsed.spec->build);
  EXPECT_TRUE(parsed.spec->build->context.empty());
  // The Dockerfile alone may use the whole limit.
  EXPECT_TRUE(accept(job(buildRuntime(R"({"dockerfile":")" + std::string(128, '#') + "\"}"))).spec);
  EXPECT_TRUE(accept(job(buildRuntime(R"({"dockerfile":")" + std::string(127, '#') +
                                      R"(","context":[{"path":"a","content":"b"}]})")))
                  .spec);
}

TEST(JobRequestParser, BuildIsRefusedWhereNotAllowed) {
  JobPolicy policy = execPolicy();
  policy.allowed_runtime_modes = {"image"};
  const ParsedJob parsed =
      makeExecParser(policy).parse(job(buildRuntime(R"({"dockerfile":"FROM scratch"})")));
  ASSERT_FALSE(parsed.spec);
  EXPECT_EQ(parsed.rejection.code, "RUNTIME_NOT_SUPPORTED");
  policy.allowed_runtime_modes = {"image", "build"};
  policy.implemented_runtime_modes = {"image"};
  EXPECT_EQ(makeExecParser(policy)
                .parse(job(buildRuntime(R"({"dockerfile":"FROM scratch"})")))
                .rejection.code,
            "RUNTIME_NOT_SUPPORTED");
}

TEST(JobRequestParser, PathsThatAreFine) {
  const std::string name255(255, 'n');
  const std::vector<std::string> lists = {
      R"([{"path":"ab","content":""},{"path":"a/b","content":""}])",
      R"([{"path":"a","content":""},{"path":"a.txt","content":""},{"path":"a-b/c","content":""}])",
      R"([{"path":"a/b","content":""},{"path":"a/c","content":""},{"path":"a/b2/c","content":""}])",
      R"([{"path":"...","content":""},{"path":".hidden","content":""},{"path":"a..b","content":""}])",
      R"([{"path":"\u00e9t\u00e9/\u00fc.txt","content":""},{"path":"a\\b","content":""}])",
      R"([{"path":"sp ace/x","content":""},{"path":"Dockerfile","content":""}])",
      "[{\"path\":\"" + name255 + "/" + name255 + "\",\"content\":\"\"}]"};
  for (const std::string& list : lists) {
    EXPECT_TRUE(accept(files(list)).spec) << list;
  }
  // An output may be an input file too: the job may rewrite it.
  EXPECT_TRUE(
      accept(job(imageRuntime(R"("files":[{"path":"a","content":""}],"outputs":["a","b/c"])")))
          .spec);
}

TEST(JobRequestParser, FileModes) {
  const auto mode = [](const std::string& value) {
    const ParsedJob parsed = accept(files(oneFile("\"f\"", ",\"mode\":" + value)));
    return parsed.spec ? parsed.spec->files.at(0).mode : 0xFFFFFFFFu;
  };
  EXPECT_EQ(mode("\"0755\""), 0755u);
  EXPECT_EQ(mode("\"755\""), 0755u);
  EXPECT_EQ(mode("\"0\""), 0u);
  EXPECT_EQ(mode("\"7777\""), 07777u);
  EXPECT_EQ(mode("\"04755\""), 04755u);
  EXPECT_EQ(mode("493"), 0755u);
  EXPECT_EQ(mode("493.0"), 0755u);
  EXPECT_EQ(mode("0"), 0u);
  EXPECT_EQ(mode("4095"), 07777u);
  EXPECT_EQ(mode("null"), 0644u);
}

TEST(JobRequestParser, LimitsOfCount) {
  std::string thousand = "[";
  for (int i = 0; i < 1000; ++i) {
    thousand +=
        (i ? "," : "") + std::string(R"({"path":"f)") + std::to_string(i) + R"(","content":""})";
  }
  EXPECT_TRUE(accept(files(thousand + "]")).spec);
  const ParsedJob more = makeExecParser().parse(files(thousand + R"(,{"path":"g","content":""}])"));
  ASSERT_FALSE(more.spec);
  EXPECT_EQ(more.rejection.code, "INVALID_FILES");
  EXPECT_EQ(more.rejection.message, "runtime.files has 1001 files; at most 1000 are accepted");

  std::string sixty_four = "[";
  for (int i = 0; i < 64; ++i) sixty_four += (i ? ",\"o" : "\"o") + std::to_string(i) + "\"";
  EXPECT_TRUE(accept(outputs(sixty_four + "]")).spec);
  const ParsedJob too_many = makeExecParser().parse(outputs(sixty_four + ",\"p\"]"));
  ASSERT_FALSE(too_many.spec);
  EXPECT_EQ(too_many.rejection.code, "INVALID_OUTPUTS");
  EXPECT_EQ(too_many.rejection.message, "runtime.outputs has 65 paths; at most 64 are accepted");
}

TEST(JobRequestParser, FilesBytesAreCountedDecoded) {
  // 64 bytes decoded fit the limit of 64 although the base64 text is longer.
  const std::string b64 = core::base64Encode(std::string(64, 'z'));
  EXPECT_TRUE(
      accept(files(R"([{"path":"f","content":")" + b64 + R"(","encoding":"base64"}])")).spec);
  const ParsedJob over =
      makeExecParser().parse(files(R"([{"path":"f","content":")" + std::string(60, 'z') +
                                   R"("},{"path":"g","content":"12345"}])"));
  ASSERT_FALSE(over.spec);
  EXPECT_EQ(over.rejection.code, "INVALID_FILES");
  EXPECT_EQ(over.rejection.message,
            "runtime.files[1] brings runtime.files to 65 bytes, over this worker's "
            "max_job_files_bytes of 64");
}

TEST(JobRequestParser, ExactMessages) {
  const auto message = [](const std::string& body) {
    return makeExecParser().parse(body).rejection.message;
  };
  EXPECT_EQ(message(files(R"([{"path":"a","content":""},{"path":"b","content":""},)"
                          R"({"path":"../x","content":""}])")),
            "runtime.files[2].path \"../x\" escapes the workspace");
  EXPECT_EQ(message(files(R"([{"path":"a","content":""},{"path":"a/b","content":""}])")),
            "runtime.files[1].path \"a/b\" is inside runtime.files[0].path \"a\", which is a file");
  EXPECT_EQ(message(files(R"([{"path":"a/b/c","content":""},{"path":"a/b","content":""}])")),
            "runtime.files[1].path \"a/b\" is a directory of runtime.files[0].path \"a/b/c\"");
  EXPECT_EQ(message(files(R"([{"path":"x","content":""},{"path":"x","content":""}])")),
            "runtime.files[1].path \"x\" is also runtime.files[0].path");
  EXPECT_EQ(message(outputs(R"(["x/y","x"])")),
            "runtime.outputs[1] \"x\" is a directory of runtime.outputs[0] \"x/y\"");
  EXPECT_EQ(message(job(imageRuntime(R"("privileged":false)"))),
            "runtime.privileged is not accepted: the worker alone sets how a job's container "
            "is isolated");
  EXPECT_EQ(message(job(imageRuntime(R"("network":"bridge")"))),
            "runtime.network \"bridge\" is not allowed on this worker (allow_network is off)");
  EXPECT_EQ(message(cpus("5")), "runtime.limits.cpus 5 exceeds this worker's max_cpus of 4");
  EXPECT_EQ(message(cpus("0")), "runtime.limits.cpus must be at least 0.01");
  EXPECT_EQ(message(job(buildRuntime(
                R"({"dockerfile":"FROM x","context":[{"path":"Dockerfile","content":""}]})"))),
            "runtime.build.context[0].path \"Dockerfile\" is taken: the Dockerfile is "
            "runtime.build.dockerfile");
  EXPECT_EQ(message(job(buildRuntime(R"({"dockerfile":")" + std::string(100, '#') +
                                     R"(","context":[{"path":"a","content":")" +
                                     std::string(29, 'a') + "\"}]}"))),
            "runtime.build.context[0] brings the Dockerfile and context to 129 bytes, over this "
            "worker's max_build_context_bytes of 128");
  EXPECT_EQ(message(job(R"({"mode":"image","image":"Runner:1"})")),
            "runtime.image is not a valid image reference: repository name must be lowercase");
}

class ExecRejections : public ::testing::TestWithParam<Case> {};

TEST_P(ExecRejections, NameTheCodeAndField) {
  const Case& c = GetParam();
  auto parsed = makeExecParser().parse(c.body);
  ASSERT_FALSE(parsed.spec) << c.name;
  EXPECT_EQ(parsed.rejection.code, c.code) << c.name << ": " << parsed.rejection.message;
  EXPECT_EQ(parsed.rejection.status, c.status);
  EXPECT_NE(parsed.rejection.message.find(c.field), std::string::npos)
      << c.name << ": " << parsed.rejection.message;
  ASSERT_TRUE(parsed.rejection.job_id);
  EXPECT_EQ(*parsed.rejection.job_id, "j");
}

std::string caseName(const ::testing::TestParamInfo<Case>& info) {
  std::string name = info.param.name;
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(
    Cpus, ExecRejections,
    ::testing::Values(Case{"string", cpus("\"2\""), "INVALID_LIMITS", "runtime.limits.cpus"},
                      Case{"bool", cpus("true"), "INVALID_LIMITS", "runtime.limits.cpus"},
                      Case{"array", cpus("[1]"), "INVALID_LIMITS", "runtime.limits.cpus"},
                      Case{"zero", cpus("0"), "INVALID_LIMITS", "at least 0.01"},
                      Case{"tiny", cpus("0.001"), "INVALID_LIMITS", "at least 0.01"},
                      Case{"just under", cpus("0.0099"), "INVALID_LIMITS", "at least 0.01"},
                      Case{"negative", cpus("-1"), "INVALID_LIMITS", "runtime.limits.cpus"},
                      Case{"over", cpus("4.5"), "LIMIT_EXCEEDED", "max_cpus of 4"},
                      Case{"just over", cpus("4.000000001"), "LIMIT_EXCEEDED", "max_cpus"},
                      Case{"huge", cpus("1e300"), "LIMIT_EXCEEDED", "max_cpus"},
                      Case{"huge integer", cpus("18446744073709551615"), "LIMIT_EXCEEDED",
                           "max_cpus"}),
    caseName);

INSTANTIATE_TEST_SUITE_P(
    Network, ExecRejections,
    ::testing::Values(
        Case{"host", job(imageRuntime(R"("network":"host")")), "INVALID_NETWORK",
             "runtime.network"},
        Case{"capitalized", job(imageRuntime(R"("network":"Bridge")")), "INVALID_NETWORK",
             "runtime.network"},
        Case{"container", job(imageRuntime(R"("network":"container:abc")")), "INVALID_NETWORK",
             "runtime.network"},
        Case{"empty", job(imageRuntime(R"("network":"")")), "INVALID_NETWORK", "runtime.network"},
        Case{"number", job(imageRuntime(R"("network":1)")), "INVALID_NETWORK", "runtime.network"},
        Case{"true", job(imageRuntime(R"("network":true)")), "INVALID_NETWORK", "runtime.network"},
        Case{"bridge not allowed", job(imageRuntime(R"("network":"bridge")")),
             "NETWORK_NOT_ALLOWED", "allow_network"}),
    caseName);

INSTANTIATE_TEST_SUITE_P(
    Isolation, ExecRejections,
    ::testing::Values(
        Case{"privileged", job(imageRuntime(R"("privileged":true)")), "FORBIDDEN_FIELD",
             "runtime.privileged"},
        Case{"privileged false", job(imageRuntime(R"("privileged":false)")), "FORBIDDEN_FIELD",
             "runtime.privileged"},
        Case{"cap_add", job(imageRuntime(R"("cap_add":["SYS_ADMIN"])")), "FORBIDDEN_FIELD",
             "runtime.cap_add"},
        Case{"devices", job(imageRuntime(R"("devices":["/dev/kvm"])")), "FORBIDDEN_FIELD",
             "runtime.devices"},
        Case{"volumes", job(imageRuntime(R"("volumes":{"/":{}})")), "FORBIDDEN_FIELD",
             "runtime.volumes"},
        Case{"binds", job(imageRuntime(R"("binds":["/:/host"])")), "FORBIDDEN_FIELD",
             "runtime.binds"},
        Case{"mounts", job(imageRuntime(R"("mounts":[])")), "FORBIDDEN_FIELD", "runtime.mounts"},
        Case{"host_config", job(imageRuntime(R"("host_config":{"Privileged":true})")),
             "FORBIDDEN_FIELD", "runtime.host_config"},
        Case{"security_opt", job(imageRuntime(R"("security_opt":["seccomp=unconfined"])")),
             "FORBIDDEN_FIELD", "runtime.security_opt"},
        Case{"user", job(imageRuntime(R"("user":"0:0")")), "FORBIDDEN_FIELD", "runtime.user"},
        Case{"network_mode", job(imageRuntime(R"("network_mode":"host")")), "FORBIDDEN_FIELD",
             "runtime.network_mode"},
        Case{"ipc", job(imageRuntime(R"("ipc":"host")")), "FORBIDDEN_FIELD", "runtime.ipc"},
        Case{"pid", job(imageRuntime(R"("pid":"host")")), "FORBIDDEN_FIELD", "runtime.pid"},
        Case{"null counts", job(imageRuntime(R"("pid":null)")), "FORBIDDEN_FIELD", "runtime.pid"},
        Case{"in build mode", job(buildRuntime(R"({"dockerfile":"FROM x"})", R"("binds":[])")),
             "FORBIDDEN_FIELD", "runtime.binds"},
        Case{"before the mode", job(R"({"mode":"vm","privileged":true})"), "FORBIDDEN_FIELD",
             "runtime.privileged"}),
    caseName);

INSTANTIATE_TEST_SUITE_P(
    Files, ExecRejections,
    ::testing::Values(
        Case{"object", files("{}"), "INVALID_FILES", "runtime.files must be an array"},
        Case{"string", files("\"a\""), "INVALID_FILES", "runtime.files must be an array"},
        Case{"item string", files(R"(["a"])"), "INVALID_FILES", "runtime.files[0] must be"},
        Case{"item null", files("[null]"), "INVALID_FILES", "runtime.files[0] must be"},
        Case{"no path", files(R"([{"content":""}])"), "INVALID_FILES", "runtime.files[0].path"},
        Case{"path number", files(oneFile("1")), "INVALID_FILES", "runtime.files[0].path"},
        Case{"path null", files(oneFile("null")), "INVALID_FILES", "runtime.files[0].path"},
        Case{"path empty", files(oneFile("\"\"")), "INVALID_FILES", "must not be empty"},
        Case{"dot dot", files(oneFile("\"..\"")), "INVALID_FILES", "escapes the workspace"},
        Case{"dot dot first", files(oneFile("\"../x\"")), "INVALID_FILES",
             "runtime.files[0].path \"../x\" escapes the workspace"},
        Case{"dot dot inside", files(oneFile("\"a/../../x\"")), "INVALID_FILES", "escapes"},
        Case{"dot dot last", files(oneFile("\"a/..\"")), "INVALID_FILES", "escapes"},
        Case{"absolute", files(oneFile("\"/etc/passwd\"")), "INVALID_FILES",
             "\"/etc/passwd\" must be relative"},
        Case{"root", files(oneFile("\"/\"")), "INVALID_FILES", "must be relative"},
        Case{"dot", files(oneFile("\".\"")), "INVALID_FILES", "\".\" component"},
        Case{"dot first", files(oneFile("\"./a\"")), "INVALID_FILES", "\".\" component"},
        Case{"dot inside", files(oneFile("\"a/./b\"")), "INVALID_FILES", "\".\" component"},
        Case{"double slash", files(oneFile("\"a//b\"")), "INVALID_FILES", "empty component"},
        Case{"trailing slash", files(oneFile("\"a/\"")), "INVALID_FILES", "empty component"},
        Case{"nul", files(oneFile(R"("a\u0000b")")), "INVALID_FILES", "control characters"},
        Case{"newline", files(oneFile(R"("a\nb")")), "INVALID_FILES", "control characters"},
        Case{"escape", files(oneFile(R"("\u001b[31m")")), "INVALID_FILES", "control characters"},
        Case{"delete", files(oneFile(R"("a\u007f")")), "INVALID_FILES", "control characters"},
        Case{"long component", files(oneFile("\"" + std::string(256, 'c') + "\"")), "INVALID_FILES",
             "longer than 255 bytes"},
        Case{"long path",
             files(oneFile("\"" + std::string(200, 'a') + "/" + std::string(200, 'b') + "/" +
                           std::string(200, 'c') + "/" + std::string(200, 'd') + "/" +
                           std::string(200, 'e') + "/" + std::string(20, 'f') + "\"")),
             "INVALID_FILES", "longer than 1024 bytes"},
        Case{"duplicate", files(R"([{"path":"a","content":""},{"path":"a","content":""}])"),
             "INVALID_FILES", "runtime.files[1].path \"a\" is also runtime.files[0].path"},
        Case{"file then child", files(R"([{"path":"a","content":""},{"path":"a/b","content":""}])"),
             "INVALID_FILES", "runtime.files[1].path \"a/b\" is inside"},
        Case{"child then file", files(R"([{"path":"a/b","content":""},{"path":"a","content":""}])"),
             "INVALID_FILES", "runtime.files[1].path \"a\" is a directory of"},
        Case{"deep child",
             files(R"([{"path":"a/b/c/d","content":""},{"path":"a/b","content":""}])"),
             "INVALID_FILES", "is a directory of"},
        Case{"no content", files(R"([{"path":"a"}])"), "INVALID_FILES", "runtime.files[0].content"},
        Case{"content number", files(R"([{"path":"a","content":1}])"), "INVALID_FILES",
             "runtime.files[0].content"},
        Case{"content null", files(R"([{"path":"a","content":null}])"), "INVALID_FILES",
             "runtime.files[0].content"},
        Case{"encoding hex", files(oneFile("\"a\"", R"(,"encoding":"hex")")), "INVALID_FILES",
             "runtime.files[0].encoding"},
        Case{"encoding upper", files(oneFile("\"a\"", R"(,"encoding":"BASE64")")), "INVALID_FILES",
             "runtime.files[0].encoding"},
        Case{"encoding number", files(oneFile("\"a\"", R"(,"encoding":64)")), "INVALID_FILES",
             "runtime.files[0].encoding"},
        Case{"base64 newline",
             files(R"([{"path":"a","content":"Zm9v\nYmFy","encoding":"base64"}])"), "INVALID_FILES",
             "runtime.files[0].content is not valid base64"},
        Case{"base64 unpadded", files(R"([{"path":"a","content":"Zg","encoding":"base64"}])"),
             "INVALID_FILES", "not valid base64"},
        Case{"base64 stray bits", files(R"([{"path":"a","content":"Zh==","encoding":"base64"}])"),
             "INVALID_FILES", "not valid base64"},
        Case{"base64 url alphabet", files(R"([{"path":"a","content":"-_-_","encoding":"base64"}])"),
             "INVALID_FILES", "not valid base64"},
        Case{"base64 data url",
             files(R"([{"path":"a","content":"data:;base64,Zm9v","encoding":"base64"}])"),
             "INVALID_FILES", "not valid base64"},
        Case{"mode too big", files(oneFile("\"a\"", R"(,"mode":4096)")), "INVALID_FILES",
             "runtime.files[0].mode"},
        Case{"mode negative", files(oneFile("\"a\"", R"(,"mode":-1)")), "INVALID_FILES",
             "runtime.files[0].mode"},
        Case{"mode fraction", files(oneFile("\"a\"", R"(,"mode":1.5)")), "INVALID_FILES",
             "runtime.files[0].mode"},
        Case{"mode 0o", files(oneFile("\"a\"", R"(,"mode":"0o755")")), "INVALID_FILES",
             "runtime.files[0].mode"},
        Case{"mode not octal", files(oneFile("\"a\"", R"(,"mode":"0800")")), "INVALID_FILES",
             "runtime.files[0].mode"},
        Case{"mode empty", files(oneFile("\"a\"", R"(,"mode":"")")), "INVALID_FILES",
             "runtime.files[0].mode"},
        Case{"mode over 07777", files(oneFile("\"a\"", R"(,"mode":"17777")")), "INVALID_FILES",
             "runtime.files[0].mode"},
        Case{"mode six digits", files(oneFile("\"a\"", R"(,"mode":"000755")")), "INVALID_FILES",
             "runtime.files[0].mode"},
        Case{"mode blank", files(oneFile("\"a\"", R"(,"mode":" 755")")), "INVALID_FILES",
             "runtime.files[0].mode"},
        Case{"mode bool", files(oneFile("\"a\"", R"(,"mode":true)")), "INVALID_FILES",
             "runtime.files[0].mode"},
        Case{"too many bytes",
             files(oneFile("\"a\"").replace(oneFile("\"a\"").find("\"x\""), 3,
                                            "\"" + std::string(65, 'x') + "\"")),
             "INVALID_FILES", "max_job_files_bytes of 64"},
        Case{"duplicate member", files(R"([{"path":"a","path":"b","content":""}])"), "INVALID_BODY",
             "twice"}),
    caseName);

INSTANTIATE_TEST_SUITE_P(
    Outputs, ExecRejections,
    ::testing::Values(
        Case{"string", outputs("\"out\""), "INVALID_OUTPUTS", "runtime.outputs must be an array"},
        Case{"object", outputs("{}"), "INVALID_OUTPUTS", "runtime.outputs must be an array"},
        Case{"number item", outputs("[1]"), "INVALID_OUTPUTS", "runtime.outputs[0] must be"},
        Case{"null item", outputs("[null]"), "INVALID_OUTPUTS", "runtime.outputs[0] must be"},
        Case{"escape", outputs(R"(["ok","../x"])"), "INVALID_OUTPUTS",
             "runtime.outputs[1] \"../x\" escapes the workspace"},
        Case{"absolute", outputs(R"(["/etc/shadow"])"), "INVALID_OUTPUTS", "must be relative"},
        Case{"empty", outputs(R"([""])"), "INVALID_OUTPUTS", "runtime.outputs[0] must not be"},
        Case{"dot", outputs(R"(["./a"])"), "INVALID_OUTPUTS", "\".\" component"},
        Case{"double slash", outputs(R"(["a//b"])"), "INVALID_OUTPUTS", "empty component"},
        Case{"control", outputs(R"(["a\tb"])"), "INVALID_OUTPUTS", "control characters"},
        Case{"duplicate", outputs(R"(["a","a"])"), "INVALID_OUTPUTS",
             "runtime.outputs[1] \"a\" is also runtime.outputs[0]"},
        Case{"nested", outputs(R"(["a","a/b"])"), "INVALID_OUTPUTS", "is inside"}),
    caseName);

INSTANTIATE_TEST_SUITE_P(
    Build, ExecRejections,
    ::testing::Values(
        Case{"image too", job(buildRuntime(R"({"dockerfile":"FROM x"})", R"("image":"runner:1")")),
             "INVALID_BUILD", "runtime.image must not be given"},
        Case{"no build", job(R"({"mode":"build"})"), "INVALID_BUILD", "runtime.build is required"},
        Case{"build string", job(buildRuntime("\"FROM x\"")), "INVALID_BUILD",
             "runtime.build must be an object"},
        Case{"no dockerfile", job(buildRuntime("{}")), "INVALID_BUILD", "runtime.build.dockerfile"},
        Case{"empty dockerfile", job(buildRuntime(R"({"dockerfile":""})")), "INVALID_BUILD",
             "runtime.build.dockerfile"},
        Case{"dockerfile array", job(buildRuntime(R"({"dockerfile":["FROM x"]})")), "INVALID_BUILD",
             "runtime.build.dockerfile"},
        Case{"dockerfile too big",
             job(buildRuntime(R"({"dockerfile":")" + std::string(129, '#') + "\"}")),
             "INVALID_BUILD", "max_build_context_bytes of 128"},
        Case{"context Dockerfile",
             job(buildRuntime(R"({"dockerfile":"FROM x","context":)" + oneFile("\"Dockerfile\"") +
                              "}")),
             "INVALID_BUILD", "runtime.build.context[0].path \"Dockerfile\""},
        Case{"context under Dockerfile",
             job(buildRuntime(R"({"dockerfile":"FROM x","context":)" + oneFile("\"Dockerfile/x\"") +
                              "}")),
             "INVALID_BUILD", "runtime.build.context[0].path \"Dockerfile/x\" is taken"},
        Case{"context string", job(buildRuntime(R"({"dockerfile":"FROM x","context":"."})")),
             "INVALID_FILES", "runtime.build.context must be an array"},
        Case{
            "context escape",
            job(buildRuntime(R"({"dockerfile":"FROM x","context":)" + oneFile("\"../etc\"") + "}")),
            "INVALID_FILES", "runtime.build.context[0].path \"../etc\" escapes"},
        Case{"context absolute",
             job(buildRuntime(R"({"dockerfile":"FROM x","context":)" + oneFile("\"/x\"") + "}")),
             "INVALID_FILES", "runtime.build.context[0].path"},
        Case{
            "context base64",
            job(buildRuntime(
                R"({"dockerfile":"FROM x","context":[{"path":"a","content":"!","encoding":"base64"}]})")),
            "INVALID_FILES", "runtime.build.context[0].content"},
        Case{"context too big",
             job(buildRuntime(R"({"dockerfile":")" + std::string(120, '#') +
                              R"(","context":[{"path":"a","content":"123456789"}]})")),
             "INVALID_BUILD", "max_build_context_bytes"},
        Case{"build in image mode", job(imageRuntime(R"("build":{"dockerfile":"FROM x"})")),
             "INVALID_BUILD", "runtime.build is only for"},
        Case{"build files checked too",
             job(buildRuntime(R"({"dockerfile":"FROM x"})",
                              R"("files":[{"path":"/x","content":""}])")),
             "INVALID_FILES", "runtime.files[0].path"}),
    caseName);

INSTANTIATE_TEST_SUITE_P(
    Images, ExecRejections,
    ::testing::Values(
        Case{"uppercase", job(R"({"mode":"image","image":"Runner:1"})"), "MISSING_IMAGE",
             "runtime.image is not a valid image reference"},
        Case{"dot dot", job(R"({"mode":"image","image":"../runner:1"})"), "MISSING_IMAGE",
             "runtime.image"},
        Case{"empty component", job(R"({"mode":"image","image":"a//runner:1"})"), "MISSING_IMAGE",
             "runtime.image"},
        Case{"short digest", job(R"({"mode":"image","image":"runner@sha256:abc"})"),
             "MISSING_IMAGE", "runtime.image"},
        Case{"image id", job(R"({"mode":"image","image":"sha256:)" + std::string(64, 'a') + "\"}"),
             "MISSING_IMAGE", "image id"},
        Case{"tag glob", job(R"({"mode":"image","image":"runner:*"})"), "MISSING_IMAGE",
             "runtime.image"},
        Case{"digest of an any-tag pattern",
             job(R"({"mode":"image","image":"runner@sha256:)" + std::string(64, 'a') + "\"}"),
             "IMAGE_NOT_ALLOWED", "runtime.image"},
        Case{"other registry", job(R"({"mode":"image","image":"localhost/runner:1"})"),
             "IMAGE_NOT_ALLOWED", "runtime.image"}),
    caseName);

TEST(JobRequestParser, HubSpellingsOfAnAllowedImageAreAllowed) {
  for (const char* image : {"busybox:1", "library/busybox:1", "docker.io/busybox:1",
                            "docker.io/library/busybox:1", "index.docker.io/library/busybox:1"}) {
    const ParsedJob parsed =
        makeExecParser().parse(job(std::string(R"({"mode":"image","image":")") + image + "\"}"));
    ASSERT_TRUE(parsed.spec) << image << ": " << parsed.rejection.message;
    EXPECT_EQ(parsed.spec->image, image);  // kept as the master wrote it
  }
}

TEST(JobRequestParser, IsolationNamesOutsideRuntimeAreNotFields) {
  // Only runtime's own members are how a job asks for isolation; the payload is the
  // image's business.
  EXPECT_TRUE(accept(R"({"protocol_version":1,"job_id":"j","task":{"type":"t","payload":)"
                     R"({"privileged":true,"user":"root"}},"runtime":)" +
                     imageRuntime(R"("limits":{"privileged":true})") + "}")
                  .spec);
}

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
