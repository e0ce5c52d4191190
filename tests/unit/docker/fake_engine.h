// FakeEngine: a tiny Docker Engine stand-in for the docker layer's tests. It listens on a
// unix socket in a temporary directory (or on 127.0.0.1:0), runs on the test's EventLoop,
// records every request and answers with canned replies; an attach reply hijacks the
// connection like the real engine: 101 UPGRADED, output frames, stdin collected to EOF.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/event_loop.h"
#include "core/unique_fd.h"
#include "held_requests.h"

namespace wa::docker::testing {

using wa::testing::HeldRequests;

struct FakeRequest {
  std::string method;
  std::string target;                          // "/v1.41/containers/create?name=x"
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  int connection = 0;  // which accepted connection carried it (1-based)
};

struct FakeReply {
  int status = 200;
  std::string body;
  bool hang = false;         // never answer (the connection stays open)
  bool close_after = false;  // close the connection once the reply is written
  bool drop_after = false;   // the same, without saying so ("Connection: close")
  std::string raw;           // if set: sent as is instead of a built response
  // The Api-Version header of a built response.
  std::string api_version = "1.41";
  // Attach: hijack the connection after a "101 UPGRADED" head (or head_override).
  bool hijack = false;
  std::string head_override;
  std::string after_head;         // sent in the same write as the head
  bool close_right_away = false;  // close after after_head without reading stdin
  // After stdin reaches EOF: bytes to send, then the connection is closed.
  std::function<std::string(const std::string& stdin_data)> on_stdin_eof;
};

// One multiplexed attach frame.
inline std::string frame(int type, std::string_view payload) {
  std::string out(8, '\0');
  out[0] = static_cast<char>(type);
  const auto n = static_cast<uint32_t>(payload.size());
  out[4] = static_cast<char>(n >> 24);
  out[5] = static_cast<char>(n >> 16);
  out[6] = static_cast<char>(n >> 8);
  out[7] = static_cast<char>(n);
  out.append(payload);
  return out;
}

inline std::string reasonFor(int status) {
  switch (status) {
    case 101:
      return "UPGRADED";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 304:
      return "Not Modified";
    case 404:
      return "Not Found";
    case 409:
      return "Conflict";
    default:
      return "Status";
  }
}

class FakeEngine {
 public:
  using Handler = std::function<FakeReply(const FakeRequest&)>;

  explicit FakeEngine(core::EventLoop& loop, bool tcp = false) : loop_(loop) {
    if (tcp) {
      listen_fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      check(::bind(listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), "bind");
      socklen_t len = sizeof addr;
      check(::getsockname(listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), &len), "name");
      docker_host_ = "tcp://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
    } else {
      char dir_template[] = "/tmp/wa-docker-test-XXXXXX";
      if (::mkdtemp(dir_template) == nullptr) std::abort();
      dir_ = dir_template;
      socket_path_ = dir_ + "/docker.sock";
      listen_fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      if (socket_path_.size() >= sizeof addr.sun_path) std::abort();
      std::memcpy(addr.sun_path, socket_path_.c_str(), socket_path_.size() + 1);
      check(::bind(listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), "bind");
      docker_host_ = "unix://" + socket_path_;
    }
    check(::listen(listen_fd_.get(), 64), "listen");
    listen_event_ =
        loop_.watch(listen_fd_.get(), core::FileEvent::kReadable, [this](uint32_t) { onAccept(); });
  }

  ~FakeEngine() {
    connections_.clear();
    listen_event_.reset();
    listen_fd_.reset();
    if (!socket_path_.empty()) ::unlink(socket_path_.c_str());  // may be gone already
    if (!dir_.empty()) ::rmdir(dir_.c_str());
  }

  const std::string& dockerHost() const { return docker_host_; }
  const std::string& socketPath() const { return socket_path_; }
  void setHandler(Handler handler) { handler_ = std::move(handler); }
  // As a stopping dockerd does: no new connection is taken (the socket is gone), while
  // the ones already open go on being served.
  void stopListening() {
    listen_event_.reset();
    listen_fd_.reset();
    if (!socket_path_.empty()) ::unlink(socket_path_.c_str());
  }

  std::vector<FakeRequest> requests;
  int accepted = 0;
  // The hijacked connection's side: what the client sent after the head, and its half-close.
  std::string stdin_received;
  bool stdin_eof = false;
  int open_connections() const { return static_cast<int>(connections_.size()); }

 private:
  struct Connection final : core::Deletable {
    int number = 0;
    core::UniqueFd fd;
    std::unique_ptr<core::FileEvent> event;
    std::string in;
    std::string out;
    bool hijacked = false;
    bool close_after_write = false;
    bool dead = false;
    FakeReply reply;
  };

  static void check(int rc, const char* what) {
    if (rc != 0) {
      std::perror(what);
      std::abort();
    }
  }

  void onAccept() {
    for (;;) {
      const int fd = ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      auto c = std::make_unique<Connection>();
      c->number = ++accepted;
      c->fd.reset(fd);
      Connection* raw = c.get();
      c->event = loop_.watch(fd, core::FileEvent::kReadable,
                             [this, raw](uint32_t ready) { onReady(raw, ready); });
      connections_.push_back(std::move(c));
    }
  }

  void onReady(Connection* c, uint32_t ready) {
    if (c->dead) return;
    if (ready & core::FileEvent::kReadable) {
      char buf[65536];
      const ssize_t n = ::recv(c->fd.get(), buf, sizeof buf, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        if (c->hijacked && n == 0 && stdin_eof) {
          c->event->setInterest(core::FileEvent::kWritable);  // EOF already handled
        } else if (c->hijacked && n == 0) {
          stdin_eof = true;
          if (c->reply.on_stdin_eof) {
            c->out += c->reply.on_stdin_eof(stdin_received);
            c->close_after_write = true;
            c->event->setInterest(core::FileEvent::kWritable);
          } else {
            kill(c);
            return;
          }
        } else {
          kill(c);
          return;
        }
      } else if (n > 0) {
        if (c->hijacked) {
          stdin_received.append(buf, static_cast<size_t>(n));
        } else {
          c->in.append(buf, static_cast<size_t>(n));
          serve(c);
          if (c->dead) return;
        }
      }
    }
    flush(c);
  }

  void serve(Connection* c) {
    while (!c->hijacked) {
      const size_t end = c->in.find("\r\n\r\n");
      if (end == std::string::npos) return;
      FakeRequest request;
      request.connection = c->number;
      std::string_view head(c->in.data(), end);
      size_t line_end = head.find("\r\n");
      std::string_view line = head.substr(0, line_end);
      const size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
      request.method = std::string(line.substr(0, sp1));
      request.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
      size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
      while (pos < head.size()) {
        size_t eol = head.find("\r\n", pos);
        if (eol == std::string_view::npos) eol = head.size();
        std::string_view h = head.substr(pos, eol - pos);
        const size_t colon = h.find(':');
        std::string name(h.substr(0, colon));
        for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        std::string_view value = h.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        request.headers[name] = std::string(value);
        pos = eol + 2;
      }
      size_t length = 0;
      if (auto it = request.headers.find("content-length"); it != request.headers.end())
        length = std::stoul(it->second);
      if (c->in.size() < end + 4 + length) return;
      request.body = c->in.substr(end + 4, length);
      c->in.erase(0, end + 4 + length);
      requests.push_back(request);
      FakeReply reply = handler_ ? handler_(request) : FakeReply{};
      if (reply.hang) continue;
      if (!reply.raw.empty()) {
        c->out += reply.raw;
      } else if (reply.hijack) {
        c->hijacked = true;
        c->out += reply.head_override.empty()
                      ? "HTTP/1.1 101 UPGRADED\r\nContent-Type: "
                        "application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\n"
                        "Upgrade: tcp\r\n\r\n"
                      : reply.head_override;
        c->out += reply.after_head;
        stdin_received += c->in;  // anything the client sent early
        c->in.clear();
        if (reply.close_right_away) c->close_after_write = true;
      } else {
        c->out += "HTTP/1.1 " + std::to_string(reply.status) + " " + reasonFor(reply.status) +
                  "\r\nApi-Version: " + reply.api_version + "\r\n";
        if (reply.status != 204 && reply.status != 304) {
          c->out += "Content-Type: application/json\r\nContent-Length: " +
                    std::to_string(reply.body.size()) + "\r\n";
        }
        if (reply.close_after) c->out += "Connection: close\r\n";
        c->out += "\r\n";
        if (reply.status != 204 && reply.status != 304) c->out += reply.body;
      }
      if (reply.close_after || reply.drop_after) c->close_after_write = true;
      c->reply = std::move(reply);
    }
  }

  void flush(Connection* c) {
    while (!c->out.empty()) {
      const ssize_t n = ::send(c->fd.get(), c->out.data(), c->out.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) break;
        kill(c);
        return;
      }
      c->out.erase(0, static_cast<size_t>(n));
    }
    if (c->out.empty() && c->close_after_write) {
      kill(c);
      return;
    }
    c->event->setInterest(c->out.empty() ? core::FileEvent::kReadable
                                         : core::FileEvent::kReadable | core::FileEvent::kWritable);
  }

  // Closes a connection after the current batch (we may be inside its own callback).
  void kill(Connection* c) {
    c->dead = true;
    for (auto it = connections_.begin(); it != connections_.end(); ++it) {
      if (it->get() == c) {
        c->event->setInterest(0);
        loop_.deferredDelete(std::move(*it));
        connections_.erase(it);
        return;
      }
    }
  }

  core::EventLoop& loop_;
  Handler handler_;
  std::string dir_;
  std::string socket_path_;
  std::string docker_host_;
  core::UniqueFd listen_fd_;
  std::unique_ptr<core::FileEvent> listen_event_;
  std::vector<std::unique_ptr<Connection>> connections_;
};

// Runs the loop until pred() holds or timeout passes; returns pred().
template <typename Pred>
bool runUntil(core::EventLoop& loop, Pred pred,
              std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    loop.runOnce(10);
  }
  return true;
}

// Runs the loop for a while (to see that nothing more happens).
inline void runFor(core::EventLoop& loop, std::chrono::milliseconds duration) {
  const auto deadline = std::chrono::steady_clock::now() + duration;
  while (std::chrono::steady_clock::now() < deadline) loop.runOnce(5);
}

}  // namespace wa::docker::testing
