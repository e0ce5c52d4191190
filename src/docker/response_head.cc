#include "docker/response_head.h"

#include <llhttp.h>

namespace wa::docker {
namespace {

// Stops llhttp at the end of the head: what follows is the stream, or an error body the
// caller reads itself.
int pauseAtHeadEnd(llhttp_t* /*parser*/) noexcept { return HPE_PAUSED; }

const llhttp_settings_t& settings() {
  // llhttp keeps a pointer to the settings for the parser's lifetime: one static copy.
  static const llhttp_settings_t kSettings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_headers_complete = &pauseAtHeadEnd;
    return s;
  }();
  return kSettings;
}

}  // namespace

ResponseHead parseResponseHead(std::string_view buffer) {
  // A head is a few hundred bytes, read once or twice: a new parser over the whole buffer
  // each time keeps this a pure function of what has arrived.
  llhttp_t parser;
  llhttp_init(&parser, HTTP_RESPONSE, &settings());
  const llhttp_errno_t result = llhttp_execute(&parser, buffer.data(), buffer.size());
  ResponseHead head;
  if (result == HPE_OK) return head;  // all of it read, the head not yet complete
  if (result != HPE_PAUSED) {
    head.parse = ResponseHead::Parse::kInvalid;
    return head;
  }
  head.parse = ResponseHead::Parse::kComplete;
  head.status = parser.status_code;
  head.length = static_cast<size_t>(llhttp_get_error_pos(&parser) - buffer.data());
  if (parser.flags & F_CONTENT_LENGTH) head.content_length = parser.content_length;
  return head;
}

}  // namespace wa::docker
