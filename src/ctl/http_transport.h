// HttpTransport: one blocking HTTP request at a time, for `worker-agent ctl` (a separate
// process: it may wait; the daemon's loop never runs this code). CurlTransport sends them
// with libcurl's easy interface over a unix socket or TCP; the unit tests use a fake.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace wa::ctl {

struct HttpReply {
  int status = 0;     // 0 when no answer came (error says why)
  std::string body;   // the answer's body
  std::string error;  // why the request got no answer, "" when it did
  int os_errno = 0;   // the connect error when known (ENOENT, EACCES, ECONNREFUSED)
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Sends method path (with its query) and waits for the whole answer.
  virtual HttpReply request(std::string_view method, std::string_view path) = 0;
  // Where requests go, for messages: "unix socket /run/worker-agent/api.sock" or
  // "http://127.0.0.1:9000".
  virtual std::string where() const = 0;
};

// Where to reach a server: a unix socket path, or a base URL "http://host:port".
struct Endpoint {
  std::string unix_path;
  std::string url_base;
  std::string where() const;
};

// libcurl, one easy handle per request. token, when not empty, goes in an
// "Authorization: Bearer" header.
class CurlTransport final : public HttpTransport {
 public:
  CurlTransport(Endpoint endpoint, std::string token, std::chrono::seconds timeout);
  HttpReply request(std::string_view method, std::string_view path) override;
  std::string where() const override { return endpoint_.where(); }

 private:
  Endpoint endpoint_;
  std::string token_;
  std::chrono::seconds timeout_;
};

}  // namespace wa::ctl
