#include "http/response_writer.h"

#include <strings.h>

#include <string_view>

#include "core/log.h"

namespace wa::http {
namespace {

using namespace std::string_view_literals;

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

}  // namespace

bool isStreamedResponse(const HttpResponse& response) {
  return response.stream && response.status >= 200 && response.status <= 999 &&
         !isBodiless(response.status);
}

std::string serializeResponse(const HttpResponse& response, bool keep_alive, int http_minor) {
  std::string out;
  serializeResponseTo(response, keep_alive, http_minor, &out);
  return out;
}

void serializeResponseTo(const HttpResponse& response, bool keep_alive, int http_minor,
                         std::string* out_bytes) {
  std::string& out = *out_bytes;
  int status = response.status;
  if (status < 100 || status > 999) {
    core::logError("http: invalid response status ", status, "; sending 500");
    status = 500;
  }
  const bool bodiless = isBodiless(status);
  const bool streamed = isStreamedResponse(response);
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
