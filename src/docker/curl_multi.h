// CurlMulti: libcurl's multi socket interface on the EventLoop. curl tells us which
// sockets to watch (CURLMOPT_SOCKETFUNCTION: one FileEvent per socket, its state kept with
// curl_multi_assign) and when to time out (CURLMOPT_TIMERFUNCTION: one Timer); readiness
// and timeouts go back through curl_multi_socket_action.
//
// Readiness and timeouts are not handed to curl inside the FileEvent or Timer callback
// but from one task posted to the loop: there curl may close sockets (we destroy their
// FileEvents, never inside their own callback), and completions run after curl returns,
// so a completion may start requests or destroy this CurlMulti.
//
// Every request is a core::RequestHandle its owner holds: destroying the handle removes
// the transfer from curl and drops its completion unrun, even when it was about to run.
#pragma once

#include <curl/curl.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/event_loop.h"
#include "core/liveness.h"
#include "core/request_handle.h"

namespace wa::docker {

class CurlMulti final : public core::RequestIssuer {
 public:
  struct Request {
    std::string method = "GET";  // GET, POST, PUT, DELETE, ...
    std::string url;
    std::string unix_socket_path;      // empty: connect by the URL's host
    std::string body;                  // POST and PUT only; any bytes (NULs included)
    std::string content_type;          // of a non-empty body; empty: application/json
    std::vector<std::string> headers;  // extra "Name: value" lines (X-Registry-Auth, ...)
    long timeout_ms = 30'000;          // whole request; 0: none (long polls such as wait)
    long connect_timeout_ms = 10'000;
    // A new connection, closed after this request, rather than one kept alive: only a new
    // connection shows that the engine still listens (a stopping engine has closed its
    // listener but goes on answering on connections already open).
    bool fresh_connection = false;
    // The name of one response header to hand back in Response::header_value
    // ("Api-Version"); "" for none.
    std::string response_header;
  };
  struct Response {
    CURLcode result = CURLE_OK;  // not CURLE_OK: the transfer failed
    std::string error;           // details beyond curl_easy_strerror(result); may be empty
    long http_status = 0;
    std::string body;
    std::string header_value;  // Request::response_header's value; "" when absent
  };
  using Completion = std::function<void(Response)>;

  explicit CurlMulti(core::EventLoop& loop);
  // Aborts every transfer in flight; their completions are not run.
  ~CurlMulti();
  CurlMulti(const CurlMulti&) = delete;
  CurlMulti& operator=(const CurlMulti&) = delete;

  // Starts a request. done runs later on the loop, exactly once (unless the handle or this
  // CurlMulti is destroyed first), never inside this call.
  core::RequestHandle start(Request request, Completion done);
  // Completes done with response from the loop, as if a transfer had ended that way
  // (for requests that cannot even be made). Counts as in flight until then.
  core::RequestHandle failLater(Response response, Completion done);
  // RequestIssuer: what a handle's destruction calls.
  void cancelRequest(uint64_t id) noexcept override;
  // Transfers started and not yet completed.
  size_t inFlight() const { return transfers_.size() + failed_.size(); }
  // Sockets curl currently asks us to watch (for tests).
  size_t watchedSockets() const { return sockets_.size(); }

  // Largest response body accepted; a larger one fails the transfer.
  static constexpr size_t kMaxResponseBytes = 64u << 20;

 private:
  struct CurlMultiDeleter {
    void operator()(CURLM* multi) const { curl_multi_cleanup(multi); }
  };
  struct CurlEasyDeleter {
    void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
  };
  struct CurlSlistDeleter {
    void operator()(curl_slist* list) const { curl_slist_free_all(list); }
  };
  using MultiPtr = std::unique_ptr<CURLM, CurlMultiDeleter>;
  using EasyPtr = std::unique_ptr<CURL, CurlEasyDeleter>;
  using SlistPtr = std::unique_ptr<curl_slist, CurlSlistDeleter>;

  struct Transfer {
    uint64_t id = 0;
    EasyPtr easy;
    SlistPtr headers;
    Request request;
    std::string response_body;
    bool body_too_large = false;
    char error[CURL_ERROR_SIZE] = {};
    Completion done;
    Response failure;  // set when the transfer could not even be started
  };
  struct Socket {
    curl_socket_t fd;
    std::unique_ptr<core::FileEvent> event;
  };

  static int onSocket(CURL* easy, curl_socket_t fd, int what, void* userp, void* socketp) noexcept;
  static int onTimer(CURLM* multi, long timeout_ms, void* userp) noexcept;
  static size_t onWrite(char* data, size_t size, size_t count, void* userp) noexcept;

  core::RequestHandle handleFor(uint64_t id) { return {*this, liveness_.watch(), id}; }
  int updateSocket(curl_socket_t fd, int what, Socket* socket);
  void onReady(curl_socket_t fd, uint32_t ready);
  void scheduleDispatch();
  void dispatch();
  void socketAction(curl_socket_t fd, int flags);
  // Configures t's easy handle for its request; false (with t->failure set) on error.
  bool configure(Transfer& t);
  EasyPtr takeEasy();
  void recycleEasy(EasyPtr easy);

  core::EventLoop& loop_;
  MultiPtr multi_;
  std::unique_ptr<core::Timer> timer_;
  std::unordered_map<CURL*, std::unique_ptr<Transfer>> transfers_;
  std::unordered_map<uint64_t, CURL*> transfer_by_id_;
  uint64_t next_id_ = 1;
  // Transfers that failed before curl took them; completed by the next dispatch.
  std::vector<std::unique_ptr<Transfer>> failed_;
  // The completions dispatch() is running, by request id: a cancel among them drops its
  // completion here.
  std::vector<std::pair<uint64_t, Completion>> completing_;
  std::unordered_map<curl_socket_t, std::unique_ptr<Socket>> sockets_;
  // Readiness gathered during the current batch of events, handed to curl by dispatch().
  std::vector<std::pair<curl_socket_t, int>> ready_;
  bool timeout_due_ = false;
  bool dispatch_posted_ = false;
  // Idle easy handles kept for reuse (they keep their DNS cache and settings' memory).
  std::vector<EasyPtr> idle_easy_;
  // Ends with this object; posted tasks and handles check it.
  core::Liveness liveness_;
};

}  // namespace wa::docker
