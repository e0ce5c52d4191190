// HijackedAttach: the AttachStream implementation. A small non-blocking HTTP/1.1 client on
// the EventLoop: it connects (unix socket, or TCP to a numeric address or "localhost"),
// sends the attach request with "Upgrade: tcp", reads the response head, and from then on
// treats the connection as a raw byte stream: stdin out (then a half-close), multiplexed
// output in.
//
// Teardown never frees the FileEvent, Timer or StreamDemux inside their own callbacks:
// they (and the socket, so its number cannot be reused meanwhile) go to the loop's
// deferredDelete, and their callbacks check a liveness token first.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

#include "core/event_loop.h"
#include "core/unique_fd.h"
#include "docker/attach_stream.h"
#include "docker/engine_endpoint.h"
#include "docker/stream_demux.h"

namespace wa::docker {

class HijackedAttach;

// The attach streams a DockerClient has open, so that destroying the client can abort them.
struct AttachRegistry {
  std::unordered_set<HijackedAttach*> live;
};

// The status line and headers of an HTTP/1.x response, parsed from the start of a buffer.
struct ResponseHead {
  enum class Parse { kIncomplete, kComplete, kInvalid };
  Parse parse = Parse::kIncomplete;
  int status = 0;
  size_t length = 0;  // bytes up to and including the blank line
  std::optional<size_t> content_length;
};
ResponseHead parseResponseHead(std::string_view buffer);

class HijackedAttach final : public AttachStream {
 public:
  // endpoint nullopt: the docker host could not be parsed (reported through on_closed).
  // api_version: the Engine API version the request path carries ("1.45").
  HijackedAttach(core::EventLoop& loop, std::optional<EngineEndpoint> endpoint,
                 std::string docker_host, const std::string& api_version,
                 const std::string& container_id, Callbacks callbacks,
                 std::weak_ptr<AttachRegistry> registry);
  ~HijackedAttach() override;
  HijackedAttach(const HijackedAttach&) = delete;
  HijackedAttach& operator=(const HijackedAttach&) = delete;

  void writeStdinAndClose(std::string data) override;
  bool hasUnreadOutput() const override;
  // Closes the connection; no callback runs after this.
  void abort();

  // The attach request as sent on the wire.
  static std::string buildRequest(const std::string& container_id, const std::string& host_header,
                                  const std::string& api_version = "1.41");

  // Longest response head accepted, and longest error body kept.
  static constexpr size_t kMaxHeadBytes = size_t{16} * 1024;
  static constexpr size_t kMaxErrorBodyBytes = size_t{64} * 1024;
  // Connecting and receiving the response head must take no longer than this.
  static constexpr core::Millis kHandshakeTimeout{30'000};

 private:
  enum class State {
    kConnecting,
    kSendingRequest,
    kReadingHead,
    kReadingErrorBody,
    kStreaming,
    kClosed
  };

  void connectToEngine(const EngineEndpoint& endpoint);
  void failLater(DockerError error);
  void onReady(uint32_t ready);
  void sendRequest();
  void writeStdin();
  void readSome();
  void onHeadBytes();
  void onAttached(const std::string& leftover);
  void feedOutput(std::string_view data);
  void onEof();
  void failWithEngineError();
  void updateInterest();
  // Ends the stream: releases the connection and runs on_closed once.
  void finish(std::optional<DockerError> error);
  void fail(std::string message) { finish(DockerError{0, std::move(message)}); }
  // Hands the socket and its watcher to the loop for disposal after this batch.
  void releaseConnection();

  core::EventLoop& loop_;
  std::string docker_host_;
  std::weak_ptr<AttachRegistry> registry_;
  // Shared so that a callback being run survives the stream's destruction inside it.
  std::shared_ptr<Callbacks> callbacks_;
  State state_ = State::kConnecting;
  core::UniqueFd fd_;
  std::unique_ptr<core::FileEvent> event_;
  std::unique_ptr<core::Timer> handshake_timer_;
  std::unique_ptr<StreamDemux> demux_;
  std::string out_;  // the request while it is being sent
  size_t out_sent_ = 0;
  std::string head_;  // response head bytes, then (on failure) the error body
  int error_status_ = 0;
  std::optional<size_t> error_body_length_;
  std::string stdin_;
  size_t stdin_sent_ = 0;
  bool stdin_queued_ = false;
  bool stdin_done_ = false;
  bool stdin_peer_gone_ = false;  // EPIPE/ECONNRESET on stdin: the container already left
  std::shared_ptr<char> alive_ = std::make_shared<char>(0);
};

}  // namespace wa::docker
