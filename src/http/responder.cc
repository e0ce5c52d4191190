#include "http/responder.h"

#include <utility>

#include "http/http_connection.h"

namespace wa::http {

void Responder::respond(HttpResponse response) {
  HttpConnection* connection = connection_;
  if (connection == nullptr) return;
  connection_ = nullptr;
  connection->deferredRespond(std::move(response));
}

}  // namespace wa::http
