// ImagePolicy: which images jobs may run. Patterns are exact references ("name:tag")
// or "name:*" (any tag of that repository). No patterns: every image is allowed.
// A reference without a tag means ":latest", as the engine reads it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace wa::jobs {

class ImagePolicy {
 public:
  explicit ImagePolicy(std::vector<std::string> patterns) : patterns_(std::move(patterns)) {}
  bool allows(std::string_view image) const;
  const std::vector<std::string>& patterns() const { return patterns_; }

  // "busybox" -> "busybox:latest"; a reference with a tag or digest is kept as it is.
  static std::string withDefaultTag(std::string_view image);

 private:
  std::vector<std::string> patterns_;
};

}  // namespace wa::jobs
