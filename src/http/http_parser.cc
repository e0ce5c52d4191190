#include "http/http_parser.h"

#include <strings.h>

#include <cstdlib>
#include <utility>

namespace wa::http {
namespace {

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// RFC 9110 token characters.
bool isToken(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

}  // namespace

template <int (HttpParser::*Method)()>
int HttpParser::callback(llhttp_t* parser) noexcept {
  auto* self = static_cast<HttpParser*>(parser->data);
  // No exception may cross llhttp's C frames; the only one possible here is bad_alloc.
  try {
    return (self->*Method)();
  } catch (...) {
    return self->fail(500, "INTERNAL_ERROR", "out of memory while parsing the request");
  }
}

template <int (HttpParser::*Method)(const char*, size_t)>
int HttpParser::dataCallback(llhttp_t* parser, const char* at, size_t length) noexcept {
  auto* self = static_cast<HttpParser*>(parser->data);
  try {
    return (self->*Method)(at, length);
  } catch (...) {
    return self->fail(500, "INTERNAL_ERROR", "out of memory while parsing the request");
  }
}

const llhttp_settings_t& HttpParser::settings() {
  // llhttp keeps a pointer to the settings for the parser's lifetime: one static copy.
  static const llhttp_settings_t kSettings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_begin = &callback<&HttpParser::onMessageBegin>;
    s.on_url = &dataCallback<&HttpParser::onUrl>;
    s.on_header_field = &dataCallback<&HttpParser::onHeaderField>;
    s.on_header_field_complete = &callback<&HttpParser::onHeaderFieldComplete>;
    s.on_header_value = &dataCallback<&HttpParser::onHeaderValue>;
    s.on_header_value_complete = &callback<&HttpParser::onHeaderValueComplete>;
    s.on_headers_complete = &callback<&HttpParser::onHeadersComplete>;
    s.on_chunk_header = &callback<&HttpParser::onChunkHeader>;
    s.on_body = &dataCallback<&HttpParser::onBody>;
    s.on_message_complete = &callback<&HttpParser::onMessageComplete>;
    return s;
  }();
  return kSettings;
}

HttpParser::HttpParser(size_t max_header_bytes, size_t max_body_bytes)
    : max_header_bytes_(max_header_bytes), max_body_bytes_(max_body_bytes) {
  llhttp_init(&parser_, HTTP_REQUEST, &settings());
  parser_.data = this;
  // No lenient flags: strict parsing rejects Content-Length together with
  // Transfer-Encoding, a chunked coding that is not last, and bad header tokens; each of
  // those is a request-smuggling vector.
}

HttpParser::Result HttpParser::feed(std::string_view data, size_t* consumed) {
  *consumed = 0;
  if (failed_ || message_complete_) std::abort();  // caller broke the contract
  while (*consumed < data.size()) {
    const char* begin = data.data() + *consumed;
    size_t n = data.size() - *consumed;
    // While the head is incomplete llhttp sees at most the bytes left in the head budget,
    // so the count is exact: if the budget is used up and the head is still incomplete,
    // the head is longer than the limit.
    bool at_budget = false;
    if (!headers_complete_) {
      const size_t budget = max_header_bytes_ - head_bytes_;
      if (n >= budget) {
        n = budget;
        at_budget = true;
      }
      if (n == 0) {
        fail(431, "HEADERS_TOO_LARGE", "request head exceeds the limit");
        return Result::kError;
      }
    }
    const llhttp_errno_t err = llhttp_execute(&parser_, begin, n);
    if (err == HPE_OK) {
      *consumed += n;
      if (!headers_complete_) {
        head_bytes_ += n;
        if (at_budget) {
          fail(431, "HEADERS_TOO_LARGE",
               "request head exceeds " + std::to_string(max_header_bytes_) + " bytes");
          return Result::kError;
        }
      }
      continue;
    }
    // onMessageComplete pauses; llhttp reports where it stopped. An upgrade request
    // completes with HPE_PAUSED_UPGRADE; it is answered as a plain request and closed.
    if ((err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) && message_complete_) {
      *consumed += static_cast<size_t>(llhttp_get_error_pos(&parser_) - begin);
      return Result::kRequest;
    }
    return failFromErrno(err);
  }
  return Result::kNeedMore;
}

HttpRequest HttpParser::takeRequest() {
  if (!message_complete_) std::abort();
  HttpRequest request = std::move(request_);
  request_ = HttpRequest{};
  head_bytes_ = 0;
  in_header_field_ = false;
  headers_complete_ = false;
  message_complete_ = false;
  continue_pending_ = false;
  // Only HPE_PAUSED may be resumed. After an upgrade the connection closes, so the
  // parser is not used again and resuming is unnecessary.
  if (llhttp_get_errno(&parser_) == HPE_PAUSED) llhttp_resume(&parser_);
  return request;
}

bool HttpParser::takeContinueRequest() { return std::exchange(continue_pending_, false); }

int HttpParser::onMessageBegin() {
  request_ = HttpRequest{};
  return 0;
}

int HttpParser::onUrl(const char* at, size_t length) {
  request_.target.append(at, length);
  return 0;
}

int HttpParser::onHeaderField(const char* at, size_t length) {
  // llhttp may deliver one name in several pieces (split reads): a new header starts only
  // after the previous name was completed.
  if (!in_header_field_) {
    request_.headers.emplace_back();
    in_header_field_ = true;
  }
  request_.headers.back().first.append(at, length);
  return 0;
}

int HttpParser::onHeaderFieldComplete() {
  in_header_field_ = false;
  // The Debian llhttp is built without LLHTTP_STRICT_MODE and lets "Name : v" and
  // "Bad Name: v" through; a proxy in front could read those differently (smuggling).
  if (!isToken(request_.headers.back().first)) {
    return fail(400, "BAD_REQUEST", "malformed request: invalid header name");
  }
  return 0;
}

int HttpParser::onHeaderValue(const char* at, size_t length) {
  request_.headers.back().second.append(at, length);
  return 0;
}

int HttpParser::onHeaderValueComplete() {
  // Leading whitespace never reaches us; trailing whitespace is not part of the value.
  std::string& value = request_.headers.back().second;
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
  return 0;
}

int HttpParser::onHeadersComplete() {
  request_.method = llhttp_method_name(static_cast<llhttp_method_t>(parser_.method));
  if (parser_.http_major != 1) {
    return fail(400, "BAD_REQUEST",
                "unsupported HTTP version " + std::to_string(parser_.http_major) + "." +
                    std::to_string(parser_.http_minor));
  }
  request_.http_minor = parser_.http_minor;
  const size_t question = request_.target.find('?');
  request_.path = request_.target.substr(0, question);
  request_.query = question == std::string::npos ? "" : request_.target.substr(question + 1);

  // Refuse an oversized body before reading any of it.
  if ((parser_.flags & F_CONTENT_LENGTH) && parser_.content_length > max_body_bytes_) {
    return fail(413, "PAYLOAD_TOO_LARGE",
                "request body of " + std::to_string(parser_.content_length) +
                    " bytes exceeds the limit of " + std::to_string(max_body_bytes_) + " bytes");
  }
  const bool body_follows = (parser_.flags & F_CHUNKED) || parser_.content_length > 0;
  if (body_follows && request_.http_minor >= 1) {
    const std::string* expect = request_.header("Expect");
    continue_pending_ = expect != nullptr && equalsIgnoreCase(*expect, "100-continue");
  }
  headers_complete_ = true;
  return 0;
}

int HttpParser::onChunkHeader() {
  // content_length holds the announced chunk size: refuse before receiving it.
  if (parser_.content_length > max_body_bytes_ - request_.body.size()) {
    return fail(
        413, "PAYLOAD_TOO_LARGE",
        "chunked request body exceeds the limit of " + std::to_string(max_body_bytes_) + " bytes");
  }
  return 0;
}

int HttpParser::onBody(const char* at, size_t length) {
  if (length > max_body_bytes_ - request_.body.size()) {
    return fail(413, "PAYLOAD_TOO_LARGE",
                "request body exceeds the limit of " + std::to_string(max_body_bytes_) + " bytes");
  }
  request_.body.append(at, length);
  return 0;
}

int HttpParser::onMessageComplete() {
  keep_alive_ = llhttp_should_keep_alive(&parser_) != 0 && parser_.upgrade == 0;
  message_complete_ = true;
  continue_pending_ = false;
  // Stop here: the caller answers this request before the next one is parsed, so
  // responses leave in request order and a pipelining client cannot queue up work.
  return HPE_PAUSED;
}

int HttpParser::fail(int status, std::string code, std::string message) {
  failed_ = true;
  error_ = Error{status, std::move(code), std::move(message)};
  return HPE_USER;
}

HttpParser::Result HttpParser::failFromErrno(llhttp_errno_t err) {
  // A callback that refused (limits, version) already said why; whatever errno llhttp
  // turned its return value into, that reason wins.
  if (!failed_) {
    const char* reason = llhttp_get_error_reason(&parser_);
    fail(400, "BAD_REQUEST",
         std::string("malformed request: ") + llhttp_errno_name(err) + ": " +
             (reason != nullptr ? reason : "unknown"));
  }
  return Result::kError;
}

}  // namespace wa::http
