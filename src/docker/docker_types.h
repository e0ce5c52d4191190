// Types shared by the Docker Engine API client and its users.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace wa::docker {

// An error from the engine or from reaching it.
struct DockerError {
  int http_status = 0;  // 0: the engine could not be reached or answered garbage
  std::string message;  // the engine's "message" field, or a transport description
  // Nothing took the connection (the engine is stopped, its socket gone): unlike an
  // engine that answered badly or late, this says the engine is not there at all.
  bool connect_failed = false;
  // The connection was taken but broke before the answer was whole (reset, closed with
  // nothing or half an answer): the engine may have stopped under the request.
  bool connection_lost = false;
  // Either of the two: the engine was not there to give an answer.
  bool connectionLevel() const { return connect_failed || connection_lost; }
};

// Either a value or a DockerError.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}            // NOLINT(google-explicit-constructor)
  Result(DockerError error) : value_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return value_.index() == 0; }
  const T& value() const { return std::get<0>(value_); }
  T& value() { return std::get<0>(value_); }
  const DockerError& error() const { return std::get<1>(value_); }

 private:
  std::variant<T, DockerError> value_;
};

struct Unit {};

template <typename T>
using Callback = std::function<void(Result<T>)>;

struct ContainerSpec {
  std::string name;  // the container's name (?name=); "": one the engine makes up
  std::string image;
  std::vector<std::string> entrypoint;  // empty: the image's ENTRYPOINT
  std::vector<std::string> cmd;         // empty: the image's CMD
  std::vector<std::string> env;         // "KEY=value"
  std::map<std::string, std::string> labels;
  int64_t memory_bytes = 0;  // 0: no limit; MemorySwap is set equal (no extra swap)
  std::string network_mode = "none";
  bool open_stdin = true;  // OpenStdin + StdinOnce + AttachStdin
  // Isolation (HostConfig). Empty / 0 / false leaves the engine's default.
  int64_t nano_cpus = 0;                       // NanoCpus
  int64_t pids_limit = 0;                      // PidsLimit
  bool cap_drop_all = false;                   // CapDrop ["ALL"]
  bool no_new_privileges = false;              // SecurityOpt ["no-new-privileges"]
  bool read_only_rootfs = false;               // ReadonlyRootfs
  std::map<std::string, std::string> tmpfs;    // Tmpfs: mount point -> options ("rw,size=64m")
  std::vector<std::string> anonymous_volumes;  // Mounts of Type "volume" with no Source
  // The local driver's options for those volumes (VolumeOptions.DriverConfig), such as
  // {"type": "tmpfs", "device": "tmpfs", "o": "size=16m"}; empty: a plain volume.
  std::map<std::string, std::string> anonymous_volume_options;
  std::vector<std::string> volumes_from;  // VolumesFrom: containers whose volumes it mounts
  std::string cgroup_parent;              // CgroupParent; "": the engine's default
  std::string user;                       // User ("uid:gid")
  std::string working_dir;                // WorkingDir
  std::string runtime;                    // Runtime ("runsc"); empty: the engine's default
  // LogConfig.Type: "none" (the output comes through attach only), "k8s-file" (Podman),
  // or "": the engine's default.
  std::string log_driver;
  std::string log_max_size;  // LogConfig.Config "max-size" in bytes ("": none)
  std::string log_max_file;  // LogConfig.Config "max-file" ("": the driver's default)
};

// One container of GET /containers/json: what the worker needs to tell whose it is.
struct ContainerSummary {
  std::string id;
  std::string job_id;                         // its worker-agent.job_id label, "" if none
  std::string state;                          // "created", "running", "exited", ...
  std::map<std::string, std::string> labels;  // every label whose value is a string
};

// What GET /images/{name}/json tells about a local image.
struct ImageInfo {
  std::string id;                         // "sha256:..."
  std::vector<std::string> repo_digests;  // "name@sha256:..."
};

// One image of GET /images/json: what the image collector needs to choose and to log.
struct ImageSummary {
  std::string id;                         // "sha256:..."
  std::vector<std::string> repo_tags;     // "busybox:latest"; "<none>:<none>" left out
  std::vector<std::string> repo_digests;  // "busybox@sha256:..."
  int64_t size = 0;                       // Size: bytes, its shared layers counted in full
};

// The outcome of a streamed image operation (pull, build): the engine answers 200 and
// reports progress and errors as JSON lines, so success is known only at the end.
struct StreamedResult {
  std::string image_id;  // build: the aux ID; pull: empty (inspect the image)
  std::string log_tail;  // the last lines of "stream"/"status" text, bounded
};

struct ContainerState {
  bool running = false;
  std::optional<int64_t> exit_code;
  bool oom_killed = false;
  std::string error;     // State.Error
  std::string image_id;  // Image (sha256:...)
  std::string status;    // State.Status: "created", "running", "exited", ...
  // State.StartedAt and State.FinishedAt as the engine writes them (RFC 3339, nanoseconds);
  // a container never started has "0001-01-01T00:00:00Z".
  std::string started_at;
  std::string finished_at;
};

struct EngineVersion {
  std::string version;          // "20.10.24+dfsg1"
  std::string api_version;      // "1.41": ApiVersion, the newest version the engine speaks
  std::string min_api_version;  // "1.12": MinAPIVersion, its oldest; "" when not said
  std::string os;
  std::string arch;
  // Podman's Docker-compatible service (a "Podman Engine" in /version's Components): it
  // differs from the Docker engine in what the worker must say (docs/ENGINES.md).
  bool podman = false;
};

struct EngineInfo {
  std::string docker_root_dir;  // "/var/lib/docker"
  // The engine runs without root: Podman's "Rootless": true, or "name=rootless" among
  // Docker's SecurityOptions.
  bool rootless = false;
  std::string cgroup_version;  // CgroupVersion: "1", "2", or "" when not said
  std::string cgroup_driver;   // CgroupDriver: "cgroupfs", "systemd", or "" when not said
};

enum class StreamKind { kStdout = 1, kStderr = 2 };

}  // namespace wa::docker
