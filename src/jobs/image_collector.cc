#include "jobs/image_collector.h"

#include <algorithm>
#include <utility>

#include "core/assert.h"
#include "core/log.h"
#include "jobs/image_policy.h"
#include "jobs/image_supplier.h"

namespace wa::jobs {

namespace {

constexpr int64_t kMiB = 1 << 20;
constexpr int kConflict = 409;

// reference as the engine reads it, fully spelled; "" when it does not parse.
std::string canonical(std::string_view reference) {
  docker::ImageReference parsed;
  std::string why;
  if (!docker::parseImageReference(reference, &parsed, &why)) return "";
  return parsed.canonical();
}

std::vector<docker::ImagePattern> parsePatterns(const std::vector<std::string>& texts,
                                                bool digest_pins_only) {
  std::vector<docker::ImagePattern> patterns;
  for (const std::string& text : texts) {
    docker::ImagePattern pattern;
    std::string why;
    // The config loader checked every pattern: one that does not parse cannot be here.
    if (!docker::parseImagePattern(text, &pattern, &why)) continue;
    if (digest_pins_only && pattern.reference.digest.empty()) continue;
    patterns.push_back(std::move(pattern));
  }
  return patterns;
}

// Whether any name of image (tag or digest) matches one of patterns.
bool matchesAny(const docker::ImageSummary& image,
                const std::vector<docker::ImagePattern>& patterns) {
  if (patterns.empty()) return false;
  for (const auto* names : {&image.repo_tags, &image.repo_digests}) {
    for (const std::string& name : *names) {
      docker::ImageReference parsed;
      std::string why;
      if (!docker::parseImageReference(name, &parsed, &why)) continue;
      for (const docker::ImagePattern& pattern : patterns) {
        if (ImagePolicy::matches(pattern, parsed)) return true;
      }
    }
  }
  return false;
}

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ",") + name;
  return text;
}

}  // namespace

ImageCollector::ImageCollector(core::EventLoop& loop, ImageCollectorEngine engine,
                               const JobStore& store, ImageCollectorSources sources,
                               ImageCollectorOptions options)
    : loop_(loop), engine_(std::move(engine)), store_(store), sources_(std::move(sources)) {
  timer_ = loop_.createTimer([this] {
    collect();
    arm();
  });
  setOptions(std::move(options));
}

void ImageCollector::start() {
  started_ = true;
  arm();
}

void ImageCollector::arm() {
  if (options_.interval.count() > 0) {
    timer_->enableAfter(options_.interval);
  } else {
    timer_->disable();
  }
}

void ImageCollector::setOptions(ImageCollectorOptions options) {
  const bool interval_changed = options.interval != options_.interval;
  options_ = std::move(options);
  keep_ = parsePatterns(options_.keep, /*digest_pins_only=*/false);
  pins_ = parsePatterns(options_.allowed_images, /*digest_pins_only=*/true);
  if (interval_changed && started_) arm();
}

void ImageCollector::collect() {
  if (pass_) return;
  pass_.emplace();
  ++counts_.passes;
  request_ = engine_.list([this](docker::Result<std::vector<docker::ImageSummary>> listed) {
    onListed(std::move(listed));
  });
}

void ImageCollector::learn() {
  for (const Job* job : store_.list(std::nullopt, store_.size())) {
    if (job->image_id.empty()) continue;
    Known& known = known_[job->image_id];
    if (job->image_pulled || job->image_built) known.owned = true;
    const int64_t used = std::max(job->started_at_ms.value_or(0), job->finished_at_ms.value_or(0));
    known.last_used_ms = std::max(known.last_used_ms, used);
  }
}

void ImageCollector::onListed(docker::Result<std::vector<docker::ImageSummary>> listed) {
  WA_ASSERT(pass_.has_value(), "an image list answered outside a pass");
  if (!listed.ok()) {
    ++counts_.errors;
    core::Log::write(core::LogLevel::kWarning, "image collector: the engine did not list images",
                     {{"error", listed.error().message}});
    endPass();
    return;
  }
  learn();
  Pass& pass = *pass_;
  for (docker::ImageSummary& image : listed.value()) {
    std::string id = image.id;
    pass.present.emplace(std::move(id), std::move(image));
  }
  // Forget the images the engine no longer has (removed by hand, or by us).
  std::erase_if(known_, [&](const auto& entry) { return !pass.present.contains(entry.first); });
  std::vector<std::pair<int64_t, std::string>> owned;  // (last used, id)
  for (const auto& [id, image] : pass.present) {
    // Only what a record ties to a pull or build of this worker's: a worker-agent-build:
    // tag alone may be another worker's on the same engine.
    auto it = known_.find(id);
    if (it == known_.end() || !it->second.owned) continue;
    owned.emplace_back(it->second.last_used_ms, id);
    pass.owned_bytes += image.size;
  }
  counts_.owned = owned.size();
  counts_.owned_bytes = static_cast<uint64_t>(pass.owned_bytes);
  if (sources_.engine_disk) std::tie(pass.total_mb, pass.available_mb) = sources_.engine_disk();
  std::sort(owned.begin(), owned.end());
  for (auto& entry : owned) pass.candidates.push_back(std::move(entry.second));
  removeNext();
}

std::set<std::string> ImageCollector::protectedIds() {
  std::set<std::string> ids;
  std::set<std::string> references;
  for (JobState state : {JobState::kQueued, JobState::kRunning}) {
    for (const Job* job : store_.list(state, store_.size())) {
      if (!job->image_id.empty()) ids.insert(job->image_id);
      if (!job->image_ref.empty()) references.insert(canonical(job->image_ref));
      if (!job->spec.image.empty()) references.insert(canonical(job->spec.image));
      if (job->spec.build && job->image_ref.empty()) {
        auto [it, added] = pass_->build_tags.try_emplace(job->sequence);
        if (added)
          it->second = ImageSupplier::buildTag(ImageSupplier::buildContext(*job->spec.build));
        references.insert(canonical(it->second));
      }
    }
  }
  if (sources_.pulling) {
    for (const std::string& reference : sources_.pulling()) references.insert(canonical(reference));
  }
  references.erase("");
  for (const auto& [id, image] : pass_->present) {
    if (ids.contains(id)) continue;
    const bool needed =
        std::any_of(image.repo_tags.begin(), image.repo_tags.end(),
                    [&](const std::string& tag) { return references.contains(canonical(tag)); });
    if (needed || matchesAny(image, pins_) || matchesAny(image, keep_)) ids.insert(id);
  }
  return ids;
}

bool ImageCollector::overLimits() const {
  const Pass& pass = *pass_;
  if (options_.max_bytes > 0 && pass.owned_bytes > options_.max_bytes) return true;
  if (options_.min_free_percent > 0 && pass.total_mb && pass.available_mb && *pass.total_mb > 0) {
    return *pass.available_mb * 100 < options_.min_free_percent * *pass.total_mb;
  }
  return false;
}

void ImageCollector::removeNext() {
  Pass& pass = *pass_;
  if (!overLimits()) {
    endPass();
    return;
  }
  // Checked before each removal: a job may have been submitted or started meanwhile.
  const std::set<std::string> keep = protectedIds();
  while (pass.next < pass.candidates.size() && keep.contains(pass.candidates[pass.next])) {
    ++pass.next;
  }
  if (pass.next == pass.candidates.size()) {
    core::Log::write(core::LogLevel::kWarning,
                     "image collector: over its limits, but every image of the worker's is in "
                     "use or kept",
                     {{"owned_mb", std::to_string(pass.owned_bytes / kMiB)},
                      {"max_mb", std::to_string(options_.max_bytes / kMiB)}});
    endPass();
    return;
  }
  const std::string id = pass.candidates[pass.next++];
  request_ = engine_.remove(id, [this, id](const docker::Result<docker::Unit>& removed) {
    Pass& pass = *pass_;
    const docker::ImageSummary& image = pass.present.at(id);
    if (!removed.ok()) {
      if (removed.error().http_status == kConflict) {
        // A container outside the worker's jobs uses it (or a job created one just now).
        core::Log::write(core::LogLevel::kInfo, "image collector: image in use, kept",
                         {{"image_id", id}, {"tags", joined(image.repo_tags)}});
        removeNext();
        return;
      }
      ++counts_.errors;
      core::Log::write(core::LogLevel::kWarning, "image collector: removal failed",
                       {{"image_id", id}, {"error", removed.error().message}});
      endPass();
      return;
    }
    ++counts_.removed;
    counts_.removed_bytes += static_cast<uint64_t>(image.size);
    pass.owned_bytes -= image.size;
    counts_.owned_bytes = static_cast<uint64_t>(pass.owned_bytes);
    if (counts_.owned > 0) --counts_.owned;
    // Shared layers may free less; the next pass reads the disk again.
    if (pass.available_mb) *pass.available_mb += image.size / kMiB;
    core::Log::write(core::LogLevel::kInfo, "image collector: image removed",
                     {{"image_id", id},
                      {"tags", joined(image.repo_tags)},
                      {"size_bytes", std::to_string(image.size)},
                      {"last_used_ms", std::to_string(known_[id].last_used_ms)}});
    known_.erase(id);
    removeNext();
  });
}

void ImageCollector::endPass() { pass_.reset(); }

}  // namespace wa::jobs
