#include "jobs/image_policy.h"

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

std::string ImagePolicy::withDefaultTag(std::string_view image) {
  if (image.find('@') != std::string_view::npos || tagColon(image) != std::string_view::npos) {
    return std::string(image);
  }
  return std::string(image) + ":latest";
}

bool ImagePolicy::allows(std::string_view image) const {
  if (patterns_.empty()) return true;
  const std::string ref = withDefaultTag(image);
  const size_t colon = tagColon(ref);
  for (const std::string& raw : patterns_) {
    const std::string pattern = withDefaultTag(raw);
    if (pattern == ref) return true;
    // "name:*": the repository must match exactly; any tag (but not a digest) goes.
    const size_t pattern_colon = tagColon(pattern);
    if (pattern_colon != std::string::npos && pattern.substr(pattern_colon) == ":*" &&
        colon != std::string::npos && ref.find('@') == std::string::npos &&
        ref.compare(0, colon, pattern, 0, pattern_colon) == 0 && colon == pattern_colon) {
      return true;
    }
  }
  return false;
}

}  // namespace wa::jobs
