// The bytes of an HTTP/1.x response: every response the server sends leaves through
// serializeResponseTo, which owns the framing and the headers every answer carries.
#pragma once

#include <string>

#include "http/http_request.h"

namespace wa::http {

// Appends response to out, where a connection keeps what it has still to send (the body
// is copied once, from the response to the connection's output). Adds Content-Type:
// application/json and Content-Length (except for 1xx/204/304, which carry no body),
// Cache-Control: no-store, Access-Control-Allow-Origin: * and Connection. The response's
// own headers follow; a Content-Type or Cache-Control there replaces the default; headers
// the server owns (Content-Length, Transfer-Encoding, Connection,
// Access-Control-Allow-Origin) and headers with CR/LF/NUL are dropped. The status line
// says HTTP/1.0 to an HTTP/1.0 client, else HTTP/1.1. A streamed response
// (isStreamedResponse) gets no Content-Length and no body here: HTTP/1.1 says
// Transfer-Encoding: chunked, HTTP/1.0 relies on the close (keep_alive false).
void serializeResponseTo(const HttpResponse& response, bool keep_alive, int http_minor,
                         std::string* out);
// The same as a string of its own (a rejected connection's 503; tests).
std::string serializeResponse(const HttpResponse& response, bool keep_alive, int http_minor);
// Whether response has a body to stream: stream is set and its status may carry a body.
bool isStreamedResponse(const HttpResponse& response);

}  // namespace wa::http
