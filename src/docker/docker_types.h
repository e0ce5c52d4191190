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
  std::string image;
  std::vector<std::string> cmd;  // empty: the image's CMD
  std::vector<std::string> env;  // "KEY=value"
  std::map<std::string, std::string> labels;
  int64_t memory_bytes = 0;  // 0: no limit; MemorySwap is set equal (no extra swap)
  std::string network_mode = "none";
  bool open_stdin = true;  // OpenStdin + StdinOnce + AttachStdin
};

struct ContainerState {
  bool running = false;
  std::optional<int64_t> exit_code;
  bool oom_killed = false;
  std::string error;     // State.Error
  std::string image_id;  // Image (sha256:...)
};

struct EngineVersion {
  std::string version;      // "20.10.24+dfsg1"
  std::string api_version;  // "1.41"
  std::string os;
  std::string arch;
};

struct EngineInfo {
  std::string docker_root_dir;  // "/var/lib/docker"
};

enum class StreamKind { kStdout = 1, kStderr = 2 };

}  // namespace wa::docker
