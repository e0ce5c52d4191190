#include "ctl/http_transport.h"

#include <curl/curl.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace wa::ctl {
namespace {

// Answers larger than this are cut off: the worker's largest (a job list) stays far below.
constexpr size_t kMaxBody = size_t{256} * 1024 * 1024;

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

size_t appendBody(char* data, size_t size, size_t count, void* user) noexcept {
  auto* body = static_cast<std::string*>(user);
  const size_t bytes = size * count;
  if (body->size() + bytes > kMaxBody) return 0;  // fails the transfer
  try {
    body->append(data, bytes);
  } catch (...) {
    return 0;
  }
  return bytes;
}

}  // namespace

std::string Endpoint::where() const {
  return unix_path.empty() ? url_base : "unix socket " + unix_path;
}

CurlTransport::CurlTransport(Endpoint endpoint, std::string token, std::chrono::seconds timeout)
    : endpoint_(std::move(endpoint)), token_(std::move(token)), timeout_(timeout) {}

HttpReply CurlTransport::request(std::string_view method, std::string_view path) {
  HttpReply reply;
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) {
    reply.error = "libcurl could not start a request";
    return reply;
  }
  CURL* h = curl.get();
  const std::string base = endpoint_.unix_path.empty() ? endpoint_.url_base : "http://localhost";
  const std::string url = base + std::string(path);
  const std::string verb(method);
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  const auto addHeader = [&headers](const std::string& line) {
    headers.reset(curl_slist_append(headers.release(), line.c_str()));
  };
  // The bearer token is the worker's secret: it goes in the header only, never in a URL
  // or a message.
  if (!token_.empty()) addHeader("Authorization: Bearer " + token_);
  addHeader("Expect:");
  char error[CURL_ERROR_SIZE] = {};
  bool set = curl_easy_setopt(h, CURLOPT_URL, url.c_str()) == CURLE_OK &&
             curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, verb.c_str()) == CURLE_OK &&
             curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &appendBody) == CURLE_OK &&
             curl_easy_setopt(h, CURLOPT_WRITEDATA, &reply.body) == CURLE_OK &&
             curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error) == CURLE_OK &&
             curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
             curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()) * 1000L) ==
                 CURLE_OK &&
             curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get()) == CURLE_OK &&
             curl_easy_setopt(h, CURLOPT_PROXY, "") == CURLE_OK;
  // A POST with no body still says so, so that no proxy-like middle waits for one.
  if (set && verb == "POST") {
    set = curl_easy_setopt(h, CURLOPT_POSTFIELDS, "") == CURLE_OK &&
          curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L) == CURLE_OK;
  }
  if (set && !endpoint_.unix_path.empty()) {
    set = curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, endpoint_.unix_path.c_str()) == CURLE_OK;
  }
  if (!set) {
    reply.error = "libcurl refused an option";
    return reply;
  }
  const CURLcode code = curl_easy_perform(h);
  if (code != CURLE_OK) {
    long os_errno = 0;
    if (curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK) {
      reply.os_errno = static_cast<int>(os_errno);
    }
    reply.error = error[0] != '\0' ? error : curl_easy_strerror(code);
    // libcurl words a unix socket's failure as one to "localhost port 80": say what it was.
    if (!endpoint_.unix_path.empty() && code == CURLE_COULDNT_CONNECT && reply.os_errno != 0) {
      reply.error = std::string("cannot connect: ") + std::strerror(reply.os_errno);
    }
    reply.body.clear();
    return reply;
  }
  long status = 0;
  if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) {
    reply.error = "no status in the answer";
    return reply;
  }
  reply.status = static_cast<int>(status);
  return reply;
}

}  // namespace wa::ctl
