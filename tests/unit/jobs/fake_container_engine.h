// FakeContainerEngine: a ContainerEngine that records every call and lets the test answer
// each one when it chooses, as the loop would later. It hands out real RequestHandles:
// dropping one marks the call cancelled and drops its callback, so a test can tell that a
// late answer (a wait that comes after the run gave up on it) reaches nobody.
#pragma once

#include <any>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/liveness.h"
#include "core/request_handle.h"
#include "jobs/container_engine.h"

namespace wa::jobs::testing {

// The attach stream the fake hands out: the test plays the engine's side.
class FakeAttach final : public docker::AttachStream {
 public:
  explicit FakeAttach(Callbacks callbacks) : callbacks_(std::move(callbacks)) {}
  ~FakeAttach() override { *destroyed_ = true; }

  void writeStdinAndClose(std::string data) override { stdin_data = std::move(data); }
  void close() override { closed = true; }
  bool hasUnreadOutput() const override { return unread_output; }

  // The engine's side; nothing is delivered once the owner has closed the stream.
  void attached() {
    if (!closed && callbacks_.on_attached) callbacks_.on_attached();
  }
  void output(docker::StreamKind kind, std::string_view data) {
    if (!closed && callbacks_.on_output) callbacks_.on_output(kind, data);
  }
  void end(std::optional<docker::DockerError> error = std::nullopt) {
    if (closed) return;
    closed = true;
    if (callbacks_.on_closed) callbacks_.on_closed(std::move(error));
  }

  std::string stdin_data;
  bool closed = false;
  bool unread_output = false;
  std::shared_ptr<bool> destroyed_ = std::make_shared<bool>(false);

 private:
  Callbacks callbacks_;
};

class FakeContainerEngine final : public ContainerEngine, public core::RequestIssuer {
 public:
  struct Call {
    uint64_t id = 0;
    std::string endpoint;  // "create", "put_archive", "start", "wait", "kill", ...
    std::string container;
    std::string path;  // archives
    std::string tar;   // put_archive's body
    docker::ContainerSpec spec;
    bool fresh_connection = false;
    bool cancelled = false;
    bool answered = false;
    std::any callback;  // the docker::Callback<T> of the call
  };

  // Every call made, in order.
  std::vector<Call> calls;
  // The attach streams handed out, in order (owned by their runs; check destroyed first).
  std::vector<FakeAttach*> attaches;
  std::vector<std::shared_ptr<bool>> attach_destroyed;

  // Answers the oldest unanswered, uncancelled call to endpoint with result; false if
  // there is none (never made, answered already, or cancelled by its owner).
  template <typename T>
  bool answer(const std::string& endpoint, docker::Result<T> result) {
    for (Call& call : calls) {
      if (call.endpoint != endpoint || call.answered || call.cancelled) continue;
      call.answered = true;
      // Moved out before the call, as CurlMulti does: the callback may drop its handle.
      auto done = std::any_cast<docker::Callback<T>>(std::move(call.callback));
      call.callback.reset();
      done(std::move(result));
      return true;
    }
    return false;
  }
  bool fail(const std::string& endpoint, const docker::DockerError& error) {
    for (Call& call : calls) {
      if (call.endpoint != endpoint || call.answered || call.cancelled) continue;
      call.answered = true;
      std::any callback = std::move(call.callback);
      call.callback.reset();
      if (auto* unit = std::any_cast<docker::Callback<docker::Unit>>(&callback)) {
        (*unit)(error);
      } else if (auto* text = std::any_cast<docker::Callback<std::string>>(&callback)) {
        (*text)(error);
      } else if (auto* code = std::any_cast<docker::Callback<int64_t>>(&callback)) {
        (*code)(error);
      } else if (auto* state = std::any_cast<docker::Callback<docker::ContainerState>>(&callback)) {
        (*state)(error);
      } else if (auto* list =
                     std::any_cast<docker::Callback<std::vector<docker::ContainerSummary>>>(
                         &callback)) {
        (*list)(error);
      } else {
        return false;
      }
      return true;
    }
    return false;
  }

  // The calls to endpoint so far.
  size_t count(const std::string& endpoint) const {
    size_t n = 0;
    for (const Call& call : calls) n += call.endpoint == endpoint ? 1 : 0;
    return n;
  }
  const Call* last(const std::string& endpoint) const {
    for (auto it = calls.rbegin(); it != calls.rend(); ++it) {
      if (it->endpoint == endpoint) return &*it;
    }
    return nullptr;
  }
  // Calls to endpoint still waiting for an answer (neither answered nor cancelled).
  size_t pending(const std::string& endpoint) const {
    size_t n = 0;
    for (const Call& call : calls) {
      n += call.endpoint == endpoint && !call.answered && !call.cancelled ? 1 : 0;
    }
    return n;
  }
  FakeAttach* attach() const { return attaches.empty() ? nullptr : attaches.back(); }
  bool attachDestroyed() const { return !attach_destroyed.empty() && *attach_destroyed.back(); }

  void cancelRequest(uint64_t id) noexcept override {
    for (Call& call : calls) {
      if (call.id == id && !call.answered) {
        call.cancelled = true;
        call.callback.reset();
      }
    }
  }

  core::RequestHandle create(const docker::ContainerSpec& spec,
                             docker::Callback<std::string> done) override {
    Call call = make("create", "", std::move(done));
    call.spec = spec;
    return add(std::move(call));
  }
  core::RequestHandle putArchive(const std::string& id, const std::string& path, std::string tar,
                                 docker::Callback<docker::Unit> done) override {
    Call call = make("put_archive", id, std::move(done));
    call.path = path;
    call.tar = std::move(tar);
    return add(std::move(call));
  }
  std::unique_ptr<docker::AttachStream> attach(const std::string& id,
                                               docker::AttachStream::Callbacks callbacks) override {
    calls.push_back(make("attach", id, 0));
    calls.back().answered = true;
    auto stream = std::make_unique<FakeAttach>(std::move(callbacks));
    attaches.push_back(stream.get());
    attach_destroyed.push_back(stream->destroyed_);
    return stream;
  }
  std::unique_ptr<docker::AttachStream> follow(const std::string& id,
                                               docker::AttachStream::Callbacks callbacks) override {
    calls.push_back(make("follow", id, 0));
    calls.back().answered = true;
    auto stream = std::make_unique<FakeAttach>(std::move(callbacks));
    attaches.push_back(stream.get());
    attach_destroyed.push_back(stream->destroyed_);
    return stream;
  }
  core::RequestHandle start(const std::string& id, docker::Callback<docker::Unit> done) override {
    return add(make("start", id, std::move(done)));
  }
  core::RequestHandle wait(const std::string& id, docker::Callback<int64_t> done) override {
    return add(make("wait", id, std::move(done)));
  }
  core::RequestHandle kill(const std::string& id, docker::Callback<docker::Unit> done) override {
    return add(make("kill", id, std::move(done)));
  }
  core::RequestHandle inspect(const std::string& id, bool fresh_connection,
                              docker::Callback<docker::ContainerState> done) override {
    Call call = make("inspect", id, std::move(done));
    call.fresh_connection = fresh_connection;
    return add(std::move(call));
  }
  core::RequestHandle logs(const std::string& id, docker::Callback<std::string> done) override {
    return add(make("logs", id, std::move(done)));
  }
  core::RequestHandle getArchive(const std::string& id, const std::string& path,
                                 docker::Callback<std::string> done) override {
    Call call = make("get_archive", id, std::move(done));
    call.path = path;
    return add(std::move(call));
  }
  core::RequestHandle remove(const std::string& id, docker::Callback<docker::Unit> done) override {
    return add(make("remove", id, std::move(done)));
  }
  core::RequestHandle list(const std::string& label,
                           docker::Callback<std::vector<docker::ContainerSummary>> done) override {
    Call call = make("list", "", std::move(done));
    call.path = label;
    return add(std::move(call));
  }

 private:
  template <typename Callback>
  Call make(std::string endpoint, const std::string& container, Callback done) {
    Call call;
    call.id = next_id_++;
    call.endpoint = std::move(endpoint);
    call.container = container;
    call.callback = std::move(done);
    return call;
  }
  core::RequestHandle add(Call call) {
    const uint64_t id = call.id;
    calls.push_back(std::move(call));
    return core::RequestHandle(*this, liveness_.watch(), id);
  }

  uint64_t next_id_ = 1;
  core::Liveness liveness_;
};

}  // namespace wa::jobs::testing
