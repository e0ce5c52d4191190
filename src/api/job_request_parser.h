// JobRequestParser: turns a POST /jobs body into a validated JobSpec, or into the
// protocol's rejection (an HTTP status, an error code and a message naming the field).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jobs/image_policy.h"
#include "jobs/job.h"

namespace wa::api {

struct JobPolicy {
  std::vector<std::string> allowed_runtime_modes = {"image"};
  // Modes this build can run; a mode allowed by config but not here is still refused.
  std::vector<std::string> implemented_runtime_modes = {"image"};
  int64_t default_memory_mb = 512;
  int64_t default_max_runtime_seconds = 300;
  int64_t max_memory_mb = 8192;
  int64_t max_runtime_seconds = 86400;
};

struct Rejection {
  int status = 400;
  std::string code;                   // e.g. "MISSING_IMAGE"
  std::string message;                // names the field at fault
  std::optional<std::string> job_id;  // echoed back when the body had a usable one
};

struct ParsedJob {
  std::optional<jobs::JobSpec> spec;  // set when valid
  Rejection rejection;                // set otherwise
};

class JobRequestParser {
 public:
  JobRequestParser(JobPolicy policy, jobs::ImagePolicy images)
      : policy_(std::move(policy)), images_(std::move(images)) {}

  // body is the raw request body; it becomes the spec's job_json unchanged.
  ParsedJob parse(std::string_view body) const;

  static constexpr size_t kMaxJobIdBytes = 256;
  static constexpr int64_t kMinMemoryMb = 6;  // the engine refuses less

 private:
  JobPolicy policy_;
  jobs::ImagePolicy images_;
};

}  // namespace wa::api
