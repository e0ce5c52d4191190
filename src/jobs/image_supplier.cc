#include "jobs/image_supplier.h"

#include <algorithm>
#include <utility>

#include "core/log.h"
#include "core/sha256.h"
#include "docker/docker_client.h"
#include "docker/image_reference.h"
#include "docker/tar_archive.h"

namespace wa::jobs {
namespace {

using docker::DockerError;
using docker::ImageInfo;
using docker::Result;
using docker::StreamedResult;

constexpr int kNotFound = 404;
constexpr const char* kBuildRepository = "worker-agent-build";

std::string describe(const DockerError& error) {
  if (error.http_status == 0 || error.http_status == 200) return error.message;
  return error.message + " (HTTP " + std::to_string(error.http_status) + ")";
}

}  // namespace

ImageEngine engineCalls(docker::DockerClient& docker) {
  ImageEngine engine;
  engine.inspect = [&docker](const std::string& reference,
                             docker::Callback<docker::ImageInfo> done) {
    return docker.inspectImage(reference, std::move(done));
  };
  engine.pull = [&docker](const std::string& reference, const std::string& auth, long timeout_ms,
                          docker::Callback<docker::StreamedResult> done) {
    return docker.pullImage(reference, auth, timeout_ms, std::move(done));
  };
  engine.build = [&docker](const std::string& tag, std::string context, long timeout_ms,
                           docker::Callback<docker::StreamedResult> done) {
    return docker.buildImage(tag, std::move(context), timeout_ms, std::move(done));
  };
  return engine;
}

bool parsePullPolicy(std::string_view text, PullPolicy* out) {
  if (text == "never") {
    *out = PullPolicy::kNever;
  } else if (text == "missing") {
    *out = PullPolicy::kMissing;
  } else if (text == "always") {
    *out = PullPolicy::kAlways;
  } else {
    return false;
  }
  return true;
}

ImageSupplier::ImageSupplier(core::EventLoop& loop, ImageEngine engine, SupplyOptions options)
    : loop_(loop), engine_(std::move(engine)), options_(std::move(options)) {}

core::RequestHandle ImageSupplier::supply(const JobSpec& spec, Done done) {
  const WaiterId id = next_waiter_++;
  waiters_.emplace(id, Waiter{std::move(done), {}});
  core::RequestHandle handle(*this, liveness_.watch(), id);
  if (spec.build) {
    supplyBuild(*spec.build, id);
    return handle;
  }
  // Fully spelled, the engine can only read the name as the image the policy allowed,
  // never as an image id or an id prefix of some other local image.
  docker::ImageReference reference;
  std::string why;
  if (!docker::parseImageReference(spec.image, &reference, &why)) {
    // The parser refuses such references at submission; this guards the contract only.
    deliverLater(id, std::nullopt,
                 JobError{"IMAGE_PULL_FAILED", "runtime.image \"" + spec.image + "\" " + why});
    return handle;
  }
  supplyImage(reference.canonical(), id);
  return handle;
}

void ImageSupplier::cancelRequest(uint64_t id) noexcept {
  // Its inspect goes with it; a shared pull or build goes on (it skips ids not waiting).
  waiters_.erase(id);
}

void ImageSupplier::deliver(WaiterId id, std::optional<SuppliedImage> image,
                            std::optional<JobError> error) {
  auto it = waiters_.find(id);
  if (it == waiters_.end()) return;
  Done done = std::move(it->second.done);
  waiters_.erase(it);
  done(std::move(image), std::move(error));
}

void ImageSupplier::deliverLater(WaiterId id, std::optional<SuppliedImage> image,
                                 std::optional<JobError> error) {
  loop_.post([this, alive = liveness_.watch(), id, image = std::move(image),
              error = std::move(error)]() mutable {
    if (alive.alive()) deliver(id, std::move(image), std::move(error));
  });
}

void ImageSupplier::fail(WaiterId id, const char* code, std::string message) {
  deliver(id, std::nullopt, JobError{code, std::move(message)});
}

void ImageSupplier::fail(WaiterId id, const char* code, std::string message,
                         const DockerError& error) {
  deliver(id, std::nullopt, JobError{code, std::move(message), error.connectionLevel()});
}

void ImageSupplier::inspectFor(WaiterId id, const std::string& reference,
                               std::function<void(const Result<ImageInfo>&)> then) {
  if (!waiters_.contains(id)) return;
  core::RequestHandle request =
      engine_.inspect(reference, [then = std::move(then)](const Result<ImageInfo>& r) { then(r); });
  // Looked up again: an engine that answered inside the call (a test's) has delivered.
  if (auto it = waiters_.find(id); it != waiters_.end()) it->second.inspect = std::move(request);
}

std::string ImageSupplier::buildContext(const BuildSpec& spec) {
  std::vector<const JobFile*> files;
  files.reserve(spec.context.size());
  for (const JobFile& file : spec.context) files.push_back(&file);
  // The same inputs in another order are the same build: one tar, one tag.
  std::sort(files.begin(), files.end(),
            [](const JobFile* a, const JobFile* b) { return a->path < b->path; });
  docker::TarWriter tar;
  tar.addFile("Dockerfile", spec.dockerfile, 0644);
  for (const JobFile* file : files) tar.addFile(file->path, file->content, file->mode);
  return tar.finish();
}

std::string ImageSupplier::buildTag(const std::string& context_tar) {
  return std::string(kBuildRepository) + ":" + core::sha256Hex(context_tar);
}

bool ImageSupplier::supplyKnown(const std::string& key, WaiterId id) {
  auto it = known_.find(key);
  if (it == known_.end()) return false;
  if (loop_.clock().now() >= it->second.expires) {
    known_.erase(it);
    return false;
  }
  deliverLater(id, SuppliedImage{it->second.reference, false, false, it->second.id}, std::nullopt);
  return true;
}

void ImageSupplier::remember(const std::string& key, const std::string& engine_reference,
                             const std::string& id) {
  // An inspect without an id tells nothing worth keeping.
  if (id.empty()) return;
  known_[key] = KnownImage{engine_reference, id, loop_.clock().now() + kKnownImageLifetime};
}

void ImageSupplier::forgetImage(const std::string& image_id) {
  std::erase_if(known_, [&image_id](const auto& entry) { return entry.second.id == image_id; });
}

void ImageSupplier::supplyImage(const std::string& reference, WaiterId id) {
  if (options_.pull_policy == PullPolicy::kAlways) {
    pull(reference, id);
    return;
  }
  if (supplyKnown(reference, id)) return;
  inspectFor(id, reference,
             [this, reference, id, policy = options_.pull_policy](const Result<ImageInfo>& r) {
               if (r.ok()) {
                 remember(reference, reference, r.value().id);
                 deliver(id, SuppliedImage{reference, false, false, r.value().id}, std::nullopt);
               } else if (r.error().http_status != kNotFound) {
                 fail(id, "DOCKER_ERROR",
                      "inspecting image \"" + reference + "\" failed: " + describe(r.error()),
                      r.error());
               } else if (std::string local = podman_ ? localName(reference) : ""; !local.empty()) {
                 supplyLocal(reference, local, policy, id);
               } else {
                 supplyMissing(reference, policy, id);
               }
             });
}

std::string ImageSupplier::localName(const std::string& reference) {
  constexpr std::string_view kHub = "docker.io/";
  constexpr std::string_view kOfficial = "library/";
  std::string_view rest = reference;
  if (!rest.starts_with(kHub)) return "";
  rest.remove_prefix(kHub.size());
  if (rest.starts_with(kOfficial)) rest.remove_prefix(kOfficial.size());
  return "localhost/" + std::string(rest);
}

void ImageSupplier::supplyLocal(const std::string& reference, const std::string& local,
                                PullPolicy policy, WaiterId id) {
  inspectFor(id, local, [this, reference, local, policy, id](const Result<ImageInfo>& r) {
    if (r.ok()) {
      remember(reference, local, r.value().id);
      deliver(id, SuppliedImage{local, false, false, r.value().id}, std::nullopt);
    } else if (r.error().http_status != kNotFound) {
      fail(id, "DOCKER_ERROR", "inspecting image \"" + local + "\" failed: " + describe(r.error()),
           r.error());
    } else {
      supplyMissing(reference, policy, id);
    }
  });
}

void ImageSupplier::supplyMissing(const std::string& reference, PullPolicy policy, WaiterId id) {
  if (policy == PullPolicy::kNever) {
    fail(id, "IMAGE_PULL_FAILED",
         "image \"" + reference + "\" is not present on this worker and pull_policy is never");
  } else {
    pull(reference, id);
  }
}

void ImageSupplier::pull(const std::string& reference, WaiterId id) {
  std::vector<WaiterId>& waiting = pulls_[reference].waiters;
  waiting.push_back(id);
  if (waiting.size() > 1) return;  // joins the pull in flight
  core::logInfo("pulling image reference=", reference);
  core::RequestHandle request = engine_.pull(
      reference, options_.registry_auth.headerFor(reference),
      static_cast<long>(options_.pull_timeout.count()),
      [this, reference](const Result<StreamedResult>& r) {
        const std::vector<WaiterId> ready = std::move(pulls_[reference].waiters);
        pulls_.erase(reference);  // the handle of the request that just completed
        // The pull may have moved the tag to other content.
        known_.erase(reference);
        if (r.ok()) {
          core::logInfo("image pulled reference=", reference);
        } else {
          core::logWarning("pulling image failed reference=", reference,
                           " error=", describe(r.error()));
        }
        for (WaiterId waiter : ready) {
          if (r.ok()) {
            deliver(waiter, SuppliedImage{reference, true, false}, std::nullopt);
          } else {
            fail(waiter, "IMAGE_PULL_FAILED",
                 "pulling image \"" + reference + "\" failed: " + describe(r.error()), r.error());
          }
        }
      });
  if (auto it = pulls_.find(reference); it != pulls_.end()) it->second.request = std::move(request);
}

void ImageSupplier::supplyBuild(const BuildSpec& spec, WaiterId id) {
  std::string context = buildContext(spec);
  std::string tag = buildTag(context);
  if (supplyKnown(tag, id)) return;
  inspectFor(id, tag, [this, tag, context = std::move(context), id](const Result<ImageInfo>& r) {
    if (r.ok()) {
      core::logInfo("reusing built image tag=", tag);
      remember(tag, tag, r.value().id);
      deliver(id, SuppliedImage{tag, false, false, r.value().id}, std::nullopt);
    } else if (r.error().http_status != kNotFound) {
      fail(id, "DOCKER_ERROR", "inspecting image \"" + tag + "\" failed: " + describe(r.error()),
           r.error());
    } else {
      build(tag, context, id);
    }
  });
}

void ImageSupplier::build(const std::string& tag, std::string context_tar, WaiterId id) {
  std::vector<WaiterId>& waiting = builds_[tag].waiters;
  waiting.push_back(id);
  if (waiting.size() > 1) return;  // joins the identical build in flight
  core::logInfo("building image tag=", tag, " context_bytes=", context_tar.size());
  core::RequestHandle request = engine_.build(
      tag, std::move(context_tar), static_cast<long>(options_.build_timeout.count()),
      [this, tag](const Result<StreamedResult>& r) {
        const std::vector<WaiterId> ready = std::move(builds_[tag].waiters);
        builds_.erase(tag);
        // The tag is a hash of the inputs, but its image may have been removed and built
        // again: the next job asks the engine.
        known_.erase(tag);
        if (r.ok()) {
          core::logInfo("image built tag=", tag);
        } else {
          core::logWarning("building image failed tag=", tag);
        }
        for (WaiterId waiter : ready) {
          if (r.ok()) {
            deliver(waiter, SuppliedImage{tag, false, true, r.value().image_id}, std::nullopt);
          } else {
            fail(waiter, "BUILD_FAILED", "building the image failed: " + describe(r.error()),
                 r.error());
          }
        }
      });
  if (auto it = builds_.find(tag); it != builds_.end()) it->second.request = std::move(request);
}

}  // namespace wa::jobs
