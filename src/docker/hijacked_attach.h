// HijackedAttach: the AttachStream implementation. A small non-blocking HTTP/1.1 client on
// the EventLoop: it connects (unix socket, or TCP to a numeric address or "localhost"),
// sends the attach request with "Upgrade: tcp", reads the response head, and from then on
// treats the connection as a raw byte stream: stdin out (then a half-close), multiplexed
// output in.
//
// The stream ends inside its own event (EOF, an error): the socket and its watcher then go
// to the loop's deferredDelete (the watcher first, so the socket's number cannot be reused
// while it is registered). Its owner may free it anywhere, also inside one of its own
// callbacks: the parts on the stack then go to deferredDelete too, and every caller of
// the owner's callbacks checks the stream's Liveness before going on.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

#include "core/event_loop.h"
#include "core/liveness.h"
#include "core/unique_fd.h"
#include "docker/attach_stream.h"
#include "docker/engine_endpoint.h"
#include "docker/response_head.h"
#include "docker/stream_demux.h"

namespace wa::docker {

class HijackedAttach;

// The attach streams a DockerClient has open, so that destroying the client can abort them.
struct AttachRegistry {
  std::unordered_set<HijackedAttach*> live;
};

class HijackedAttach final : public AttachStream {
 public:
  // endpoint nullopt: the docker host could not be parsed (reported through on_closed).
  // api_version: the Engine API version the request path carries ("1.45").
  HijackedAttach(core::EventLoop& loop, std::optional<EngineEndpoint> endpoint,
                 std::string docker_host, const std::string& api_version,
                 const std::string& container_id, AttachMode mode, Callbacks callbacks,
                 std::weak_ptr<AttachRegistry> registry);
  ~HijackedAttach() override;
  HijackedAttach(const HijackedAttach&) = delete;
  HijackedAttach& operator=(const HijackedAttach&) = delete;

  void writeStdinAndClose(std::string data) override;
  void close() override;
  bool hasUnreadOutput() const override;

  // The attach request as sent on the wire.
  static std::string buildRequest(const std::string& container_id, const std::string& host_header,
                                  const std::string& api_version = "1.41",
                                  AttachMode mode = AttachMode::kJobStdio);

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
  // Runs one of the owner's callbacks; false when the owner freed this stream inside it
  // (nothing of it may be touched then).
  template <typename Fn>
  bool callOwner(Fn&& fn);

  core::EventLoop& loop_;
  std::string docker_host_;
  std::weak_ptr<AttachRegistry> registry_;
  Callbacks callbacks_;
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
  int owner_calls_ = 0;           // the owner's callbacks running (see the destructor)
  core::Liveness liveness_;       // for work that may find the stream gone
};

}  // namespace wa::docker
