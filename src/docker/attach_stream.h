// AttachStream: one container's stdin/stdout/stderr over a hijacked Engine API connection.
// It connects without blocking, sends the attach request with "Upgrade: tcp", waits for
// "101 UPGRADED" (or 200), then writes stdin, half-closes the socket so the container
// sees EOF, and demultiplexes the output frames until the engine closes the stream.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/deletable.h"
#include "docker/docker_types.h"

namespace wa::docker {

// What an attach asks for: a job's stdio (its stdin written once, then closed; the output
// from now on), or, to follow a container already running, its log from the start and
// then its output as it comes (logs=1, no stdin).
enum class AttachMode { kJobStdio, kFollowWithLog };

class AttachStream : public core::Deletable {
 public:
  struct Callbacks {
    std::function<void()> on_attached;  // the engine accepted the attach; start may follow
    std::function<void(StreamKind, std::string_view)> on_output;
    // The stream ended: nullopt on a clean EOF, else why it failed.
    std::function<void(std::optional<DockerError>)> on_closed;
  };
  ~AttachStream() override = default;  // destroying closes the connection, no callbacks after
  // Queues data for the container's stdin; after it is written the write side is shut
  // down (the container reads EOF). Call at most once; may be called before on_attached.
  virtual void writeStdinAndClose(std::string data) = 0;
  // Ends the stream now (the owner is done with it, possibly inside one of its callbacks):
  // no callback runs after this, and the connection is released after the batch.
  virtual void close() = 0;
  // True while output the engine sent waits unread on the connection. A timer that measures
  // the engine's silence can be due after a long turn of the loop with output waiting: this
  // tells a stalled stream from a worker that has not read yet.
  virtual bool hasUnreadOutput() const = 0;
};

}  // namespace wa::docker
