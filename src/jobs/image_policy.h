// ImagePolicy: which images jobs may run, from the allowed_images patterns. No patterns:
// every image is allowed. Otherwise an image must match one of:
//   "name[:tag]"             exactly that repository and tag (no tag means ":latest");
//   "name[:tag]@sha256:<hex>" a digest pin: that repository at exactly that digest,
//                            whatever tag the reference carries;
//   "name:*"                 any tag of exactly that repository, but no digest reference
//                            (a digest names content no tag vouches for);
//   "prefix/*"               any repository under that registry or path, with any tag or
//                            digest ("registry.example:5000/team/*" covers ".../team/app"
//                            and ".../team/a/b", not ".../team-evil/x" nor ".../team").
// Both sides are normalized as the engine reads them (docker::ImageReference), so
// "busybox", "library/busybox", "docker.io/library/busybox" and
// "index.docker.io/library/busybox" are one image, and "localhost/busybox" another.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "docker/image_reference.h"

namespace wa::jobs {

class ImagePolicy {
 public:
  // A pattern that does not parse matches nothing (the config loader refuses such
  // patterns, so this only guards against a caller that skipped it).
  explicit ImagePolicy(std::vector<std::string> patterns);

  // Whether a job may run image, as written in the job. With patterns, a text that is not
  // a valid reference is never allowed.
  bool allows(std::string_view image) const;
  bool allows(const docker::ImageReference& image) const;
  const std::vector<std::string>& patterns() const { return patterns_; }

  static bool matches(const docker::ImagePattern& pattern, const docker::ImageReference& image);

  // "busybox" -> "busybox:latest"; a reference with a tag or digest is kept as it is.
  static std::string withDefaultTag(std::string_view image);

 private:
  std::vector<std::string> patterns_;
  std::vector<docker::ImagePattern> parsed_;  // the patterns that parse
};

}  // namespace wa::jobs
