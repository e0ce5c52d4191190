// LoopbackClient: a test HTTP client on a loopback socket, driven from the same thread as
// the server: every wait runs the server's EventLoop between non-blocking socket calls.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/event_loop.h"
#include "core/unique_fd.h"
#include "http/http_request.h"

namespace wa::http::testing {

struct ParsedResponse {
  std::string status_line;
  int status = 0;
  HeaderList headers;
  std::string body;

  const std::string* header(std::string_view name) const {
    for (const auto& [field, value] : headers) {
      if (field.size() == name.size() &&
          ::strncasecmp(field.data(), name.data(), name.size()) == 0) {
        return &value;
      }
    }
    return nullptr;
  }
  std::string headerOr(std::string_view name, std::string_view fallback = {}) const {
    const std::string* value = header(name);
    return value != nullptr ? *value : std::string(fallback);
  }
};

// A chunked body (RFC 9112 section 7.1) decoded from the front of a byte string.
struct ChunkedBody {
  std::vector<std::string> chunks;  // each chunk's data, in order (the last, empty one left out)
  bool complete = false;            // the last chunk and the final CRLF were seen
  bool malformed = false;
  size_t consumed = 0;  // bytes used by the chunks decoded so far

  std::string joined() const {
    std::string out;
    for (const std::string& chunk : chunks) out += chunk;
    return out;
  }
};

inline ChunkedBody decodeChunked(std::string_view data) {
  ChunkedBody body;
  for (;;) {
    std::string_view rest = data.substr(body.consumed);
    const size_t line_end = rest.find("\r\n");
    if (line_end == std::string_view::npos) return body;
    const std::string size_text(rest.substr(0, line_end));
    char* end = nullptr;
    const unsigned long size = std::strtoul(size_text.c_str(), &end, 16);
    if (size_text.empty() || end != size_text.c_str() + size_text.size()) {
      body.malformed = true;
      return body;
    }
    if (rest.size() < line_end + 2 + size + 2) return body;
    if (rest.substr(line_end + 2 + size, 2) != "\r\n") {
      body.malformed = true;
      return body;
    }
    body.consumed += line_end + 2 + size + 2;
    if (size == 0) {
      body.complete = true;
      return body;
    }
    body.chunks.emplace_back(rest.substr(line_end + 2, size));
  }
}

class LoopbackClient {
 public:
  static constexpr std::chrono::milliseconds kTimeout{3000};

  LoopbackClient(core::EventLoop& loop, uint16_t port, int family = AF_INET) : loop_(loop) {
    fd_.reset(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd_) std::abort();
    int rc;
    if (family == AF_INET6) {
      sockaddr_in6 address{};
      address.sin6_family = AF_INET6;
      address.sin6_port = htons(port);
      address.sin6_addr = in6addr_loopback;
      rc = ::connect(fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address);
    } else {
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_port = htons(port);
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      rc = ::connect(fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address);
    }
    // Loopback connects complete from the listen backlog, before the server accepts.
    connect_errno_ = rc == 0 ? 0 : errno;
    ::fcntl(fd_.get(), F_SETFL, ::fcntl(fd_.get(), F_GETFL) | O_NONBLOCK);
  }

  // A client of the unix stream socket at path.
  LoopbackClient(core::EventLoop& loop, const std::string& unix_path) : loop_(loop) {
    fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd_) std::abort();
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (unix_path.size() >= sizeof address.sun_path) std::abort();
    unix_path.copy(address.sun_path, unix_path.size());
    // Like a loopback connect, this completes from the backlog, before the server accepts.
    const int rc = ::connect(fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address);
    connect_errno_ = rc == 0 ? 0 : errno;
    ::fcntl(fd_.get(), F_SETFL, ::fcntl(fd_.get(), F_GETFL) | O_NONBLOCK);
  }

  int connectErrno() const { return connect_errno_; }
  int fd() const { return fd_.get(); }
  void close() { fd_.reset(); }

  // One loop iteration, then whatever the server has sent.
  void pump() {
    loop_.runOnce(1);
    receive();
  }

  // Runs the loop until done() or the timeout; returns done().
  bool pumpUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout = kTimeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      pump();
    }
    return true;
  }

  // Writes without blocking; returns how much the socket took.
  size_t trySend(std::string_view data) {
    const ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
    return n > 0 ? static_cast<size_t>(n) : 0;
  }

  // Writes all of data, running the loop whenever the socket is full.
  bool send(std::string_view data) {
    return pumpUntil([&] {
      data.remove_prefix(trySend(data));
      return data.empty();
    });
  }

  // The next complete response (Content-Length framing; none means no body).
  std::optional<ParsedResponse> readResponse(std::chrono::milliseconds timeout = kTimeout) {
    std::optional<ParsedResponse> response;
    pumpUntil([&] { return (response = takeResponse()).has_value() || eof_; }, timeout);
    if (!response) response = takeResponse();
    return response;
  }

  // Runs the loop until the server closed the connection.
  bool waitClosed(std::chrono::milliseconds timeout = kTimeout) {
    return pumpUntil([&] { return eof_; }, timeout);
  }

  // Runs the loop until the chunked body at the front of buffer() is complete (or the
  // connection ends or the timeout passes); takes what was decoded out of buffer().
  ChunkedBody readChunkedBody(std::chrono::milliseconds timeout = kTimeout) {
    pumpUntil([&] { return decodeChunked(buffer_).complete || eof_; }, timeout);
    ChunkedBody body = decodeChunked(buffer_);
    buffer_.erase(0, body.consumed);
    return body;
  }

  bool eof() const { return eof_; }
  std::string& buffer() { return buffer_; }

  std::optional<ParsedResponse> takeResponse() {
    const size_t head_end = buffer_.find("\r\n\r\n");
    if (head_end == std::string::npos) return std::nullopt;
    ParsedResponse response;
    std::string_view head(buffer_.data(), head_end);
    size_t line_end = head.find("\r\n");
    response.status_line = std::string(head.substr(0, line_end));
    response.status = std::atoi(response.status_line.c_str() + 9);
    while (line_end != std::string_view::npos) {
      head.remove_prefix(line_end + 2);
      line_end = head.find("\r\n");
      std::string_view line = head.substr(0, line_end);
      const size_t colon = line.find(": ");
      response.headers.emplace_back(std::string(line.substr(0, colon)),
                                    std::string(line.substr(colon + 2)));
    }
    const size_t length =
        std::strtoul(response.headerOr("Content-Length", "0").c_str(), nullptr, 10);
    if (buffer_.size() < head_end + 4 + length) return std::nullopt;
    response.body = buffer_.substr(head_end + 4, length);
    buffer_.erase(0, head_end + 4 + length);
    return response;
  }

 private:
  void receive() {
    if (!fd_) return;
    char chunk[64 * 1024];
    for (;;) {
      const ssize_t n = ::recv(fd_.get(), chunk, sizeof chunk, 0);
      if (n > 0) {
        buffer_.append(chunk, static_cast<size_t>(n));
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) eof_ = true;
      return;
    }
  }

  core::EventLoop& loop_;
  core::UniqueFd fd_;
  int connect_errno_ = 0;
  std::string buffer_;
  bool eof_ = false;
};

}  // namespace wa::http::testing
