#include "jobs/image_supplier.h"

#include <algorithm>
#include <utility>

#include "core/image_reference.h"
#include "core/log.h"
#include "core/sha256.h"
#include "docker/docker_client.h"
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

void fail(const ImageSupplier::Done& done, const char* code, std::string message) {
  done(std::nullopt, JobError{code, std::move(message)});
}

// An engine request failed: an engine that was not there leaves the job free to run later.
void fail(const ImageSupplier::Done& done, const char* code, std::string message,
          const DockerError& error) {
  done(std::nullopt, JobError{code, std::move(message), error.connectionLevel()});
}

}  // namespace

ImageEngine engineCalls(docker::DockerClient& docker) {
  ImageEngine engine;
  engine.inspect = [&docker](const std::string& reference,
                             docker::Callback<docker::ImageInfo> done) {
    docker.inspectImage(reference, std::move(done));
  };
  engine.pull = [&docker](const std::string& reference, const std::string& auth, long timeout_ms,
                          docker::Callback<docker::StreamedResult> done) {
    docker.pullImage(reference, auth, timeout_ms, std::move(done));
  };
  engine.build = [&docker](const std::string& tag, std::string context, long timeout_ms,
                           docker::Callback<docker::StreamedResult> done) {
    docker.buildImage(tag, std::move(context), timeout_ms, std::move(done));
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

void ImageSupplier::supply(const JobSpec& spec, Done done) {
  if (spec.build) {
    supplyBuild(*spec.build, std::move(done));
    return;
  }
  // Fully spelled, the engine can only read the name as the image the policy allowed,
  // never as an image id or an id prefix of some other local image.
  core::ImageReference reference;
  std::string why;
  if (!core::parseImageReference(spec.image, &reference, &why)) {
    // The parser refuses such references at submission; this guards the contract only.
    loop_.post([done = std::move(done), message = "runtime.image \"" + spec.image + "\" " + why] {
      fail(done, "IMAGE_PULL_FAILED", message);
    });
    return;
  }
  supplyImage(reference.canonical(), std::move(done));
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

bool ImageSupplier::supplyKnown(const std::string& key, Done& done) {
  auto it = known_.find(key);
  if (it == known_.end()) return false;
  if (loop_.clock().now() >= it->second.expires) {
    known_.erase(it);
    return false;
  }
  loop_.post([done = std::move(done), image = SuppliedImage{it->second.reference, false, false,
                                                            it->second.id}] { done(image, {}); });
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

void ImageSupplier::supplyImage(const std::string& reference, Done done) {
  if (options_.pull_policy == PullPolicy::kAlways) {
    pull(reference, std::move(done));
    return;
  }
  if (supplyKnown(reference, done)) return;
  engine_.inspect(reference, [this, reference, done = std::move(done),
                              policy = options_.pull_policy](const Result<ImageInfo>& r) mutable {
    if (r.ok()) {
      remember(reference, reference, r.value().id);
      done(SuppliedImage{reference, false, false, r.value().id}, std::nullopt);
    } else if (r.error().http_status != kNotFound) {
      fail(done, "DOCKER_ERROR",
           "inspecting image \"" + reference + "\" failed: " + describe(r.error()), r.error());
    } else if (std::string local = podman_ ? localName(reference) : ""; !local.empty()) {
      supplyLocal(reference, local, policy, std::move(done));
    } else {
      supplyMissing(reference, policy, std::move(done));
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
                                PullPolicy policy, Done done) {
  engine_.inspect(local, [this, reference, local, policy,
                          done = std::move(done)](const Result<ImageInfo>& r) mutable {
    if (r.ok()) {
      remember(reference, local, r.value().id);
      done(SuppliedImage{local, false, false, r.value().id}, std::nullopt);
    } else if (r.error().http_status != kNotFound) {
      fail(done, "DOCKER_ERROR",
           "inspecting image \"" + local + "\" failed: " + describe(r.error()), r.error());
    } else {
      supplyMissing(reference, policy, std::move(done));
    }
  });
}

void ImageSupplier::supplyMissing(const std::string& reference, PullPolicy policy, Done done) {
  if (policy == PullPolicy::kNever) {
    fail(done, "IMAGE_PULL_FAILED",
         "image \"" + reference + "\" is not present on this worker and pull_policy is never");
  } else {
    pull(reference, std::move(done));
  }
}

void ImageSupplier::pull(const std::string& reference, Done done) {
  std::vector<Done>& waiters = pulls_[reference];
  waiters.push_back(std::move(done));
  if (waiters.size() > 1) return;  // joins the pull in flight
  core::logInfo("pulling image reference=", reference);
  engine_.pull(reference, options_.registry_auth.headerFor(reference),
               static_cast<long>(options_.pull_timeout.count()),
               [this, reference](const Result<StreamedResult>& r) {
                 std::vector<Done> ready = std::move(pulls_[reference]);
                 pulls_.erase(reference);
                 // The pull may have moved the tag to other content.
                 known_.erase(reference);
                 if (r.ok()) {
                   core::logInfo("image pulled reference=", reference);
                 } else {
                   core::logWarning("pulling image failed reference=", reference,
                                    " error=", describe(r.error()));
                 }
                 for (Done& waiter : ready) {
                   if (r.ok()) {
                     waiter(SuppliedImage{reference, true, false}, std::nullopt);
                   } else {
                     fail(waiter, "IMAGE_PULL_FAILED",
                          "pulling image \"" + reference + "\" failed: " + describe(r.error()),
                          r.error());
                   }
                 }
               });
}

void ImageSupplier::supplyBuild(const BuildSpec& spec, Done done) {
  std::string context = buildContext(spec);
  std::string tag = buildTag(context);
  if (supplyKnown(tag, done)) return;
  engine_.inspect(tag, [this, tag, context = std::move(context),
                        done = std::move(done)](const Result<ImageInfo>& r) mutable {
    if (r.ok()) {
      core::logInfo("reusing built image tag=", tag);
      remember(tag, tag, r.value().id);
      done(SuppliedImage{tag, false, false, r.value().id}, std::nullopt);
    } else if (r.error().http_status != kNotFound) {
      fail(done, "DOCKER_ERROR", "inspecting image \"" + tag + "\" failed: " + describe(r.error()),
           r.error());
    } else {
      build(tag, std::move(context), std::move(done));
    }
  });
}

void ImageSupplier::build(const std::string& tag, std::string context_tar, Done done) {
  std::vector<Done>& waiters = builds_[tag];
  waiters.push_back(std::move(done));
  if (waiters.size() > 1) return;  // joins the identical build in flight
  core::logInfo("building image tag=", tag, " context_bytes=", context_tar.size());
  engine_.build(tag, std::move(context_tar), static_cast<long>(options_.build_timeout.count()),
                [this, tag](const Result<StreamedResult>& r) {
                  std::vector<Done> ready = std::move(builds_[tag]);
                  builds_.erase(tag);
                  // The tag is a hash of the inputs, but its image may have been removed
                  // and built again: the next job asks the engine.
                  known_.erase(tag);
                  if (r.ok()) {
                    core::logInfo("image built tag=", tag);
                  } else {
                    core::logWarning("building image failed tag=", tag);
                  }
                  for (Done& waiter : ready) {
                    if (r.ok()) {
                      waiter(SuppliedImage{tag, false, true, r.value().image_id}, std::nullopt);
                    } else {
                      fail(waiter, "BUILD_FAILED",
                           "building the image failed: " + describe(r.error()), r.error());
                    }
                  }
                });
}

}  // namespace wa::jobs
