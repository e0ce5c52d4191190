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

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string errnoText(int err) { return std::strerror(err); }

// What a released connection leaves behind until the end of the loop's batch. The socket
// is declared first so it is closed last, after its watcher has left the epoll set.
struct Remains {
  core::UniqueFd fd;
  std::unique_ptr<core::FileEvent> event;
  std::unique_ptr<core::Timer> timer;
  std::unique_ptr<StreamDemux> demux;
};

}  // namespace

ResponseHead parseResponseHead(std::string_view buffer) {
  ResponseHead head;
  const size_t end = buffer.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    // A status line that is already wrong need not wait for the rest.
    constexpr std::string_view kPrefix = "HTTP/1.";
    const size_t n = std::min(buffer.size(), kPrefix.size());
    if (buffer.substr(0, n) != kPrefix.substr(0, n)) head.parse = ResponseHead::Parse::kInvalid;
    return head;
  }
  head.length = end + 4;
  std::string_view rest = buffer.substr(0, end + 2);
  const size_t line_end = rest.find("\r\n");
  std::string_view status_line = rest.substr(0, line_end);
  rest.remove_prefix(line_end + 2);
  // "HTTP/1.1 101 UPGRADED"
  head.parse = ResponseHead::Parse::kInvalid;
  if (status_line.size() < 12 || !status_line.starts_with("HTTP/1.") || status_line[8] != ' ' ||
      (status_line.size() > 12 && status_line[12] != ' '))
    return head;
  int status = 0;
  auto [ptr, ec] = std::from_chars(status_line.data() + 9, status_line.data() + 12, status);
  if (ec != std::errc() || ptr != status_line.data() + 12 || status < 100) return head;
  head.status = status;
  while (!rest.empty()) {
    const size_t eol = rest.find("\r\n");
    std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol + 2);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return head;
    if (equalsIgnoreCase(line.substr(0, colon), "content-length")) {
      std::string_view value = trim(line.substr(colon + 1));
      size_t length = 0;
      auto [p, e] = std::from_chars(value.data(), value.data() + value.size(), length);
      if (e != std::errc() || p != value.data() + value.size()) return head;
      head.content_length = length;
    }
  }
  head.parse = ResponseHead::Parse::kComplete;
  return head;
}

std::string HijackedAttach::buildRequest(const std::string& container_id,
                                         const std::string& host_header,
                                         const std::string& api_version) {
  // What the docker CLI sends (moby client/hijack.go): a POST without a body, asking to
  // upgrade the connection to a raw "tcp" stream.
  return "POST /v" + api_version + "/containers/" + urlEncode(container_id) +
         "/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\n"
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
                               const std::string& container_id, Callbacks callbacks,
                               std::weak_ptr<AttachRegistry> registry)
    : loop_(loop),
      docker_host_(std::move(docker_host)),
      registry_(std::move(registry)),
      callbacks_(std::make_shared<Callbacks>(std::move(callbacks))) {
  if (auto r = registry_.lock()) r->live.insert(this);
  const std::weak_ptr<char> alive = alive_;
  demux_ = std::make_unique<StreamDemux>([this, alive](StreamKind kind, std::string_view data) {
    // The demux may outlive this stream for the rest of a batch (see releaseConnection).
    if (alive.expired() || state_ == State::kClosed) return;
    const std::shared_ptr<Callbacks> callbacks = callbacks_;
    if (callbacks->on_output) callbacks->on_output(kind, data);
  });
  handshake_timer_ = loop_.createTimer([this, alive] {
    if (alive.expired()) return;
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
                      api_version);
  connectToEngine(*endpoint);
}

HijackedAttach::~HijackedAttach() {
  if (auto r = registry_.lock()) r->live.erase(this);
  alive_.reset();
  state_ = State::kClosed;
  // This may run inside one of our own callbacks (on_output from a FileEvent, on_closed
  // from the timer): those objects must outlive the call, so the loop frees them later.
  auto remains = std::make_shared<Remains>();
  remains->fd = std::move(fd_);
  remains->event = std::move(event_);
  remains->timer = std::move(handshake_timer_);
  remains->demux = std::move(demux_);
  if (remains->timer) remains->timer->disable();
  loop_.deferredDelete(std::move(remains));
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
  const std::weak_ptr<char> alive = alive_;
  event_ = loop_.watch(fd_.get(), core::FileEvent::kWritable, [this, alive](uint32_t ready) {
    if (alive.expired()) return;
    onReady(ready);
  });
}

void HijackedAttach::failLater(DockerError error) {
  // Never call back inside the constructor (that is, inside DockerClient::attach).
  loop_.post([this, alive = std::weak_ptr<char>(alive_), error = std::move(error)]() mutable {
    if (alive.expired()) return;
    finish(std::move(error));
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

void HijackedAttach::abort() {
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
  const std::weak_ptr<char> alive = alive_;
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
    case State::kStreaming:
      // Write first: with a hang-up both are reported, and the read then sees the end.
      if (ready & core::FileEvent::kWritable) writeStdin();
      if (alive.expired() || state_ == State::kClosed) return;
      if (ready & core::FileEvent::kReadable) readSome();
      return;
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
  const std::weak_ptr<char> alive = alive_;
  const std::shared_ptr<Callbacks> callbacks = callbacks_;
  if (callbacks->on_attached) callbacks->on_attached();
  if (alive.expired() || state_ == State::kClosed) return;
  // Output that arrived together with the response head.
  if (!leftover.empty()) feedOutput(leftover);
}

void HijackedAttach::feedOutput(std::string_view data) {
  const std::weak_ptr<char> alive = alive_;
  // on_output may destroy this stream; the demux then lives on until the batch ends.
  StreamDemux* demux = demux_.get();
  const bool ok = demux->feed(data);
  if (alive.expired() || state_ == State::kClosed) return;
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
  auto remains = std::make_shared<Remains>();
  remains->fd = std::move(fd_);
  remains->event = std::move(event_);
  if (handshake_timer_) handshake_timer_->disable();
  loop_.deferredDelete(std::move(remains));
}

void HijackedAttach::finish(std::optional<DockerError> error) {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  releaseConnection();
  const std::shared_ptr<Callbacks> callbacks = callbacks_;
  if (callbacks->on_closed) callbacks->on_closed(std::move(error));
}

}  // namespace wa::docker
