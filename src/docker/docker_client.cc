#include "docker/docker_client.h"

#include <initializer_list>
#include <optional>
#include <utility>

#include "docker/curl_multi.h"
#include "docker/engine_endpoint.h"
#include "docker/engine_json.h"
#include "docker/hijacked_attach.h"

namespace wa::docker {
namespace {

// Plain calls get this long; wait has no limit (it lasts as long as the container runs).
constexpr long kRequestTimeoutMs = 30'000;
constexpr long kNoTimeout = 0;
// Archives carry files of any size (up to CurlMulti::kMaxResponseBytes back), written to
// or read from the container's disk: more than a plain call, still bounded.
constexpr long kArchiveTimeoutMs = 300'000;

}  // namespace

struct DockerClient::Impl {
  Impl(core::EventLoop& loop, std::string docker_host)
      : loop(loop),
        host(std::move(docker_host)),
        endpoint(EngineEndpoint::parse(host)),
        multi(loop) {}

  ~Impl() {
    // Streams outlive the client only as closed shells: no callbacks after this.
    auto live = std::move(attaches->live);
    for (HijackedAttach* stream : live) stream->close();
  }

  // Sends method path (relative to /v<api_version>, or to / when not versioned) and hands
  // the response to parse (which may take its body): a transport failure or a status
  // outside 2xx and extra_ok becomes a DockerError first.
  template <typename T>
  core::RequestHandle call(const char* method, const std::string& path, std::string body,
                           long timeout_ms, std::initializer_list<long> extra_ok,
                           std::function<Result<T>(CurlMulti::Response&)> parse, Callback<T> done,
                           bool fresh_connection = false, bool versioned = true) {
    CurlMulti::Request request;
    request.method = method;
    request.body = std::move(body);
    request.timeout_ms = timeout_ms;
    request.fresh_connection = fresh_connection;
    return send<T>(std::move(request), path, extra_ok, std::move(parse), std::move(done),
                   versioned);
  }

  // call() for a request with its own headers or content type; request.url and
  // unix_socket_path are filled in here.
  template <typename T>
  core::RequestHandle send(CurlMulti::Request request, const std::string& path,
                           std::initializer_list<long> extra_ok,
                           std::function<Result<T>(CurlMulti::Response&)> parse, Callback<T> done,
                           bool versioned = true) {
    std::vector<long> ok_statuses(extra_ok);
    auto complete = [this, ok_statuses = std::move(ok_statuses), parse = std::move(parse),
                     done = std::move(done)](CurlMulti::Response response) {
      if (std::optional<DockerError> error = errorOf(response, ok_statuses)) {
        done(std::move(*error));
        return;
      }
      done(parse(response));
    };
    if (!endpoint) {
      CurlMulti::Response failure;
      failure.result = CURLE_UNSUPPORTED_PROTOCOL;
      failure.error = "unsupported docker host (expected unix:///path or tcp://host:port)";
      return multi.failLater(std::move(failure), std::move(complete));
    }
    request.url = endpoint->urlBase() + (versioned ? "/v" + api_version : "") + path;
    if (endpoint->kind == EngineEndpoint::Kind::kUnix)
      request.unix_socket_path = endpoint->unix_path;
    return multi.start(std::move(request), std::move(complete));
  }

  std::optional<DockerError> errorOf(const CurlMulti::Response& response,
                                     const std::vector<long>& ok_statuses) const {
    if (response.result != CURLE_OK) {
      std::string message = "Docker engine at " + host + ": " + curl_easy_strerror(response.result);
      // For a unix socket curl's own text names "localhost port 80", which only confuses.
      const bool misleading = endpoint && endpoint->kind == EngineEndpoint::Kind::kUnix &&
                              response.result == CURLE_COULDNT_CONNECT;
      if (!response.error.empty() && !misleading) message += " (" + response.error + ")";
      const CURLcode r = response.result;
      return DockerError{0, std::move(message), r == CURLE_COULDNT_CONNECT,
                         r == CURLE_GOT_NOTHING || r == CURLE_RECV_ERROR || r == CURLE_SEND_ERROR ||
                             r == CURLE_PARTIAL_FILE};
    }
    const long status = response.http_status;
    if (status >= 200 && status < 300) return std::nullopt;
    for (long ok : ok_statuses) {
      if (status == ok) return std::nullopt;
    }
    return DockerError{static_cast<int>(status), errorMessageFromBody(response.body, status)};
  }

  static Result<Unit> unit(const CurlMulti::Response&) { return Unit{}; }

  // done, reporting a failure to the observer first. Callbacks never outlive the Impl
  // (destroying the client drops them unrun), so holding this is safe.
  template <typename T>
  Callback<T> observed(const char* endpoint, Callback<T> done) {
    return [this, endpoint, done = std::move(done)](Result<T> r) {
      if (!r.ok() && error_observer) error_observer(endpoint, r.error());
      done(std::move(r));
    };
  }

  DockerErrorObserver error_observer;

  core::EventLoop& loop;
  std::string host;
  std::string api_version = "1.41";
  std::optional<EngineEndpoint> endpoint;
  std::shared_ptr<AttachRegistry> attaches = std::make_shared<AttachRegistry>();
  CurlMulti multi;
};

DockerClient::DockerClient(core::EventLoop& loop, std::string docker_host)
    : impl_(std::make_unique<Impl>(loop, std::move(docker_host))) {}

DockerClient::~DockerClient() = default;

void DockerClient::setErrorObserver(DockerErrorObserver observer) {
  impl_->error_observer = std::move(observer);
}

size_t DockerClient::inFlight() const { return impl_->multi.inFlight(); }

void DockerClient::setApiVersion(const std::string& version) { impl_->api_version = version; }

const std::string& DockerClient::apiVersion() const { return impl_->api_version; }

core::RequestHandle DockerClient::ping(Callback<Unit> done) {
  return pingApiVersion([done = std::move(done)](const Result<std::string>& r) {
    if (!r.ok()) {
      done(r.error());
      return;
    }
    done(Unit{});
  });
}

core::RequestHandle DockerClient::pingApiVersion(Callback<std::string> done) {
  CurlMulti::Request request;
  request.timeout_ms = kRequestTimeoutMs;
  request.fresh_connection = true;
  request.response_header = "Api-Version";
  return impl_->send<std::string>(
      std::move(request), "/_ping", {},
      [](CurlMulti::Response& r) -> Result<std::string> { return std::move(r.header_value); },
      impl_->observed("ping", std::move(done)), /*versioned=*/false);
}

core::RequestHandle DockerClient::version(Callback<EngineVersion> done) {
  return impl_->call<EngineVersion>(
      "GET", "/version", "", kRequestTimeoutMs, {},
      [](const CurlMulti::Response& r) { return parseVersionResponse(r.body); },
      impl_->observed("version", std::move(done)), false, /*versioned=*/false);
}

core::RequestHandle DockerClient::info(Callback<EngineInfo> done) {
  return impl_->call<EngineInfo>(
      "GET", "/info", "", kRequestTimeoutMs, {},
      [](const CurlMulti::Response& r) { return parseInfoResponse(r.body); },
      impl_->observed("info", std::move(done)));
}

core::RequestHandle DockerClient::createContainer(const ContainerSpec& spec,
                                                  const std::string& name,
                                                  Callback<std::string> done) {
  std::string path = "/containers/create";
  if (!name.empty()) path += "?name=" + urlEncode(name);
  return impl_->call<std::string>(
      "POST", path, buildCreateContainerBody(spec), kRequestTimeoutMs, {},
      [](const CurlMulti::Response& r) { return parseCreateResponse(r.body); },
      impl_->observed("create", std::move(done)));
}

std::unique_ptr<AttachStream> DockerClient::attach(const std::string& id,
                                                   AttachStream::Callbacks callbacks,
                                                   AttachMode mode) {
  if (callbacks.on_closed) {
    callbacks.on_closed = [impl = impl_.get(), closed = std::move(callbacks.on_closed)](
                              std::optional<DockerError> error) {
      if (error && impl->error_observer) impl->error_observer("attach", *error);
      closed(std::move(error));
    };
  }
  return std::make_unique<HijackedAttach>(impl_->loop, impl_->endpoint, impl_->host,
                                          impl_->api_version, id, mode, std::move(callbacks),
                                          impl_->attaches);
}

core::RequestHandle DockerClient::start(const std::string& id, Callback<Unit> done) {
  // 304: already started, which is what was asked for.
  return impl_->call<Unit>("POST", "/containers/" + urlEncode(id) + "/start", "", kRequestTimeoutMs,
                           {304}, &Impl::unit, impl_->observed("start", std::move(done)));
}

core::RequestHandle DockerClient::wait(const std::string& id, Callback<int64_t> done) {
  return impl_->call<int64_t>(
      "POST", "/containers/" + urlEncode(id) + "/wait", "", kNoTimeout, {},
      [](const CurlMulti::Response& r) { return parseWaitResponse(r.body); },
      impl_->observed("wait", std::move(done)));
}

core::RequestHandle DockerClient::inspect(const std::string& id, bool fresh_connection,
                                          Callback<ContainerState> done) {
  return impl_->call<ContainerState>(
      "GET", "/containers/" + urlEncode(id) + "/json", "", kRequestTimeoutMs, {},
      [](const CurlMulti::Response& r) { return parseInspectResponse(r.body); },
      impl_->observed("inspect", std::move(done)), fresh_connection);
}

core::RequestHandle DockerClient::kill(const std::string& id, Callback<Unit> done) {
  // 409 "Container ... is not running": it already stopped, which is what kill wants.
  return impl_->call<Unit>("POST", "/containers/" + urlEncode(id) + "/kill", "", kRequestTimeoutMs,
                           {}, &Impl::unit,
                           [done = impl_->observed("kill", std::move(done))](Result<Unit> r) {
                             if (!r.ok() && r.error().http_status == 409 &&
                                 r.error().message.find("is not running") != std::string::npos) {
                               done(Unit{});
                               return;
                             }
                             done(std::move(r));
                           });
}

core::RequestHandle DockerClient::remove(const std::string& id, Callback<Unit> done) {
  // 404: already gone, which is what remove wants.
  return impl_->call<Unit>("DELETE", "/containers/" + urlEncode(id) + "?force=1&v=1", "",
                           kRequestTimeoutMs, {404}, &Impl::unit,
                           impl_->observed("remove", std::move(done)));
}

core::RequestHandle DockerClient::listContainers(const std::string& label,
                                                 Callback<std::vector<std::string>> done) {
  return impl_->call<std::vector<std::string>>(
      "GET", "/containers/json?all=1&filters=" + urlEncode(buildLabelFilter(label)), "",
      kRequestTimeoutMs, {},
      [](const CurlMulti::Response& r) { return parseContainerListResponse(r.body); },
      impl_->observed("list", std::move(done)));
}

core::RequestHandle DockerClient::listContainerSummaries(
    const std::string& label, const std::string& job_label,
    Callback<std::vector<ContainerSummary>> done) {
  return impl_->call<std::vector<ContainerSummary>>(
      "GET", "/containers/json?all=1&filters=" + urlEncode(buildLabelFilter(label)), "",
      kRequestTimeoutMs, {},
      [job_label](const CurlMulti::Response& r) {
        return parseContainerSummaries(r.body, job_label);
      },
      impl_->observed("list", std::move(done)));
}

core::RequestHandle DockerClient::inspectImage(const std::string& reference,
                                               Callback<ImageInfo> done) {
  return impl_->call<ImageInfo>(
      "GET", "/images/" + urlEncode(reference) + "/json", "", kRequestTimeoutMs, {},
      [](const CurlMulti::Response& r) { return parseImageInspectResponse(r.body); },
      impl_->observed("image_inspect", std::move(done)));
}

core::RequestHandle DockerClient::listImages(Callback<std::vector<ImageSummary>> done) {
  return impl_->call<std::vector<ImageSummary>>(
      "GET", "/images/json", "", kRequestTimeoutMs, {},
      [](const CurlMulti::Response& r) { return parseImageList(r.body); },
      impl_->observed("image_list", std::move(done)));
}

core::RequestHandle DockerClient::removeImage(const std::string& id, Callback<Unit> done) {
  // 404: already gone, which is what the collector wants.
  return impl_->call<Unit>("DELETE", "/images/" + urlEncode(id) + "?force=0&noprune=0", "",
                           kRequestTimeoutMs, {404}, &Impl::unit,
                           impl_->observed("image_remove", std::move(done)));
}

core::RequestHandle DockerClient::pullImage(const std::string& reference,
                                            const std::string& registry_auth, long timeout_ms,
                                            Callback<StreamedResult> done) {
  const PullArguments pull = splitPullReference(reference);
  std::string path = "/images/create?fromImage=" + urlEncode(pull.from_image);
  if (!pull.tag.empty()) path += "&tag=" + urlEncode(pull.tag);
  CurlMulti::Request request;
  request.method = "POST";
  request.timeout_ms = timeout_ms;
  if (!registry_auth.empty()) request.headers.push_back("X-Registry-Auth: " + registry_auth);
  // The engine answers 200 at once and reports the outcome at the end of the stream.
  return impl_->send<StreamedResult>(
      std::move(request), path, {},
      [](const CurlMulti::Response& r) { return parseProgressStream(r.body, /*build=*/false); },
      impl_->observed("pull", std::move(done)));
}

core::RequestHandle DockerClient::buildImage(const std::string& tag, std::string context_tar,
                                             long timeout_ms, Callback<StreamedResult> done) {
  CurlMulti::Request request;
  request.method = "POST";
  request.body = std::move(context_tar);
  request.content_type = "application/x-tar";
  request.timeout_ms = timeout_ms;
  // rm and forcerm: no intermediate containers are left behind, even after a failed step.
  return impl_->send<StreamedResult>(
      std::move(request), "/build?t=" + urlEncode(tag) + "&dockerfile=Dockerfile&rm=1&forcerm=1",
      {}, [](const CurlMulti::Response& r) { return parseProgressStream(r.body, /*build=*/true); },
      impl_->observed("build", std::move(done)));
}

core::RequestHandle DockerClient::putArchive(const std::string& id, const std::string& path,
                                             std::string tar, Callback<Unit> done) {
  CurlMulti::Request request;
  request.method = "PUT";
  request.body = std::move(tar);
  request.content_type = "application/x-tar";
  request.timeout_ms = kArchiveTimeoutMs;
  return impl_->send<Unit>(std::move(request),
                           "/containers/" + urlEncode(id) + "/archive?path=" + urlEncode(path), {},
                           &Impl::unit, impl_->observed("archive_put", std::move(done)));
}

core::RequestHandle DockerClient::containerLogs(const std::string& id, Callback<std::string> done) {
  CurlMulti::Request request;
  request.timeout_ms = kArchiveTimeoutMs;
  return impl_->send<std::string>(
      std::move(request), "/containers/" + urlEncode(id) + "/logs?stdout=1&stderr=1", {},
      [](CurlMulti::Response& r) -> Result<std::string> { return std::move(r.body); },
      impl_->observed("logs", std::move(done)));
}

core::RequestHandle DockerClient::getArchive(const std::string& id, const std::string& path,
                                             Callback<std::string> done) {
  CurlMulti::Request request;
  request.timeout_ms = kArchiveTimeoutMs;
  return impl_->send<std::string>(
      std::move(request), "/containers/" + urlEncode(id) + "/archive?path=" + urlEncode(path), {},
      [](CurlMulti::Response& r) -> Result<std::string> { return std::move(r.body); },
      impl_->observed("archive_get", std::move(done)));
}

}  // namespace wa::docker
