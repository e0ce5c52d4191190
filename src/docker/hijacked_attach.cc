#include "docker/hijacked_attach.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

#include "core/log.h"
#include "docker/docker_client.h"
#include "docker/engine_json.h"

namespace wa::docker {
namespace {

std::string errnoText(int err) { return std::strerror(err); }

// A socket closed after the end of the loop's batch (after its watcher, handed over first).
struct ClosedSocket final : core::Deletable {
  explicit ClosedSocket(core::UniqueFd f) : fd(std::move(f)) {}
  core::UniqueFd fd;
};

}  // namespace

std::string HijackedAttach::buildRequest(const std::string& container_id,
                                         const std::string& host_header,
                                         const std::string& api_version, AttachMode mode) {
  // What the docker CLI sends (moby client/hijack.go): a POST without a body, asking to
  // upgrade the connection to a raw "tcp" stream.
  const char* query = mode == AttachMode::kJobStdio ? "stream=1&stdin=1&stdout=1&stderr=1"
                                                    : "logs=1&stream=1&stdout=1&stderr=1";
  return "POST /v" + api_version + "/containers/" + urlEncode(container_id) + "/attach?" + query +
         " HTTP/1.1\r\n"
         "Host: " +
         host_header +
         "\r\n"
         "Content-Type: text/plain\r\n"
         "Content-Length: 0\r\n"
         "Connection: Upgrade\r\n"
         "Upgrade: tcp\r\n"
         "\r\n";
}

HijackedAttach::HijackedAttach(core::EventLoop& loop, std::optional<EngineEndpoint> endpoint,
                               std::string docker_host, const std::string& api_version,
                               const std::string& container_id, AttachMode mode,
                               Callbacks callbacks, std::weak_ptr<AttachRegistry> registry)
    : loop_(loop),
      docker_host_(std::move(docker_host)),
      registry_(std::move(registry)),
      callbacks_(std::move(callbacks)) {
  if (auto r = registry_.lock()) r->live.insert(this);
  demux_ = std::make_unique<StreamDemux>(
      [this, alive = liveness_.watch()](StreamKind kind, std::string_view data) {
        // A frame after the stream ended, or after its owner freed it from on_output (the
        // demultiplexer then lives on to the end of the batch), is not delivered.
        if (!alive.alive() || state_ == State::kClosed || !callbacks_.on_output) return;
        callOwner([&] { callbacks_.on_output(kind, data); });
      });
  handshake_timer_ = loop_.createTimer([this] {
    fail("attaching to the container timed out after " +
         std::to_string(kHandshakeTimeout.count() / 1000) + " s (Docker engine at " + docker_host_ +
         ")");
  });
  if (!endpoint) {
    failLater(DockerError{0, "unsupported docker host \"" + docker_host_ +
                                 "\" (expected unix:///path or tcp://host:port)"});
    return;
  }
  handshake_timer_->enableAfter(kHandshakeTimeout);
  out_ = buildRequest(container_id,
                      endpoint->kind == EngineEndpoint::Kind::kUnix
                          ? std::string("docker")
                          : endpoint->host + ":" + std::to_string(endpoint->port),
                      api_version, mode);
  connectToEngine(*endpoint);
}

HijackedAttach::~HijackedAttach() {
  if (auto r = registry_.lock()) r->live.erase(this);
  liveness_.end();
  if (owner_calls_ > 0) {
    // Freed by its owner inside one of its own callbacks: the watcher, timer and
    // demultiplexer whose calls are on the stack below go to the loop, freed after this
    // batch, the socket after its watcher (so its number is not reused while watched).
    // Every caller of callOwner checks the liveness first when the call returns.
    handshake_timer_->disable();
    loop_.deferredDelete(std::move(handshake_timer_));
    loop_.deferredDelete(std::move(demux_));
    if (event_) loop_.deferredDelete(std::move(event_));
    if (fd_) loop_.deferredDelete(std::make_unique<ClosedSocket>(std::move(fd_)));
  }
  // The watcher leaves the epoll set (member order) before the socket closes.
  event_.reset();
}

template <typename Fn>
bool HijackedAttach::callOwner(Fn&& fn) {
  const core::Liveness::Watch alive = liveness_.watch();
  ++owner_calls_;
  fn();
  if (!alive.alive()) return false;  // the owner freed this stream inside the call
  --owner_calls_;
  return true;
}

void HijackedAttach::connectToEngine(const EngineEndpoint& endpoint) {
  sockaddr_storage address{};
  socklen_t address_length = 0;
  int family = AF_UNIX;
  if (endpoint.kind == EngineEndpoint::Kind::kUnix) {
    auto* un = reinterpret_cast<sockaddr_un*>(&address);
    if (endpoint.unix_path.size() >= sizeof un->sun_path) {
      failLater(DockerError{0, "docker socket path too long: " + endpoint.unix_path});
      return;
    }
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, endpoint.unix_path.c_str(), endpoint.unix_path.size() + 1);
    address_length = static_cast<socklen_t>(sizeof(sa_family_t) + endpoint.unix_path.size() + 1);
  } else {
    // Name resolution would block the loop: only numeric addresses and "localhost".
    std::string host = endpoint.host;
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
      host = host.substr(1, host.size() - 2);
    if (host == "localhost") host = "127.0.0.1";
    auto* in4 = reinterpret_cast<sockaddr_in*>(&address);
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&address);
    if (::inet_pton(AF_INET, host.c_str(), &in4->sin_addr) == 1) {
      family = AF_INET;
      in4->sin_family = AF_INET;
      in4->sin_port = htons(static_cast<uint16_t>(endpoint.port));
      address_length = sizeof(sockaddr_in);
    } else if (::inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) == 1) {
      family = AF_INET6;
      in6->sin6_family = AF_INET6;
      in6->sin6_port = htons(static_cast<uint16_t>(endpoint.port));
      address_length = sizeof(sockaddr_in6);
    } else {
      failLater(DockerError{0, "attach needs a numeric docker host address or localhost, not \"" +
                                   endpoint.host + "\""});
      return;
    }
  }
  fd_.reset(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd_) {
    failLater(DockerError{0, "socket: " + errnoText(errno)});
    return;
  }
  if (::connect(fd_.get(), reinterpret_cast<sockaddr*>(&address), address_length) == 0) {
    state_ = State::kSendingRequest;
  } else if (errno == EINPROGRESS) {
    state_ = State::kConnecting;
  } else {
    // EAGAIN on a unix socket: the engine's listen backlog is full.
    const int err = errno;
    fd_.reset();
    failLater(DockerError{
        0, "cannot reach the Docker engine at " + docker_host_ + ": connect: " + errnoText(err),
        true});
    return;
  }
  // Either way the first thing to do is write (the request), once the socket is writable.
  event_ = loop_.watch(fd_.get(), core::FileEvent::kWritable,
                       [this](uint32_t ready) { onReady(ready); });
}

void HijackedAttach::failLater(DockerError error) {
  // Never call back inside the constructor (that is, inside DockerClient::attach).
  loop_.post([this, alive = liveness_.watch(), error = std::move(error)]() mutable {
    if (alive.alive()) finish(std::move(error));
  });
}

void HijackedAttach::writeStdinAndClose(std::string data) {
  if (stdin_queued_) {
    core::logWarning("attach: writeStdinAndClose called twice; the second call is ignored");
    return;
  }
  stdin_queued_ = true;
  stdin_ = std::move(data);
  // Before the engine answered, the stdin waits: the engine drops bytes sent ahead of it.
  if (state_ == State::kStreaming) updateInterest();
}

bool HijackedAttach::hasUnreadOutput() const {
  if (state_ != State::kStreaming || !fd_) return false;
  int unread = 0;
  // FIONREAD fails only on a descriptor that is not a socket: then nothing is known waiting.
  return ::ioctl(fd_.get(), FIONREAD, &unread) == 0 && unread > 0;
}

void HijackedAttach::close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  releaseConnection();
}

void HijackedAttach::updateInterest() {
  if (!event_) return;
  uint32_t interest = 0;
  switch (state_) {
    case State::kConnecting:
    case State::kSendingRequest:
      interest = core::FileEvent::kWritable;
      break;
    case State::kReadingHead:
    case State::kReadingErrorBody:
      interest = core::FileEvent::kReadable;
      break;
    case State::kStreaming:
      interest = core::FileEvent::kReadable;
      if (stdin_queued_ && !stdin_done_) interest |= core::FileEvent::kWritable;
      break;
    case State::kClosed:
      return;
  }
  event_->setInterest(interest);
}

void HijackedAttach::onReady(uint32_t ready) {
  switch (state_) {
    case State::kConnecting: {
      int err = 0;
      socklen_t length = sizeof err;
      if (::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &length) != 0) err = errno;
      if (err != 0) {
        finish(DockerError{
            0, "cannot reach the Docker engine at " + docker_host_ + ": connect: " + errnoText(err),
            true});
        return;
      }
      state_ = State::kSendingRequest;
      sendRequest();
      return;
    }
    case State::kSendingRequest:
      sendRequest();
      return;
    case State::kReadingHead:
    case State::kReadingErrorBody:
      if (ready & core::FileEvent::kReadable) readSome();
      return;
    case State::kStreaming: {
      // Write first: with a hang-up both are reported, and the read then sees the end.
      // A failed write ends the stream, whose owner may free it from on_closed.
      const core::Liveness::Watch alive = liveness_.watch();
      if (ready & core::FileEvent::kWritable) writeStdin();
      if (!alive.alive() || state_ == State::kClosed) return;
      if (ready & core::FileEvent::kReadable) readSome();
      return;
    }
    case State::kClosed:
      return;
  }
}

void HijackedAttach::sendRequest() {
  while (out_sent_ < out_.size()) {
    const ssize_t n =
        ::send(fd_.get(), out_.data() + out_sent_, out_.size() - out_sent_, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      fail("sending the attach request to the Docker engine at " + docker_host_ + ": " +
           errnoText(errno));
      return;
    }
    out_sent_ += static_cast<size_t>(n);
  }
  out_.clear();
  out_.shrink_to_fit();
  state_ = State::kReadingHead;
  updateInterest();
}

void HijackedAttach::writeStdin() {
  if (!stdin_queued_ || stdin_done_) return;
  while (stdin_sent_ < stdin_.size()) {
    const ssize_t n =
        ::send(fd_.get(), stdin_.data() + stdin_sent_, stdin_.size() - stdin_sent_, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EPIPE || errno == ECONNRESET) {
        // The container (or the engine's copy of its stdin) is already gone; its output
        // may still be on the way, so keep reading.
        core::logDebug("attach: stdin not fully delivered, the engine closed it: ",
                       errnoText(errno));
        stdin_peer_gone_ = true;
        break;
      }
      fail("writing stdin to the container: " + errnoText(errno));
      return;
    }
    stdin_sent_ += static_cast<size_t>(n);
  }
  if (!stdin_peer_gone_ && ::shutdown(fd_.get(), SHUT_WR) != 0 && errno != ENOTCONN) {
    fail("closing the container's stdin: " + errnoText(errno));
    return;
  }
  stdin_done_ = true;
  stdin_.clear();
  stdin_.shrink_to_fit();
  updateInterest();
}

void HijackedAttach::readSome() {
  char buffer[64 * 1024];
  const ssize_t n = ::recv(fd_.get(), buffer, sizeof buffer, 0);
  if (n < 0) {
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) return;
    if (errno == ECONNRESET && state_ == State::kStreaming) {
      // The engine closed the stream with some of our stdin unread (the container ignored
      // it). A unix socket delivers all output before reporting the reset, so it is the end.
      core::logDebug("attach: the engine reset the stream; treating it as its end");
      onEof();
      return;
    }
    fail("reading from the Docker engine at " + docker_host_ + ": " + errnoText(errno));
    return;
  }
  if (n == 0) {
    onEof();
    return;
  }
  const std::string_view data(buffer, static_cast<size_t>(n));
  switch (state_) {
    case State::kReadingHead:
      head_.append(data);
      onHeadBytes();
      return;
    case State::kReadingErrorBody:
      head_.append(data);
      if (head_.size() >= kMaxErrorBodyBytes ||
          (error_body_length_ && head_.size() >= *error_body_length_))
        failWithEngineError();
      return;
    case State::kStreaming:
      feedOutput(data);
      return;
    default:
      return;
  }
}

void HijackedAttach::onHeadBytes() {
  const ResponseHead head = parseResponseHead(head_);
  if (head.parse == ResponseHead::Parse::kIncomplete) {
    if (head_.size() > kMaxHeadBytes)
      fail("the Docker engine's answer to attach has a response head over " +
           std::to_string(kMaxHeadBytes) + " bytes");
    return;
  }
  if (head.parse == ResponseHead::Parse::kInvalid) {
    fail("the Docker engine sent a malformed response to attach");
    return;
  }
  std::string rest = head_.substr(head.length);
  head_.clear();
  if (head.status == 101 || head.status == 200) {
    onAttached(rest);
    return;
  }
  // An error: the engine's {"message": ...} follows; read it to the end or its length.
  error_status_ = head.status;
  error_body_length_ = head.content_length;
  head_ = std::move(rest);
  state_ = State::kReadingErrorBody;
  if (head_.size() >= kMaxErrorBodyBytes ||
      (error_body_length_ && head_.size() >= *error_body_length_))
    failWithEngineError();
}

void HijackedAttach::failWithEngineError() {
  std::string_view body = head_;
  if (error_body_length_ && body.size() > *error_body_length_)
    body = body.substr(0, *error_body_length_);
  finish(DockerError{error_status_, errorMessageFromBody(body, error_status_)});
}

void HijackedAttach::onAttached(const std::string& leftover) {
  state_ = State::kStreaming;
  handshake_timer_->disable();
  updateInterest();
  if (callbacks_.on_attached && !callOwner([&] { callbacks_.on_attached(); })) return;
  if (state_ == State::kClosed) return;
  // Output that arrived together with the response head.
  if (!leftover.empty()) feedOutput(leftover);
}

void HijackedAttach::feedOutput(std::string_view data) {
  const core::Liveness::Watch alive = liveness_.watch();
  // on_output may free this stream; the demultiplexer then lives on to the batch's end.
  StreamDemux* demux = demux_.get();
  const bool ok = demux->feed(data);
  if (!alive.alive() || state_ == State::kClosed) return;  // the owner ended it in on_output
  if (!ok) fail("the attach stream from the Docker engine has a malformed frame header");
}

void HijackedAttach::onEof() {
  switch (state_) {
    case State::kReadingHead:
      fail("the Docker engine at " + docker_host_ +
           " closed the connection before answering attach");
      return;
    case State::kReadingErrorBody:
      failWithEngineError();
      return;
    case State::kStreaming:
      if (!demux_->atFrameBoundary()) {
        fail("the attach stream ended in the middle of a frame");
        return;
      }
      finish(std::nullopt);
      return;
    default:
      return;
  }
}

void HijackedAttach::releaseConnection() {
  handshake_timer_->disable();
  // Usually inside the socket's own event: its watcher cannot be freed here. It goes first
  // (and leaves the epoll set first), the socket after it, both after this batch.
  if (event_) loop_.deferredDelete(std::move(event_));
  if (fd_) loop_.deferredDelete(std::make_unique<ClosedSocket>(std::move(fd_)));
}

void HijackedAttach::finish(std::optional<DockerError> error) {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  releaseConnection();
  if (callbacks_.on_closed) callOwner([&] { callbacks_.on_closed(std::move(error)); });
}

}  // namespace wa::docker
