// Job: one submitted job and everything the worker learns while running it.
// The record is owned by JobStore; the scheduler and runner refer to it by pointer
// while it is queued or running (the store never drops a job in those states).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wa::jobs {

enum class JobState { kQueued, kRunning, kFinished, kFailed };

// The protocol's name of a state: "queued", "running", "finished", "failed".
const char* stateName(JobState state);
// Parses a protocol state name; false if unknown.
bool parseState(std::string_view text, JobState* out);
inline bool isTerminal(JobState s) { return s == JobState::kFinished || s == JobState::kFailed; }

struct JobLimits {
  int64_t memory_mb = 0;
  int64_t max_runtime_seconds = 0;
  int64_t nano_cpus = 0;  // CPU time in billionths of a CPU (runtime.limits.cpus); 0: no limit
};

// One file the job brings: runtime.files, or a build context entry. Validated at
// submission: path is relative, normalized ("a/b.txt", no "." or ".." parts, no
// leading "/"), unique within its list; content is the decoded bytes.
struct JobFile {
  std::string path;
  std::string content;
  uint32_t mode = 0644;  // permission bits only
};

// runtime.build: the Dockerfile and the files of the build context.
struct BuildSpec {
  std::string dockerfile;        // the Dockerfile's text
  std::vector<JobFile> context;  // never contains "Dockerfile" (the field above is it)
};

// What the master asked for, validated.
struct JobSpec {
  std::string job_id;
  std::string task_type;
  std::string image;
  std::vector<std::string> cmd;                          // empty: the image's CMD
  std::vector<std::pair<std::string, std::string>> env;  // in submission order
  JobLimits limits;                                      // effective (defaults applied)
  std::string runtime_mode = "image";                    // "image" or "build"
  std::optional<BuildSpec> build;                        // set for mode "build"; image is ""
  std::vector<JobFile> files;        // runtime.files, placed under the workspace
  std::vector<std::string> outputs;  // runtime.outputs: normalized workspace-relative paths
  bool network = false;              // runtime.network "bridge", allowed by policy
  std::string job_json;              // the request body exactly as received; written to stdin
};

// Why a job failed: a stable code (NON_ZERO_EXIT, TIMEOUT, OOM_KILLED, CANCELLED,
// DOCKER_ERROR) and a sentence for people.
struct JobError {
  std::string code;
  std::string message;
  // The engine was not there (nothing took the connection, or it broke) before anything
  // of the job existed in it: the job did not run, and the scheduler queues it again
  // rather than failing it. Never part of a record.
  bool engine_unreached = false;
};

// One captured output stream, capped: bytes past the cap are counted, not kept.
struct CapturedOutput {
  std::string data;
  bool truncated = false;
  uint64_t total_bytes = 0;  // everything the container wrote to this stream

  // Keeps what fits under limit; returns how many leading bytes of chunk were kept.
  size_t append(std::string_view chunk, size_t limit) {
    total_bytes += chunk.size();
    const size_t room = data.size() < limit ? limit - data.size() : 0;
    const size_t kept = std::min(room, chunk.size());
    data.append(chunk.substr(0, kept));
    if (kept < chunk.size()) truncated = true;
    return kept;
  }
};

// One runtime.outputs path as collected from the workspace after the container exited.
struct OutputFile {
  std::string path;
  std::string data;  // at most the configured cap
  bool truncated = false;
  bool found = false;  // false: the job did not leave a regular file at that path
  uint64_t size = 0;   // the file's full size
};

// The isolation a run actually had, recorded for reproducibility (set when it starts).
struct RunSettings {
  std::string network = "none";  // "none" or "bridge"
  int64_t pids_limit = 0;        // 0: none
  bool read_only_rootfs = false;
  std::string user;               // "uid:gid"; empty: the image's user
  std::string container_runtime;  // empty: the engine's default
  std::string workspace;          // the workspace directory inside the container
};

// What a job's container used, read once it stopped (the record's usage). A field the
// kernel does not tell is unset.
struct JobUsage {
  std::optional<double> cpu_seconds;  // user and system CPU time
  std::optional<uint64_t> memory_peak_bytes;
  std::optional<uint64_t> io_read_bytes;
  std::optional<uint64_t> io_write_bytes;
  std::optional<uint64_t> pids_peak;
  // "cgroup": read from the job's own cgroup after its exit, the whole run; "sampled": the
  // host sampler's last reading before the exit, which may miss up to sample_interval_ms
  // of CPU time and I/O at the end.
  std::string source;
};

struct Job {
  JobSpec spec;
  JobState state = JobState::kQueued;
  uint64_t sequence = 0;  // submission order, set by the store
  int64_t created_at_ms = 0;
  std::optional<int64_t> started_at_ms;
  std::optional<int64_t> finished_at_ms;
  std::optional<int64_t> exit_code;
  CapturedOutput stdout_output;
  CapturedOutput stderr_output;
  bool oom_killed = false;
  std::optional<JobError> error;
  std::string container_id;  // while known
  // The workspace keeper's container while the run has one (volume workspaces). Not
  // journaled: after a restart the start-up recovery finds it by its label.
  std::string keeper_id;
  std::string image_id;       // the image content id that ran (from inspect)
  std::string image_ref;      // the image as the job named it, or the tag of the image built for it
  bool image_pulled = false;  // this job pulled its image
  bool image_built = false;   // this job built its image (false: an identical build was reused)
  std::vector<OutputFile> output_files;  // runtime.outputs, in request order
  std::optional<JobUsage> usage;         // once its container stopped; unset if it never ran
  RunSettings run_settings;
  // Times the job went back to the queue because the engine was away when it started.
  uint32_t engine_requeues = 0;
  // The journal has the job (always, without a journal): only then may it start.
  bool durable = true;
  // DELETE came while it ran: should the run end in going back to the queue (it never got
  // to run), it ends CANCELLED instead.
  bool cancel_requested = false;
};

}  // namespace wa::jobs
