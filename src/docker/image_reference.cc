#include "docker/image_reference.h"

#include <algorithm>

namespace wa::docker {
namespace {

// The grammar of the engine's reference parser (github.com/distribution/reference).
constexpr size_t kMaxNameBytes = 255;
constexpr size_t kMaxTagBytes = 128;
constexpr size_t kSha256HexDigits = 64;
constexpr std::string_view kHubDomain = "docker.io";
constexpr std::string_view kLegacyHubDomain = "index.docker.io";
constexpr std::string_view kOfficialNamespace = "library/";

bool isLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool isUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isAlnum(char c) { return isLowerAlnum(c) || isUpper(c); }
bool isLowerHex(char c) { return isDigit(c) || (c >= 'a' && c <= 'f'); }

bool allOf(std::string_view s, bool (*pred)(char)) {
  return !s.empty() && std::all_of(s.begin(), s.end(), pred);
}

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := "." | "_" | "__" | "-"+
bool validPathComponent(std::string_view c) {
  if (c.empty() || !isLowerAlnum(c.front()) || !isLowerAlnum(c.back())) return false;
  for (size_t i = 0; i < c.size();) {
    if (isLowerAlnum(c[i])) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < c.size() && !isLowerAlnum(c[end])) ++end;
    const std::string_view separator = c.substr(i, end - i);
    if (separator != "." && separator != "_" && separator != "__" &&
        separator.find_first_not_of('-') != std::string_view::npos) {
      return false;
    }
    i = end;
  }
  return true;
}

// Checks a repository path ("team/app"); "" when fine, else why not.
std::string checkPath(std::string_view path) {
  if (path.empty()) return "names no repository";
  if (std::any_of(path.begin(), path.end(), isUpper)) return "repository name must be lowercase";
  for (size_t start = 0;;) {
    const size_t slash = path.find('/', start);
    const std::string_view component = path.substr(start, slash - start);
    if (component.empty()) return "has an empty path component";
    if (!validPathComponent(component)) {
      return "path component " + quoted(component) +
             " is not valid (lowercase letters and digits, joined by '.', '_', '__' or '-')";
    }
    if (slash == std::string_view::npos) return "";
    start = slash + 1;
  }
}

// domain-component := [A-Za-z0-9] | [A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]
bool validDomainComponent(std::string_view c) {
  if (c.empty() || !isAlnum(c.front()) || !isAlnum(c.back())) return false;
  return std::all_of(c.begin(), c.end(), [](char ch) { return isAlnum(ch) || ch == '-'; });
}

// host [":" port], the host a name ("a.b.c") or a bracketed IPv6 address.
bool validDomain(std::string_view domain) {
  std::string_view host = domain;
  std::string_view port;
  bool has_port = false;
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    const std::string_view address = host.substr(1, close - 1);
    if (!allOf(address, [](char c) {
          return isDigit(c) || c == ':' || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        })) {
      return false;
    }
    const std::string_view rest = host.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
      has_port = true;
    }
  } else {
    const size_t colon = host.find(':');
    if (colon != std::string_view::npos) {
      port = host.substr(colon + 1);
      has_port = true;
      host = host.substr(0, colon);
    }
    for (size_t start = 0;;) {
      const size_t dot = host.find('.', start);
      if (!validDomainComponent(host.substr(start, dot - start))) return false;
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
  }
  return !has_port || allOf(port, isDigit);
}

// Whether the engine reads the first component of a name as a registry.
bool isRegistry(std::string_view first) {
  return first.find_first_of(".:") != std::string_view::npos || first == "localhost" ||
         std::any_of(first.begin(), first.end(), isUpper);
}

// Splits and checks a name (no tag, no digest) into *out's domain and path.
std::string parseName(std::string_view name, ImageReference* out) {
  if (name.empty()) return "names no repository";
  if (name.size() > kMaxNameBytes) {
    return "name is longer than " + std::to_string(kMaxNameBytes) + " bytes";
  }
  std::string_view domain = kHubDomain;
  std::string_view path = name;
  const size_t slash = name.find('/');
  if (slash != std::string_view::npos && isRegistry(name.substr(0, slash))) {
    domain = name.substr(0, slash);
    path = name.substr(slash + 1);
    if (!validDomain(domain)) return "registry " + quoted(domain) + " is not a valid host[:port]";
  }
  if (std::string why = checkPath(path); !why.empty()) return why;
  out->domain = domain == kLegacyHubDomain ? kHubDomain : domain;
  out->path = std::string(out->domain == kHubDomain && path.find('/') == std::string_view::npos
                              ? kOfficialNamespace
                              : "") +
              std::string(path);
  return "";
}

bool validTag(std::string_view tag) {
  const auto word = [](char c) { return isAlnum(c) || c == '_'; };
  return !tag.empty() && tag.size() <= kMaxTagBytes && word(tag.front()) &&
         std::all_of(tag.begin(), tag.end(),
                     [&](char c) { return word(c) || c == '.' || c == '-'; });
}

std::string checkDigest(std::string_view digest) {
  constexpr std::string_view kAlgorithm = "sha256:";
  if (!digest.starts_with(kAlgorithm)) {
    return "digest " + quoted(digest) + " is not sha256 (the only algorithm accepted)";
  }
  const std::string_view hex = digest.substr(kAlgorithm.size());
  if (hex.size() != kSha256HexDigits || !allOf(hex, isLowerHex)) {
    return "digest " + quoted(digest) + " must be sha256: and 64 lowercase hexadecimal digits";
  }
  return "";
}

bool fail(std::string* why, std::string message) {
  *why = std::move(message);
  return false;
}

}  // namespace

std::string ImageReference::effectiveTag() const {
  return tag.empty() && digest.empty() ? "latest" : tag;
}

std::string ImageReference::canonical() const {
  std::string out = repository();
  if (const std::string t = effectiveTag(); !t.empty()) out += ":" + t;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

bool parseImageReference(std::string_view text, ImageReference* out, std::string* why) {
  ImageReference ref;
  std::string_view name = text;
  if (const size_t at = name.find('@'); at != std::string_view::npos) {
    ref.digest = std::string(name.substr(at + 1));
    name = name.substr(0, at);
    if (std::string e = checkDigest(ref.digest); !e.empty()) return fail(why, e);
  }
  // A ':' after the last '/' starts the tag; one before it belongs to a registry port.
  const size_t colon = name.rfind(':');
  const size_t slash = name.rfind('/');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    ref.tag = std::string(name.substr(colon + 1));
    name = name.substr(0, colon);
    if (!validTag(ref.tag)) {
      return fail(why, "tag " + quoted(ref.tag) +
                           " is not valid (1 to 128 letters, digits, '_', '.' or '-', not "
                           "starting with '.' or '-')");
    }
  }
  // The engine looks "<64 hex>" and "sha256:<hex>" up as image ids (or id prefixes)
  // before it reads them as names, whatever a pattern meant by them.
  if ((name.size() == kSha256HexDigits && allOf(name, isLowerHex)) ||
      (name == "sha256" && allOf(ref.tag, isLowerHex))) {
    return fail(why, "looks like an image id; name the image by repository");
  }
  if (std::string e = parseName(name, &ref); !e.empty()) return fail(why, e);
  *out = std::move(ref);
  return true;
}

bool parseImagePattern(std::string_view text, ImagePattern* out, std::string* why) {
  ImagePattern pattern;
  if (text == "*") {
    return fail(why, "\"*\" alone is not a pattern; an empty allowed_images allows every image");
  }
  if (text.ends_with("/*")) {
    const std::string_view prefix = text.substr(0, text.size() - 2);
    if (prefix.find('*') != std::string_view::npos || prefix.empty()) {
      return fail(why, "\"/*\" must follow a registry or a repository path");
    }
    if (prefix.size() > kMaxNameBytes) {
      return fail(why, "name is longer than " + std::to_string(kMaxNameBytes) + " bytes");
    }
    // The registry rule reads the prefix's first component as it would in "prefix/x".
    const size_t slash = prefix.find('/');
    const std::string_view first = prefix.substr(0, slash);
    std::string_view domain = kHubDomain;
    std::string_view path = prefix;
    if (isRegistry(first)) {
      domain = first;
      path = slash == std::string_view::npos ? std::string_view() : prefix.substr(slash + 1);
      if (!validDomain(domain)) {
        return fail(why, "registry " + quoted(domain) + " is not a valid host[:port]");
      }
      if (slash != std::string_view::npos) {
        if (std::string e = checkPath(path); !e.empty()) return fail(why, e);
      }
    } else if (std::string e = checkPath(path); !e.empty()) {
      return fail(why, e);
    }
    pattern.kind = ImagePattern::Kind::kTree;
    pattern.reference.domain = domain == kLegacyHubDomain ? kHubDomain : domain;
    pattern.reference.path = std::string(path);
  } else if (text.ends_with(":*")) {  // the ':' is after the last '/', so it starts a tag
    const std::string_view name = text.substr(0, text.size() - 2);
    if (name.find_first_of("*@") != std::string_view::npos) {
      return fail(why, "\":*\" must follow a repository name without a tag or digest");
    }
    if (std::string e = parseName(name, &pattern.reference); !e.empty()) return fail(why, e);
    pattern.kind = ImagePattern::Kind::kAnyTag;
  } else if (text.find('*') != std::string_view::npos) {
    return fail(why,
                "'*' may only end a pattern: \"name:*\" allows any tag of name, \"path/*\" "
                "every repository under path");
  } else if (!parseImageReference(text, &pattern.reference, why)) {
    return false;
  }
  *out = std::move(pattern);
  return true;
}

}  // namespace wa::docker
