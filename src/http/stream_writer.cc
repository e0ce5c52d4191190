#include "http/stream_writer.h"

#include "http/http_connection.h"

namespace wa::http {

// The connection may let go of this writer inside each call (the stream ends, or the
// client is disconnected); nothing here touches a member after calling into it.

bool StreamWriter::write(std::string_view data) {
  return connection_ != nullptr && connection_->streamWrite(data);
}

void StreamWriter::end() {
  if (connection_ != nullptr) connection_->streamEnd();
}

void StreamWriter::abort() {
  if (connection_ != nullptr) connection_->streamAbort();
}

size_t StreamWriter::buffered() const {
  return connection_ != nullptr ? connection_->pendingOutput() : 0;
}

void StreamWriter::drained() {
  if (connection_ == nullptr || !on_drain_) return;
  // A copy: the hook may replace itself, or end the stream, which releases it.
  const std::function<void()> hook = on_drain_;
  hook();
}

}  // namespace wa::http
