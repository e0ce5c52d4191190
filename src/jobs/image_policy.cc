#include "jobs/image_policy.h"

#include <algorithm>

namespace wa::jobs {
namespace {

// The ':' that starts the tag, if any. A ':' before the last '/' belongs to a registry
// port ("localhost:5000/app"), not to a tag.
size_t tagColon(std::string_view ref) {
  const size_t slash = ref.rfind('/');
  const size_t colon = ref.rfind(':');
  if (colon == std::string_view::npos) return colon;
  if (slash != std::string_view::npos && colon < slash) return std::string_view::npos;
  return colon;
}

}  // namespace

ImagePolicy::ImagePolicy(std::vector<std::string> patterns) : patterns_(std::move(patterns)) {
  for (const std::string& text : patterns_) {
    docker::ImagePattern pattern;
    std::string why;
    if (docker::parseImagePattern(text, &pattern, &why)) parsed_.push_back(std::move(pattern));
  }
}

std::string ImagePolicy::withDefaultTag(std::string_view image) {
  if (image.find('@') != std::string_view::npos || tagColon(image) != std::string_view::npos) {
    return std::string(image);
  }
  return std::string(image) + ":latest";
}

bool ImagePolicy::matches(const docker::ImagePattern& pattern,
                          const docker::ImageReference& image) {
  const docker::ImageReference& p = pattern.reference;
  if (image.domain != p.domain) return false;
  switch (pattern.kind) {
    case docker::ImagePattern::Kind::kExact:
      if (image.path != p.path) return false;
      // A pinned digest is the content; the tag beside it does not change what runs.
      if (!p.digest.empty()) return image.digest == p.digest;
      return image.digest.empty() && image.effectiveTag() == p.effectiveTag();
    case docker::ImagePattern::Kind::kAnyTag:
      return image.path == p.path && image.digest.empty();
    case docker::ImagePattern::Kind::kTree:
      // Whole components only: "team" covers "team/app", not "team-evil/app" or "team".
      return p.path.empty() || (image.path.size() > p.path.size() &&
                                image.path.starts_with(p.path) && image.path[p.path.size()] == '/');
  }
  return false;
}

bool ImagePolicy::allows(const docker::ImageReference& image) const {
  if (patterns_.empty()) return true;
  return std::any_of(parsed_.begin(), parsed_.end(),
                     [&](const docker::ImagePattern& pattern) { return matches(pattern, image); });
}

bool ImagePolicy::allows(std::string_view image) const {
  if (patterns_.empty()) return true;
  docker::ImageReference ref;
  std::string why;
  return docker::parseImageReference(image, &ref, &why) && allows(ref);
}

}  // namespace wa::jobs
