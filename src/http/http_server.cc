#include "http/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <utility>
#include <vector>

#include "core/log.h"
#include "http/http_connection.h"

namespace wa::http {
namespace {

using namespace std::string_view_literals;

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

const char* reasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Entity";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    case 507:
      return "Insufficient Storage";
    default:
      return "Unknown";
  }
}

// Statuses that carry no body, and on which a Content-Length is forbidden (1xx, 204) or
// misleading (304): a body there would be read as the start of the next response.
bool isBodiless(int status) { return status < 200 || status == 204 || status == 304; }

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

bool hasHeader(const HeaderList& headers, std::string_view name) {
  for (const auto& [field, value] : headers) {
    if (equalsIgnoreCase(field, name)) return true;
  }
  return false;
}

// A header line is written verbatim: CR, LF or NUL in it would let a value from a
// request (echoed by a handler) forge headers or split the response.
bool isSafeHeader(const std::string& name, const std::string& value) {
  if (name.empty() || name.find_first_of(":\r\n\0 \t"sv) != std::string::npos) return false;
  return value.find_first_of("\r\n\0"sv) == std::string::npos;
}

std::string jsonEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

}  // namespace

HttpServer::HttpServer(core::EventLoop& loop, const Router& router, HttpServerOptions options,
                       ErrorRenderer render_error)
    : loop_(loop),
      router_(router),
      options_(options),
      render_error_(std::move(render_error)),
      accept_resume_timer_(loop.createTimer([this] { resumeAccepting(); })),
      spare_fd_(openSpareDescriptor()) {}

HttpServer::~HttpServer() {
  // Connections go first (their watchers and timers belong to the loop, which outlives
  // us); any already in the loop's graveyard no longer touch the server.
  connections_.clear();
  // However the process ends up here (an error at start, a signal during clean-up), the
  // socket file goes with the server that bound it.
  closeUnixListener();
}

void HttpServer::closeAll() {
  // close() removes each connection from connections_: walk a copy.
  std::vector<HttpConnection*> open;
  open.reserve(connections_.size());
  for (const auto& [connection, owner] : connections_) open.push_back(connection);
  for (HttpConnection* connection : open) connection->close();
}

std::string HttpServer::listen(const std::string& address, uint16_t port) {
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

namespace {

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

std::string HttpServer::listenUnix(const std::string& path, mode_t mode) {
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

void HttpServer::closeUnixListener() {
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

void HttpServer::stopListening() {
  accept_resume_timer_->disable();
  listen_event_.reset();  // before the fd closes
  listen_fd_.reset();
  closeUnixListener();
}

void HttpServer::onAcceptable(const core::UniqueFd& listener, bool tcp) {
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
                             kAcceptPause.count(), " ms at a time (", connections_.size(),
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
    if (connections_.size() >= options_.max_connections) {
      if (!over_capacity_logged_) {
        core::logWarning("http: connection limit of ", options_.max_connections,
                         " reached; refusing new connections with 503");
        over_capacity_logged_ = true;
      }
      reject(std::move(connection_fd), "the server has " +
                                           std::to_string(options_.max_connections) +
                                           " connections open; retry later");
      continue;
    }
    over_capacity_logged_ = false;
    if (accept_failure_logged_) {
      core::logInfo("http: accepting connections again (", connections_.size() + 1, " open)");
      accept_failure_logged_ = false;
    }
    if (!spare_fd_) spare_fd_ = openSpareDescriptor();
    const int one = 1;
    // Responses are written whole; Nagle would only delay the last segment.
    if (tcp && ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
      core::logWarning("http: TCP_NODELAY: ", std::strerror(errno));
    }
    auto connection = std::make_shared<HttpConnection>(*this, std::move(connection_fd));
    HttpConnection* key = connection.get();
    connections_.emplace(key, std::move(connection));
  }
}

void HttpServer::pauseAccepting() {
  // Both listeners: what ran out is the process's, not one socket's.
  if (listen_event_) listen_event_->setInterest(0);
  if (unix_event_) unix_event_->setInterest(0);
  accept_resume_timer_->enableAfter(kAcceptPause);
}

void HttpServer::resumeAccepting() {
  if (listen_event_) listen_event_->setInterest(core::FileEvent::kReadable);
  if (unix_event_) unix_event_->setInterest(core::FileEvent::kReadable);
}

bool HttpServer::shedWithSpareDescriptor(const core::UniqueFd& listener) {
  if (!spare_fd_) return false;
  spare_fd_.reset();
  core::UniqueFd fd(::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
  const bool accepted = static_cast<bool>(fd);
  if (accepted) {
    if (!accept_failure_logged_) {
      core::logWarning("http: out of file descriptors with ", connections_.size(),
                       " connections open; answering new connections with 503 until some close");
      accept_failure_logged_ = true;
    }
    reject(std::move(fd), "the server is out of file descriptors; retry later");
  }
  // The rejected connection's descriptor is closed by now, so this gets it back.
  spare_fd_ = openSpareDescriptor();
  return accepted;
}

void HttpServer::reject(core::UniqueFd fd, const std::string& message) {
  const std::string response =
      serialize(errorResponse(503, "TOO_MANY_CONNECTIONS", message), false, 1);
  // Best effort: a fresh socket's send buffer takes a small response whole, and if not
  // the client gets a closed connection, which it must handle anyway.
  if (::send(fd.get(), response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
    core::logDebug("http: send 503: ", std::strerror(errno));
  }
  // Read what the request already delivered, so that closing does not turn into a RST
  // that could discard the 503 before the client reads it.
  char buffer[4096];
  for (int i = 0; i < 16 && ::recv(fd.get(), buffer, sizeof buffer, MSG_DONTWAIT) > 0; ++i) {
  }
  ::shutdown(fd.get(), SHUT_WR);  // result irrelevant: the fd closes next either way
}

void HttpServer::closeConnection(HttpConnection* connection) {
  auto it = connections_.find(connection);
  if (it == connections_.end()) return;
  // Usually called from inside the connection's own callback: free it after the batch.
  loop_.deferredDelete(std::move(it->second));
  connections_.erase(it);
}

HttpResponse HttpServer::respond(const HttpRequest& request) const {
  if (!observer_) {
    std::string ignored;
    return route(request, &ignored);
  }
  const core::MonoTime started = loop_.clock().now();
  std::string pattern;
  HttpResponse response = route(request, &pattern);
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::microseconds>(loop_.clock().now() - started);
  observer_(RequestRecord{request.method, pattern.empty() ? "unmatched" : pattern, response.status,
                          elapsed.count()});
  return response;
}

void HttpServer::observeRefused(int status) const {
  if (observer_) observer_(RequestRecord{"", "unmatched", status, 0});
}

HttpResponse HttpServer::route(const HttpRequest& request, std::string* pattern) const {
  Router::Match match = router_.match(request.method, request.path);
  *pattern = std::move(match.pattern);
  // OPTIONS is the CORS preflight for whatever the path offers, unless a route claims
  // OPTIONS itself.
  if (request.method == "OPTIONS" && match.kind == Router::MatchKind::kWrongMethod) {
    HttpResponse response{204, {}, {}};
    response.headers.emplace_back("Access-Control-Allow-Methods", match.allow + ", OPTIONS");
    response.headers.emplace_back("Access-Control-Allow-Headers", "Content-Type, Authorization");
    response.headers.emplace_back("Access-Control-Max-Age", "600");
    return response;
  }
  // Before the routing outcome: without the token, an unknown path is not told apart
  // from a known one. Browsers send no credentials on a preflight, so it stays above.
  if (auth_ != nullptr) {
    switch (auth_->check(request, *pattern)) {
      case BearerAuth::Verdict::kAllowed:
        break;
      case BearerAuth::Verdict::kMissing: {
        HttpResponse response = errorResponse(
            401, "UNAUTHORIZED", "this worker requires an \"Authorization: Bearer\" token");
        response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"worker-agent\"");
        return response;
      }
      case BearerAuth::Verdict::kInvalid: {
        // RFC 6750 section 3.1: credentials were given but are not valid.
        HttpResponse response =
            errorResponse(401, "UNAUTHORIZED",
                          "the Authorization header does not carry this worker's bearer token");
        response.headers.emplace_back("WWW-Authenticate",
                                      "Bearer realm=\"worker-agent\", error=\"invalid_token\"");
        return response;
      }
    }
  }
  switch (match.kind) {
    case Router::MatchKind::kFound:
      try {
        return (*match.handler)(request, match.params);
      } catch (const std::exception& e) {
        core::logError("http: handler for ", request.method, " ", request.path,
                       " threw: ", e.what());
      } catch (...) {
        core::logError("http: handler for ", request.method, " ", request.path,
                       " threw a non-std exception");
      }
      return errorResponse(500, "INTERNAL_ERROR", "internal error while handling the request");
    case Router::MatchKind::kNoPath:
      return errorResponse(404, "NOT_FOUND", "no such resource: " + request.path);
    case Router::MatchKind::kWrongMethod: {
      HttpResponse response = errorResponse(405, "METHOD_NOT_ALLOWED",
                                            request.method + " is not allowed on " + request.path);
      response.headers.emplace_back("Allow", match.allow);
      return response;
    }
    case Router::MatchKind::kBadEncoding:
      break;
  }
  return errorResponse(400, "BAD_REQUEST", "malformed percent-encoding in the request path");
}

HttpResponse HttpServer::errorResponse(int status, std::string_view code,
                                       std::string_view message) const {
  if (render_error_) {
    try {
      return render_error_(status, code, message);
    } catch (const std::exception& e) {
      core::logError("http: error renderer threw: ", e.what());
    }
  }
  return HttpResponse::json(status, "{\"error\":{\"code\":\"" + jsonEscape(code) +
                                        "\",\"message\":\"" + jsonEscape(message) + "\"}}");
}

bool HttpServer::isStreamed(const HttpResponse& response) {
  return response.stream && response.status >= 200 && response.status <= 999 &&
         !isBodiless(response.status);
}

std::string HttpServer::serialize(const HttpResponse& response, bool keep_alive, int http_minor) {
  std::string out;
  serializeTo(response, keep_alive, http_minor, &out);
  return out;
}

void HttpServer::serializeTo(const HttpResponse& response, bool keep_alive, int http_minor,
                             std::string* out_bytes) {
  std::string& out = *out_bytes;
  int status = response.status;
  if (status < 100 || status > 999) {
    core::logError("http: invalid response status ", status, "; sending 500");
    status = 500;
  }
  const bool bodiless = isBodiless(status);
  const bool streamed = isStreamed(response);
  out.reserve(out.size() + 256 + response.body.size());
  out += http_minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += reasonPhrase(status);
  out += "\r\n";
  if (!bodiless) {
    if (!hasHeader(response.headers, "Content-Type")) out += "Content-Type: application/json\r\n";
    if (!streamed) {
      out += "Content-Length: ";
      out += std::to_string(response.body.size());
      out += "\r\n";
    } else if (http_minor != 0) {
      out += "Transfer-Encoding: chunked\r\n";
    }
  }
  if (!hasHeader(response.headers, "Cache-Control")) out += "Cache-Control: no-store\r\n";
  out += "Access-Control-Allow-Origin: *\r\n";
  out += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  for (const auto& [name, value] : response.headers) {
    // The server owns the framing; a handler's copy could contradict it.
    if (equalsIgnoreCase(name, "Content-Length") || equalsIgnoreCase(name, "Transfer-Encoding") ||
        equalsIgnoreCase(name, "Connection") ||
        equalsIgnoreCase(name, "Access-Control-Allow-Origin")) {
      continue;
    }
    if (!isSafeHeader(name, value)) {
      core::logWarning("http: dropping response header with forbidden characters: ", name);
      continue;
    }
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  out += "\r\n";
  if (!bodiless && !streamed) out += response.body;
}

}  // namespace wa::http
