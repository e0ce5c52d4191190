// ImageReference and ImagePattern: Docker image references ("busybox",
// "registry.example:5000/team/app:1.2", "app@sha256:...") and the patterns of the
// allowed_images config key, parsed and normalized the way the Docker engine reads
// references, so that two spellings the engine treats as one image compare equal and no
// others do. Pure text: the config loader checks patterns with it, the job parser checks
// runtime.image, jobs::ImagePolicy matches one against the other.
#pragma once

#include <string>
#include <string_view>

namespace wa::docker {

struct ImageReference {
  std::string domain;  // the registry: "docker.io" for Docker Hub however it was spelled
  std::string path;    // the repository there: "library/busybox" for an official image
  std::string tag;     // "" when none was given
  std::string digest;  // "sha256:" and 64 lowercase hex digits, or ""

  // "docker.io/library/busybox".
  std::string repository() const { return domain + "/" + path; }
  // The tag the engine uses: tag, or "latest" when neither a tag nor a digest was given.
  std::string effectiveTag() const;
  // Fully spelled: repository, then ":" effectiveTag() if any, then "@" digest if any
  // ("docker.io/library/busybox:latest"). The engine reads it as the same image as the
  // text it was parsed from, and never as an image id or an id prefix.
  std::string canonical() const;
};

// Parses text as the engine reads a reference: [registry "/"] path [":" tag] ["@" digest].
// A first component is a registry when it holds "." or ":", is "localhost", or has a
// capital letter; else the image is on Docker Hub, where a one-component path gains
// "library/" and "index.docker.io" is "docker.io". Returns false, with *why saying what is
// wrong, for what the engine refuses (capitals in the path, empty or malformed
// components, a bad tag or registry, a digest that is not sha256 with 64 lowercase hex
// digits, more than 255 bytes of name), and for text the engine could take for an image
// id ("<64 hex>", "sha256:<hex>"), which would bypass any pattern.
bool parseImageReference(std::string_view text, ImageReference* out, std::string* why);

struct ImagePattern {
  enum class Kind {
    kExact,   // "name[:tag]" (no tag: ":latest"), or a digest pin "name[:tag]@sha256:<hex>"
    kAnyTag,  // "name:*": any tag of exactly that repository, no digest reference
    kTree,    // "prefix/*": every repository under domain/path (path "" = the whole registry)
  };
  Kind kind = Kind::kExact;
  // kExact: the whole reference; kAnyTag: domain and path; kTree: domain and the path
  // prefix, without its trailing "/".
  ImageReference reference;
};

// Parses one allowed_images item; false with *why when it is not one of the three forms.
bool parseImagePattern(std::string_view text, ImagePattern* out, std::string* why);

}  // namespace wa::docker
