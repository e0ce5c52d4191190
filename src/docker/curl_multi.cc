#include "docker/curl_multi.h"

#include <openssl/crypto.h>

#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "core/assert.h"
#include "core/log.h"

namespace wa::docker {
namespace {

// Idle easy handles kept for the next requests.
constexpr size_t kMaxIdleEasyHandles = 8;
// Connections kept open in the multi handle's cache once their request is done. Waits hold
// a connection each for as long as a container runs, so this bounds only the idle ones.
constexpr long kMaxCachedConnections = 16;

// Debian's libcurl is built on OpenSSL, and curl_global_init initialises OpenSSL whatever its
// flags say (CURL_GLOBAL_SSL is ignored since curl 7.57): the configuration file, every
// cipher and digest added by name, the error strings of every library. The worker speaks
// plain HTTP to the engine (a Unix socket or tcp://) and never TLS, so those parts of
// OpenSSL's one-time initialisation are settled first as "not wanted": OpenSSL runs each
// part once, and the ones settled here are no longer done when curl asks. Idle, this keeps
// ~1.2 MB of libcrypto's pages out of the worker's memory (bench/README.md).
void initOpenSslForPlainHttp() {
  constexpr uint64_t kWithoutTls =
      OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS |
      OPENSSL_INIT_NO_ADD_ALL_CIPHERS | OPENSSL_INIT_NO_ADD_ALL_DIGESTS;
  if (OPENSSL_init_crypto(kWithoutTls, nullptr) != 1) {
    core::logError("fatal: OPENSSL_init_crypto failed");
    std::abort();
  }
}

void initCurlOnce() {
  // curl_global_init is not guaranteed thread-safe: run it once, before any handle exists.
  static const CURLcode result = [] {
    initOpenSslForPlainHttp();
    return curl_global_init(CURL_GLOBAL_DEFAULT);
  }();
  if (result != CURLE_OK) {
    core::logError("fatal: curl_global_init: ", curl_easy_strerror(result));
    std::abort();
  }
}

void checkMulti(CURLMcode rc, const char* what) {
  // Setting options on a fresh multi handle only fails if libcurl is unusable.
  if (rc != CURLM_OK) {
    core::logError("fatal: ", what, ": ", curl_multi_strerror(rc));
    std::abort();
  }
}

}  // namespace

CurlMulti::CurlMulti(core::EventLoop& loop) : loop_(loop) {
  initCurlOnce();
  multi_.reset(curl_multi_init());
  if (!multi_) {
    core::logError("fatal: curl_multi_init failed");
    std::abort();
  }
  timer_ = loop_.createTimer([this] {
    timeout_due_ = true;
    scheduleDispatch();
  });
  checkMulti(curl_multi_setopt(multi_.get(), CURLMOPT_SOCKETFUNCTION, &CurlMulti::onSocket),
             "CURLMOPT_SOCKETFUNCTION");
  checkMulti(curl_multi_setopt(multi_.get(), CURLMOPT_SOCKETDATA, this), "CURLMOPT_SOCKETDATA");
  checkMulti(curl_multi_setopt(multi_.get(), CURLMOPT_TIMERFUNCTION, &CurlMulti::onTimer),
             "CURLMOPT_TIMERFUNCTION");
  checkMulti(curl_multi_setopt(multi_.get(), CURLMOPT_TIMERDATA, this), "CURLMOPT_TIMERDATA");
  checkMulti(curl_multi_setopt(multi_.get(), CURLMOPT_MAXCONNECTS, kMaxCachedConnections),
             "CURLMOPT_MAXCONNECTS");
}

CurlMulti::~CurlMulti() {
  liveness_.end();  // handles and posted tasks find it gone from here on
  for (auto& [easy, transfer] : transfers_) {
    const CURLMcode rc = curl_multi_remove_handle(multi_.get(), easy);
    if (rc != CURLM_OK) core::logWarning("curl_multi_remove_handle: ", curl_multi_strerror(rc));
  }
  transfers_.clear();
  failed_.clear();
  // curl must not call back into a half-destroyed object while it closes its connections.
  const CURLMcode socket_rc =
      curl_multi_setopt(multi_.get(), CURLMOPT_SOCKETFUNCTION, static_cast<void*>(nullptr));
  const CURLMcode timer_rc =
      curl_multi_setopt(multi_.get(), CURLMOPT_TIMERFUNCTION, static_cast<void*>(nullptr));
  if (socket_rc != CURLM_OK || timer_rc != CURLM_OK) {
    core::logError("fatal: clearing curl multi callbacks failed");
    std::abort();
  }
  sockets_.clear();  // unwatch while the descriptors are still open
  multi_.reset();    // closes the cached connections
  idle_easy_.clear();
}

core::RequestHandle CurlMulti::start(Request request, Completion done) {
  auto transfer = std::make_unique<Transfer>();
  const uint64_t id = next_id_++;
  transfer->id = id;
  transfer->request = std::move(request);
  transfer->done = std::move(done);
  transfer->easy = takeEasy();
  if (!transfer->easy) {
    transfer->failure.result = CURLE_FAILED_INIT;
    transfer->failure.error = "curl_easy_init failed";
  }
  if (!transfer->easy || !configure(*transfer)) {
    // Completed from the loop like any other request: never inside start().
    failed_.push_back(std::move(transfer));
    scheduleDispatch();
    return handleFor(id);
  }
  CURL* easy = transfer->easy.get();
  const CURLMcode rc = curl_multi_add_handle(multi_.get(), easy);
  if (rc != CURLM_OK) {
    transfer->failure.result = CURLE_FAILED_INIT;
    transfer->failure.error = std::string("curl_multi_add_handle: ") + curl_multi_strerror(rc);
    failed_.push_back(std::move(transfer));
    scheduleDispatch();
    return handleFor(id);
  }
  transfers_.emplace(easy, std::move(transfer));
  transfer_by_id_.emplace(id, easy);
  return handleFor(id);
}

core::RequestHandle CurlMulti::failLater(Response response, Completion done) {
  auto transfer = std::make_unique<Transfer>();
  const uint64_t id = next_id_++;
  transfer->id = id;
  transfer->failure = std::move(response);
  transfer->done = std::move(done);
  failed_.push_back(std::move(transfer));
  scheduleDispatch();
  return handleFor(id);
}

void CurlMulti::cancelRequest(uint64_t id) noexcept {
  if (auto it = transfer_by_id_.find(id); it != transfer_by_id_.end()) {
    CURL* easy = it->second;
    transfer_by_id_.erase(it);
    auto transfer = transfers_.find(easy);
    WA_ASSERT(transfer != transfers_.end(), "a transfer id without its transfer");
    // Outside curl's own callbacks (handles are destroyed from the loop's callbacks and
    // completions, never from onSocket/onTimer/onWrite): removing the handle is allowed.
    const CURLMcode rc = curl_multi_remove_handle(multi_.get(), easy);
    if (rc == CURLM_OK) {
      recycleEasy(std::move(transfer->second->easy));
    } else {
      core::logWarning("curl_multi_remove_handle: ", curl_multi_strerror(rc));
    }
    transfers_.erase(transfer);
    return;
  }
  for (auto it = failed_.begin(); it != failed_.end(); ++it) {
    if ((*it)->id == id) {
      failed_.erase(it);
      return;
    }
  }
  for (auto& [completing_id, done] : completing_) {
    if (completing_id == id) done = nullptr;
  }
}

bool CurlMulti::configure(Transfer& t) {
  CURL* easy = t.easy.get();
  const Request& req = t.request;
  CURLcode failed = CURLE_OK;
  const char* failed_option = "";
  auto set = [&](CURLoption option, const char* name, auto value) {
    if (failed != CURLE_OK) return;
    const CURLcode rc = curl_easy_setopt(easy, option, value);
    if (rc != CURLE_OK) {
      failed = rc;
      failed_option = name;
    }
  };
  set(CURLOPT_URL, "CURLOPT_URL", req.url.c_str());
  if (!req.unix_socket_path.empty())
    set(CURLOPT_UNIX_SOCKET_PATH, "CURLOPT_UNIX_SOCKET_PATH", req.unix_socket_path.c_str());
  set(CURLOPT_NOSIGNAL, "CURLOPT_NOSIGNAL", 1L);
  set(CURLOPT_ERRORBUFFER, "CURLOPT_ERRORBUFFER", static_cast<char*>(t.error));
  set(CURLOPT_WRITEFUNCTION, "CURLOPT_WRITEFUNCTION", &CurlMulti::onWrite);
  set(CURLOPT_WRITEDATA, "CURLOPT_WRITEDATA", static_cast<void*>(&t));
  set(CURLOPT_TIMEOUT_MS, "CURLOPT_TIMEOUT_MS", req.timeout_ms);
  set(CURLOPT_CONNECTTIMEOUT_MS, "CURLOPT_CONNECTTIMEOUT_MS", req.connect_timeout_ms);
  set(CURLOPT_TCP_KEEPALIVE, "CURLOPT_TCP_KEEPALIVE", 1L);
  if (req.fresh_connection) {
    set(CURLOPT_FRESH_CONNECT, "CURLOPT_FRESH_CONNECT", 1L);
    set(CURLOPT_FORBID_REUSE, "CURLOPT_FORBID_REUSE", 1L);
  }
  const bool sends_body = req.method == "POST" || req.method == "PUT";
  if (req.method == "GET") {
    set(CURLOPT_HTTPGET, "CURLOPT_HTTPGET", 1L);
  } else if (sends_body) {
    // POSTFIELDS is not copied: the body lives in the Transfer until completion. Its size
    // is given, so binary bodies (tar) are sent whole rather than up to a NUL. An empty
    // body still goes out as "Content-Length: 0", which the engine expects on POST.
    set(CURLOPT_POST, "CURLOPT_POST", 1L);
    set(CURLOPT_POSTFIELDSIZE_LARGE, "CURLOPT_POSTFIELDSIZE_LARGE",
        static_cast<curl_off_t>(req.body.size()));
    set(CURLOPT_POSTFIELDS, "CURLOPT_POSTFIELDS", req.body.data());
    // PUT is a POST with another method name: curl's own PUT would read the body from a
    // callback instead.
    if (req.method != "POST")
      set(CURLOPT_CUSTOMREQUEST, "CURLOPT_CUSTOMREQUEST", req.method.c_str());
  } else {
    set(CURLOPT_CUSTOMREQUEST, "CURLOPT_CUSTOMREQUEST", req.method.c_str());
  }
  // "Expect:" suppresses 100-continue, a round trip the engine does not need.
  std::vector<std::string> lines = {"Expect:"};
  if (sends_body) {
    // Without a body, "Content-Type:" drops curl's default form-urlencoded type.
    if (req.body.empty()) {
      lines.emplace_back("Content-Type:");
    } else {
      lines.push_back("Content-Type: " + (req.content_type.empty() ? std::string("application/json")
                                                                   : req.content_type));
    }
  }
  lines.insert(lines.end(), req.headers.begin(), req.headers.end());
  t.headers.reset();
  for (const std::string& line : lines) {
    // A line break would end the header early and start another: never send one.
    if (line.find_first_of("\r\n") != std::string::npos) {
      t.failure.result = CURLE_BAD_FUNCTION_ARGUMENT;
      t.failure.error = "a request header contains a line break";
      return false;
    }
    // curl copies each line; the list keeps its first node, so t.headers owns it all.
    curl_slist* list = curl_slist_append(t.headers.get(), line.c_str());
    if (list == nullptr) {
      t.failure.result = CURLE_OUT_OF_MEMORY;
      t.failure.error = "curl_slist_append failed";
      return false;
    }
    if (!t.headers) t.headers.reset(list);
  }
  set(CURLOPT_HTTPHEADER, "CURLOPT_HTTPHEADER", t.headers.get());
  if (failed != CURLE_OK) {
    t.failure.result = failed;
    t.failure.error = std::string("setting ") + failed_option;
    return false;
  }
  return true;
}

CurlMulti::EasyPtr CurlMulti::takeEasy() {
  if (idle_easy_.empty()) return EasyPtr(curl_easy_init());
  EasyPtr easy = std::move(idle_easy_.back());
  idle_easy_.pop_back();
  return easy;
}

void CurlMulti::recycleEasy(EasyPtr easy) {
  if (!easy || idle_easy_.size() >= kMaxIdleEasyHandles) return;
  curl_easy_reset(easy.get());
  idle_easy_.push_back(std::move(easy));
}

int CurlMulti::onSocket(CURL* /*easy*/, curl_socket_t fd, int what, void* userp,
                        void* socketp) noexcept {
  auto* self = static_cast<CurlMulti*>(userp);
  try {
    return self->updateSocket(fd, what, static_cast<Socket*>(socketp));
  } catch (const std::exception& e) {
    core::logError("curl socket callback failed fd=", fd, " error=", e.what());
    return -1;
  }
}

int CurlMulti::updateSocket(curl_socket_t fd, int what, Socket* socket) {
  auto it = sockets_.find(fd);
  if (socket == nullptr && it != sockets_.end()) socket = it->second.get();
  if (what == CURL_POLL_REMOVE) {
    // Runs only inside curl_multi_socket_action/remove_handle, called from dispatch() or
    // the destructor, never from this socket's own FileEvent callback: safe to destroy it.
    if (it != sockets_.end()) sockets_.erase(it);
    return 0;
  }
  uint32_t interest = 0;
  if (what & CURL_POLL_IN) interest |= core::FileEvent::kReadable;
  if (what & CURL_POLL_OUT) interest |= core::FileEvent::kWritable;
  if (socket != nullptr) {
    socket->event->setInterest(interest);
    return 0;
  }
  auto created = std::make_unique<Socket>();
  created->fd = fd;
  created->event = loop_.watch(fd, interest, [this, fd](uint32_t ready) { onReady(fd, ready); });
  const CURLMcode rc = curl_multi_assign(multi_.get(), fd, created.get());
  if (rc != CURLM_OK) {
    // Not fatal: the socket is still found by descriptor in sockets_.
    core::logWarning("curl_multi_assign: ", curl_multi_strerror(rc));
  }
  sockets_.emplace(fd, std::move(created));
  return 0;
}

int CurlMulti::onTimer(CURLM* /*multi*/, long timeout_ms, void* userp) noexcept {
  auto* self = static_cast<CurlMulti*>(userp);
  // Never act from inside curl: even a 0 ms timeout goes through the loop's timer.
  if (timeout_ms < 0) {
    self->timer_->disable();
  } else {
    self->timer_->enableAfter(core::Millis(timeout_ms));
  }
  return 0;
}

size_t CurlMulti::onWrite(char* data, size_t size, size_t count, void* userp) noexcept {
  auto* t = static_cast<Transfer*>(userp);
  const size_t n = size * count;
  if (t->response_body.size() + n > kMaxResponseBytes) {
    t->body_too_large = true;
    return 0;  // fails the transfer with CURLE_WRITE_ERROR
  }
  try {
    t->response_body.append(data, n);
  } catch (const std::exception&) {
    return 0;
  }
  return n;
}

void CurlMulti::onReady(curl_socket_t fd, uint32_t ready) {
  int flags = 0;
  if (ready & core::FileEvent::kReadable) flags |= CURL_CSELECT_IN;
  if (ready & core::FileEvent::kWritable) flags |= CURL_CSELECT_OUT;
  // The loop reports EPOLLERR/EPOLLHUP as readable and writable: a direction curl did not
  // ask for can only come from an error or hang-up. curl still reads or writes (the
  // flags are not ERR alone) and so learns the exact error from the socket itself.
  auto it = sockets_.find(fd);
  if (it != sockets_.end() && (ready & ~it->second->event->interest()) != 0)
    flags |= CURL_CSELECT_ERR;
  bool merged = false;
  for (auto& [pending_fd, pending_flags] : ready_) {
    if (pending_fd == fd) {
      pending_flags |= flags;
      merged = true;
    }
  }
  if (!merged) ready_.emplace_back(fd, flags);
  scheduleDispatch();
}

void CurlMulti::scheduleDispatch() {
  if (dispatch_posted_) return;
  dispatch_posted_ = true;
  loop_.post([this, alive = liveness_.watch()] {
    if (alive.alive()) dispatch();
  });
}

void CurlMulti::socketAction(curl_socket_t fd, int flags) {
  int running = 0;
  const CURLMcode rc = curl_multi_socket_action(multi_.get(), fd, flags, &running);
  if (rc == CURLM_BAD_SOCKET) {
    // Readiness gathered for a socket curl closed meanwhile: stale, nothing to do.
    core::logDebug("curl_multi_socket_action: stale socket fd=", fd);
  } else if (rc != CURLM_OK) {
    // Transfers on this socket time out through their own CURLOPT_TIMEOUT_MS.
    core::logError("curl_multi_socket_action fd=", fd, ": ", curl_multi_strerror(rc));
  }
}

void CurlMulti::dispatch() {
  dispatch_posted_ = false;
  const core::Liveness::Watch alive = liveness_.watch();
  std::vector<std::pair<curl_socket_t, int>> ready;
  ready.swap(ready_);
  const bool timeout = std::exchange(timeout_due_, false);
  for (const auto& [fd, flags] : ready) socketAction(fd, flags);
  if (timeout) socketAction(CURL_SOCKET_TIMEOUT, 0);

  // Collect first, call after: a completion may start requests, cancel others (also those
  // collected here) or destroy this object.
  WA_ASSERT(completing_.empty(), "dispatch() re-entered");
  std::vector<Response> responses;
  for (auto& transfer : failed_) {
    completing_.emplace_back(transfer->id, std::move(transfer->done));
    responses.push_back(std::move(transfer->failure));
  }
  failed_.clear();
  int queued = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_.get(), &queued)) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL* easy = msg->easy_handle;
    const CURLcode result = msg->data.result;  // msg is invalid after remove_handle
    auto it = transfers_.find(easy);
    if (it == transfers_.end()) {
      core::logError("curl reported an unknown transfer as done");
      std::abort();
    }
    std::unique_ptr<Transfer> t = std::move(it->second);
    transfers_.erase(it);
    transfer_by_id_.erase(t->id);
    const CURLMcode rc = curl_multi_remove_handle(multi_.get(), easy);
    Response response;
    response.result = result;
    if (result == CURLE_OK) {
      const CURLcode info_rc =
          curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &response.http_status);
      if (info_rc != CURLE_OK) {
        response.result = info_rc;
        response.error = std::string("CURLINFO_RESPONSE_CODE: ") + curl_easy_strerror(info_rc);
      }
      response.body = std::move(t->response_body);
      curl_header* header = nullptr;
      if (!t->request.response_header.empty() &&
          curl_easy_header(easy, t->request.response_header.c_str(), 0, CURLH_HEADER, -1,
                           &header) == CURLHE_OK)
        response.header_value = header->value;
    } else if (t->body_too_large) {
      response.error = "response body larger than " + std::to_string(kMaxResponseBytes) + " bytes";
    } else {
      response.error = t->error;
    }
    if (rc == CURLM_OK) {
      recycleEasy(std::move(t->easy));
    } else {
      core::logWarning("curl_multi_remove_handle: ", curl_multi_strerror(rc));
    }
    completing_.emplace_back(t->id, std::move(t->done));
    responses.push_back(std::move(response));
  }
  for (size_t i = 0; i < completing_.size(); ++i) {
    // Moved out before the call: the completion may cancel the ones after it.
    Completion done = std::move(completing_[i].second);
    if (done) done(std::move(responses[i]));
    if (!alive.alive()) return;  // destroyed by that completion: the rest are aborted
  }
  completing_.clear();
}

}  // namespace wa::docker
