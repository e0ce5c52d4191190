// ImageSupplier: makes the image a job runs available before its container is created.
// Image mode follows the pull policy (never | missing | always); build mode builds the
// job's Dockerfile and context, tagged by a hash of those inputs, so an identical build
// later reuses the image instead of building again. Jobs that need the same pull or the
// same build at the same time share one engine request.
//
// What an inspect found is remembered for kKnownImageLifetime (reference -> the name it
// is found under, and its id), so that a worker running the same image job after job
// does not ask the engine "is it here" before each create. The container is still
// created from the name, so a tag moved on the host is followed at once; an image gone
// meanwhile makes create answer 404, and the caller forgets it (forgetImage) and asks
// for it again.
//
// Each supply is a request its caller holds (core::RequestHandle): dropping it drops that
// job's callback and its own inspects, while a pull or build it shares goes on for the
// others (and is left to finish when it was the last: the image will be wanted again).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/event_loop.h"
#include "core/liveness.h"
#include "core/request_handle.h"
#include "docker/docker_types.h"
#include "jobs/job.h"
#include "jobs/registry_auth.h"

namespace wa::docker {
class DockerClient;
}  // namespace wa::docker

namespace wa::jobs {

enum class PullPolicy { kNever, kMissing, kAlways };
// "never", "missing", "always"; false if text is none of them.
bool parsePullPolicy(std::string_view text, PullPolicy* out);

// The engine calls the supplier makes; the daemon binds them to DockerClient, unit tests
// to fakes. Each callback runs later, on the loop, unless its handle is dropped first.
struct ImageEngine {
  std::function<core::RequestHandle(const std::string& reference,
                                    docker::Callback<docker::ImageInfo>)>
      inspect;
  std::function<core::RequestHandle(const std::string& reference, const std::string& registry_auth,
                                    long timeout_ms, docker::Callback<docker::StreamedResult>)>
      pull;
  std::function<core::RequestHandle(const std::string& tag, std::string context_tar,
                                    long timeout_ms, docker::Callback<docker::StreamedResult>)>
      build;
};

// The calls bound to a real engine client (the daemon's, and tests on a real engine).
ImageEngine engineCalls(docker::DockerClient& docker);

struct SupplyOptions {
  PullPolicy pull_policy = PullPolicy::kMissing;
  core::Millis pull_timeout{600'000};
  core::Millis build_timeout{600'000};
  RegistryAuth registry_auth;
};

// What a job's container is created from.
struct SuppliedImage {
  std::string reference;  // the job's image, or the built image's tag
  bool pulled = false;    // a pull ran for this job (shared or not)
  bool built = false;     // a build ran for this job; false when an earlier one is reused
  // The content id ("sha256:...") reference named when it was supplied, from an inspect
  // (now or remembered); "" when unknown (after a pull, a build without its aux id).
  std::string image_id;
};

class ImageSupplier final : public core::RequestIssuer {
 public:
  // Either the image or why it cannot be had (IMAGE_PULL_FAILED, BUILD_FAILED,
  // DOCKER_ERROR).
  using Done = std::function<void(std::optional<SuppliedImage>, std::optional<JobError>)>;

  ImageSupplier(core::EventLoop& loop, ImageEngine engine, SupplyOptions options);

  // Makes spec's image available, then calls done once, never inside this call, unless
  // the handle is dropped first. An image reference is handed to the engine fully spelled
  // ("docker.io/library/busybox:latest"), which is also what SuppliedImage::reference says.
  core::RequestHandle supply(const JobSpec& spec, Done done);
  // RequestIssuer: a dropped supply handle.
  void cancelRequest(uint64_t id) noexcept override;
  // For jobs supplied from now on (a reload).
  void setOptions(SupplyOptions options) { options_ = std::move(options); }
  // The engine is Podman, which files images built or tagged on the worker under
  // localhost/ (see localName). Learnt from the engine's /version, after start-up.
  void setPodman(bool podman) { podman_ = podman; }

  // "worker-agent-build:<sha256 of the build context tar>"; the tar is deterministic
  // (entries sorted by path, fixed times and owners).
  static std::string buildTag(const std::string& context_tar);
  // The build context of spec as a tar: the Dockerfile and the context files.
  static std::string buildContext(const BuildSpec& spec);

  // Pulls and builds in flight (each may serve several jobs).
  size_t inFlight() const { return pulls_.size() + builds_.size(); }
  // The references being pulled now (the image collector keeps their images).
  std::vector<std::string> pulling() const {
    std::vector<std::string> references;
    for (const auto& entry : pulls_) references.push_back(entry.first);
    return references;
  }
  // Supplies whose callers still wait.
  size_t waiting() const { return waiters_.size(); }

  // The engine does not have image_id (a create from it answered 404): every reference
  // remembered as naming it is asked again next time.
  void forgetImage(const std::string& image_id);

  // How long an inspect's answer is trusted before the engine is asked again.
  static constexpr core::Millis kKnownImageLifetime{10'000};

 private:
  // One caller's supply: its callback and the inspect asked for it alone.
  struct Waiter {
    Done done;
    core::RequestHandle inspect;
  };
  using WaiterId = uint64_t;

  // Calls waiter id's callback (once: it is forgotten first), if it still waits.
  void deliver(WaiterId id, std::optional<SuppliedImage> image, std::optional<JobError> error);
  // The same from the loop, never inside the caller's supply().
  void deliverLater(WaiterId id, std::optional<SuppliedImage> image, std::optional<JobError> error);
  void fail(WaiterId id, const char* code, std::string message);
  // An engine request failed: an engine that was not there leaves the job free to run later.
  void fail(WaiterId id, const char* code, std::string message, const docker::DockerError& error);

  void supplyImage(const std::string& reference, WaiterId id);
  // The image remembered under key (a canonical reference or a build tag), if its entry
  // has not expired: it is delivered to id and true returned.
  bool supplyKnown(const std::string& key, WaiterId id);
  // Remembers that key names the image engine_reference, whose inspect found id.
  void remember(const std::string& key, const std::string& engine_reference, const std::string& id);
  // The name a short Docker Hub reference has when the image was built or tagged on the
  // worker under Podman: "localhost/<path>:<tag>" for "docker.io/[library/]<path>:<tag>"
  // ("" for references of any other registry). Only tried on Podman: on Docker a name
  // under localhost/ is another registry's image, never a stand-in for the job's.
  static std::string localName(const std::string& reference);
  // After the canonical reference was not found: the image under its local name, else
  // what supplyMissing does for the canonical reference.
  void supplyLocal(const std::string& reference, const std::string& local, PullPolicy policy,
                   WaiterId id);
  // An image the engine does not have: pulled, or refused under pull_policy never.
  void supplyMissing(const std::string& reference, PullPolicy policy, WaiterId id);
  void supplyBuild(const BuildSpec& build, WaiterId id);
  // Asks the engine about reference for waiter id alone; then(result) runs if it still waits.
  void inspectFor(WaiterId id, const std::string& reference,
                  std::function<void(const docker::Result<docker::ImageInfo>&)> then);
  void pull(const std::string& reference, WaiterId id);
  void build(const std::string& tag, std::string context_tar, WaiterId id);

  core::EventLoop& loop_;
  ImageEngine engine_;
  SupplyOptions options_;
  bool podman_ = false;
  std::unordered_map<WaiterId, Waiter> waiters_;
  WaiterId next_waiter_ = 1;
  // Each pull (by reference) and build (by tag) in flight: its request and the waiters it
  // serves (some may have gone since).
  struct Shared {
    core::RequestHandle request;
    std::vector<WaiterId> waiters;
  };
  std::unordered_map<std::string, Shared> pulls_;
  std::unordered_map<std::string, Shared> builds_;
  struct KnownImage {
    std::string reference;  // what the inspect asked for (the local name on Podman)
    std::string id;
    core::MonoTime expires;
  };
  // By canonical reference or build tag.
  std::unordered_map<std::string, KnownImage> known_;
  core::Liveness liveness_;  // for handles and posted deliveries
};

}  // namespace wa::jobs
