// HttpParser: llhttp wrapped for one connection's requests. It stops after each complete
// request (llhttp pause), joins spans that llhttp hands over in pieces, and enforces the
// head and body size limits while the bytes arrive, so nothing grows past a limit.
#pragma once

#include <llhttp.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "http/http_request.h"

namespace wa::http {

class HttpParser {
 public:
  enum class Result {
    kNeedMore,  // every byte consumed, the request is not complete yet
    kRequest,   // one request is complete: takeRequest()
    kError,     // the stream is unusable: error() says what to answer, then close
  };
  struct Error {
    int status = 0;    // 400, 413, 431, 500
    std::string code;  // "BAD_REQUEST", "PAYLOAD_TOO_LARGE", "HEADERS_TOO_LARGE", ...
    std::string message;
  };

  // max_header_bytes bounds the request line plus headers (raw bytes, CRLFs included);
  // max_body_bytes bounds the decoded body.
  HttpParser(size_t max_header_bytes, size_t max_body_bytes);
  // llhttp keeps a pointer to this object: it never moves.
  HttpParser(const HttpParser&) = delete;
  HttpParser& operator=(const HttpParser&) = delete;

  // Parses data until one request is complete. *consumed is how many bytes were used:
  // all of them for kNeedMore; for kRequest the rest belongs to the next request and must
  // be fed again after takeRequest(). Must not be called again after kError, nor after
  // kRequest before takeRequest().
  Result feed(std::string_view data, size_t* consumed);

  // After kRequest: hands over the request and readies the parser for the next one.
  HttpRequest takeRequest();
  // After kRequest: whether the connection may carry another request after this one
  // (HTTP/1.0 without keep-alive, "Connection: close" and upgrades say no).
  bool keepAlive() const { return keep_alive_; }
  // After kError.
  const Error& error() const { return error_; }

  // Whether the head of the current request has been received in full.
  bool headersComplete() const { return headers_complete_; }
  // Bytes of the current request's body received so far (decoded).
  size_t bodyBytes() const { return request_.body.size(); }
  // True once for a request whose head asked for "Expect: 100-continue" and whose body
  // is still to come: the caller should send an interim "100 Continue".
  bool takeContinueRequest();

 private:
  template <int (HttpParser::*Method)()>
  static int callback(llhttp_t* parser) noexcept;
  template <int (HttpParser::*Method)(const char*, size_t)>
  static int dataCallback(llhttp_t* parser, const char* at, size_t length) noexcept;
  static const llhttp_settings_t& settings();

  int onMessageBegin();
  int onUrl(const char* at, size_t length);
  int onHeaderField(const char* at, size_t length);
  int onHeaderFieldComplete();
  int onHeaderValue(const char* at, size_t length);
  int onHeaderValueComplete();
  int onHeadersComplete();
  int onChunkHeader();
  int onBody(const char* at, size_t length);
  int onMessageComplete();

  // Records why parsing stops; callbacks then return HPE_USER.
  int fail(int status, std::string code, std::string message);
  Result failFromErrno(llhttp_errno_t err);

  llhttp_t parser_;
  const size_t max_header_bytes_;
  const size_t max_body_bytes_;
  HttpRequest request_;
  size_t head_bytes_ = 0;  // raw bytes of the current head parsed so far
  bool in_header_field_ = false;
  bool headers_complete_ = false;
  bool message_complete_ = false;
  bool keep_alive_ = false;
  bool continue_pending_ = false;
  bool failed_ = false;
  Error error_;
};

}  // namespace wa::http
