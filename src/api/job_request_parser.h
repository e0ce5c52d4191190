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
  std::vector<std::string> implemented_runtime_modes = {"image", "build"};
  int64_t default_memory_mb = 512;
  int64_t default_max_runtime_seconds = 300;
  int64_t max_memory_mb = 8192;
  int64_t max_runtime_seconds = 86400;
  // runtime.limits.cpus: the default (0: no limit) and the ceiling, which must be
  // positive (the daemon turns max_cpus 0 into the host's CPU count). A default above
  // the ceiling gives the ceiling.
  double default_cpus = 1.0;
  double max_cpus = 1.0;
  bool allow_network = false;             // may a job ask for runtime.network "bridge"
  int64_t max_job_files_bytes = 4194304;  // runtime.files, decoded, all together
  // runtime.build: the Dockerfile and the context files, decoded, all together.
  int64_t max_build_context_bytes = 16777216;
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
  static constexpr double kMinCpus = 0.01;    // likewise
  // Workspace paths (runtime.files, runtime.build.context, runtime.outputs): bytes per
  // component (NAME_MAX) and in all.
  static constexpr size_t kMaxPathComponentBytes = 255;
  static constexpr size_t kMaxPathBytes = 1024;
  static constexpr size_t kMaxFiles = 1000;  // per list
  static constexpr size_t kMaxOutputs = 64;
  static constexpr uint32_t kMaxFileMode = 07777;

 private:
  JobPolicy policy_;
  jobs::ImagePolicy images_;
};

}  // namespace wa::api
