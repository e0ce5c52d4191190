// Responder: the handler's hold on a response it decides later (HttpResponse::deferred),
// such as a job submission answered once the journal has it on disk. The connection waits
// for it (requests pipelined behind wait too); respond() sends it and the connection goes
// on. Shared between the connection and the handler's work; once the connection is gone
// (the client left, the server closed), respond() does nothing. Never calls back.
#pragma once

#include <memory>

namespace wa::http {

class HttpConnection;
struct HttpResponse;

class Responder {
 public:
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;

  // Sends response (not a streamed one) as the answer; only the first call counts.
  void respond(HttpResponse response);
  // False once respond() was called or the connection closed.
  bool isOpen() const { return connection_ != nullptr; }

 private:
  friend class HttpConnection;
  explicit Responder(HttpConnection* connection) : connection_(connection) {}
  HttpConnection* connection_;  // nullptr once over
};

using ResponderPtr = std::shared_ptr<Responder>;

}  // namespace wa::http
