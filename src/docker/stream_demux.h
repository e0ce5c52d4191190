// StreamDemux: splits Docker's multiplexed attach stream (8-byte header: stream type,
// 3 zero bytes, big-endian 32-bit length; then the payload) into stdout/stderr chunks.
// Frames may arrive split across reads at any byte.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/deletable.h"
#include "docker/docker_types.h"

namespace wa::docker {

// Deletable: a stream freed inside its own output hands its demultiplexer to the loop.
class StreamDemux final : public core::Deletable {
 public:
  using Sink = std::function<void(StreamKind, std::string_view)>;
  explicit StreamDemux(Sink sink) : sink_(std::move(sink)) {}
  // Feeds bytes; returns false (and stays failed) on a malformed header.
  bool feed(std::string_view data);
  // True when no frame is half-received (a clean end of stream).
  bool atFrameBoundary() const;

 private:
  Sink sink_;
  unsigned char header_[8];
  size_t header_have_ = 0;
  uint32_t payload_left_ = 0;
  StreamKind kind_ = StreamKind::kStdout;
  bool failed_ = false;
};

}  // namespace wa::docker
