#include "http/listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "core/log.h"

namespace wa::http {
namespace {

constexpr core::Millis kAcceptPause{100};

// The descriptor held in reserve for running out of them (HttpServer::spare_fd_).
core::UniqueFd openSpareDescriptor() {
  core::UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!fd) {
    core::logWarning("http: cannot open a spare descriptor (/dev/null): ", std::strerror(errno),
                     "; with descriptors exhausted, accepting will pause instead");
  }
  return fd;
}

// Makes way for a new socket at path, where bind() found a file: a socket nobody answers
// on is what a process that died leaves behind, and is removed. Returns "" when the path
// is free now, else why it is not (another worker is listening there, or it is no socket).
std::string removeStaleSocket(const std::string& path, const sockaddr_un& address) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return "";  // gone meanwhile
    return std::string("lstat: ") + std::strerror(errno);
  }
  if (!S_ISSOCK(st.st_mode)) return "the path exists and is not a socket; not removing it";
  core::UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!probe) return std::string("socket: ") + std::strerror(errno);
  // A unix connect() completes or fails at once; EAGAIN means a full backlog, which
  // someone is listening behind.
  if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0 ||
      errno == EAGAIN) {
    return "another process is listening on it";
  }
  if (errno != ECONNREFUSED) {
    return std::string("cannot tell whether it is in use: connect: ") + std::strerror(errno);
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return std::string("cannot remove the stale socket: ") + std::strerror(errno);
  }
  core::logInfo("http: removed a stale socket nobody listened on: ", path);
  return "";
}

}  // namespace

Listener::Listener(core::EventLoop& loop, ListenerOwner& owner)
    : loop_(loop),
      owner_(owner),
      accept_resume_timer_(loop.createTimer([this] { resumeAccepting(); })),
      spare_fd_(openSpareDescriptor()) {}

Listener::~Listener() {
  // However the process ends up here (an error at start, a signal during clean-up), the
  // socket file goes with the listener that bound it.
  closeUnixListener();
}

std::string Listener::listen(const std::string& address, uint16_t port) {
  std::string host = address;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const bool is_v6 = host.find(':') != std::string::npos;
  const std::string where = (is_v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  if (listen_fd_) return "cannot listen on " + where + ": already listening";

  sockaddr_storage storage{};
  socklen_t length = 0;
  if (!is_v6) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) != 1) {
      return "cannot listen on " + where + ": not an IPv4 or IPv6 address";
    }
    length = sizeof(sockaddr_in);
  } else {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) != 1) {
      return "cannot listen on " + where + ": not an IPv4 or IPv6 address";
    }
    length = sizeof(sockaddr_in6);
  }

  auto failure = [&](const char* what) {
    return "cannot listen on " + where + ": " + what + ": " + std::strerror(errno);
  };
  core::UniqueFd fd(::socket(storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return failure("socket");
  const int one = 1;
  // Lets a restarted daemon bind while connections of the previous one sit in TIME_WAIT.
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
    return failure("SO_REUSEADDR");
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&storage), length) != 0) {
    return failure("bind");
  }
  if (::listen(fd.get(), SOMAXCONN) != 0) return failure("listen");
  sockaddr_storage bound{};
  socklen_t bound_length = sizeof bound;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &bound_length) != 0) {
    return failure("getsockname");
  }
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  listen_fd_ = std::move(fd);
  listen_event_ = loop_.watch(listen_fd_.get(), core::FileEvent::kReadable,
                              [this](uint32_t) { onAcceptable(listen_fd_, true); });
  return "";
}

std::string Listener::listenUnix(const std::string& path, mode_t mode) {
  const std::string where = "unix socket " + path;
  if (unix_fd_) return "cannot listen on " + where + ": already listening";
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof address.sun_path ||
      path.find('\0') != std::string::npos) {
    return "cannot listen on " + where + ": the path must be 1 to " +
           std::to_string(sizeof address.sun_path - 1) + " bytes, without NUL";
  }
  path.copy(address.sun_path, path.size());
  auto failure = [&](const char* what) {
    return "cannot listen on " + where + ": " + what + ": " + std::strerror(errno);
  };
  core::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return failure("socket");
  const auto bindPath = [&] {
    return ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  };
  if (!bindPath()) {
    if (errno != EADDRINUSE) return failure("bind");
    if (std::string why = removeStaleSocket(path, address); !why.empty()) {
      return "cannot listen on " + where + ": " + why;
    }
    if (!bindPath()) return failure("bind");
  }
  // From here on the file is ours: remove it again on any failure.
  const auto undo = [&](const char* what) {
    std::string message = failure(what);
    ::unlink(path.c_str());
    return message;
  };
  // Nobody can connect before listen(), so the mode is in place before the socket is any
  // use, whatever the umask gave the file at bind().
  if (::chmod(path.c_str(), mode) != 0) return undo("chmod");
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return undo("lstat");
  if (::listen(fd.get(), SOMAXCONN) != 0) return undo("listen");
  unix_fd_ = std::move(fd);
  unix_path_ = path;
  unix_device_ = st.st_dev;
  unix_inode_ = st.st_ino;
  unix_event_ = loop_.watch(unix_fd_.get(), core::FileEvent::kReadable,
                            [this](uint32_t) { onAcceptable(unix_fd_, false); });
  return "";
}

void Listener::closeUnixListener() {
  unix_event_.reset();  // before the fd closes
  unix_fd_.reset();
  if (unix_path_.empty()) return;
  struct stat st {};
  if (::lstat(unix_path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == unix_device_ &&
      st.st_ino == unix_inode_) {
    if (::unlink(unix_path_.c_str()) != 0) {
      core::logWarning("http: cannot remove ", unix_path_, ": ", std::strerror(errno));
    }
  }
  unix_path_.clear();
}

void Listener::stop() {
  accept_resume_timer_->disable();
  listen_event_.reset();  // before the fd closes
  listen_fd_.reset();
  closeUnixListener();
}

void Listener::onAcceptable(const core::UniqueFd& listener, bool tcp) {
  // Drain the backlog: each accepted connection is cheap, and the listening socket would
  // only be reported again.
  while (listener) {
    const int fd = ::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      const int error = errno;
      switch (error) {
        case EAGAIN:
#if EWOULDBLOCK != EAGAIN
        case EWOULDBLOCK:
#endif
          return;
        // The connection died in the backlog, or a network error accept(2) says to treat
        // like EAGAIN: the next one may be fine.
        case EINTR:
        case ECONNABORTED:
        case EPROTO:
        case EPERM:
        case ENETDOWN:
        case ENOPROTOOPT:
        case EHOSTDOWN:
        case ENONET:
        case EHOSTUNREACH:
        case EOPNOTSUPP:
        case ENETUNREACH:
          continue;
        case EMFILE:
        case ENFILE:
          // The connection stays pending, so the socket stays readable: answer it now
          // with the spare descriptor, or pause, but never come straight back.
          if (shedWithSpareDescriptor(listener)) continue;
          [[fallthrough]];
        case ENOBUFS:
        case ENOMEM:
          if (!accept_failure_logged_) {
            core::logWarning("http: accept: ", std::strerror(error), "; pausing accepts for ",
                             kAcceptPause.count(), " ms at a time (", owner_.openConnections(),
                             " connections open)");
            accept_failure_logged_ = true;
          }
          pauseAccepting();
          return;
        default:
          core::logError("http: accept: ", std::strerror(error));
          pauseAccepting();
          return;
      }
    }
    core::UniqueFd connection_fd(fd);
    if (accept_failure_logged_) {
      core::logInfo("http: accepting connections again (", owner_.openConnections() + 1, " open)");
      accept_failure_logged_ = false;
    }
    if (!spare_fd_) spare_fd_ = openSpareDescriptor();
    owner_.onAccepted(std::move(connection_fd), tcp);
  }
}

void Listener::pauseAccepting() {
  // Both listeners: what ran out is the process's, not one socket's.
  if (listen_event_) listen_event_->setInterest(0);
  if (unix_event_) unix_event_->setInterest(0);
  accept_resume_timer_->enableAfter(kAcceptPause);
}

void Listener::resumeAccepting() {
  if (listen_event_) listen_event_->setInterest(core::FileEvent::kReadable);
  if (unix_event_) unix_event_->setInterest(core::FileEvent::kReadable);
}

bool Listener::shedWithSpareDescriptor(const core::UniqueFd& listener) {
  if (!spare_fd_) return false;
  spare_fd_.reset();
  core::UniqueFd fd(::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
  const bool accepted = static_cast<bool>(fd);
  if (accepted) {
    if (!accept_failure_logged_) {
      core::logWarning("http: out of file descriptors with ", owner_.openConnections(),
                       " connections open; answering new connections with 503 until some close");
      accept_failure_logged_ = true;
    }
    owner_.shed(std::move(fd), "the server is out of file descriptors; retry later");
  }
  // The rejected connection's descriptor is closed by now, so this gets it back.
  spare_fd_ = openSpareDescriptor();
  return accepted;
}

}  // namespace wa::http
