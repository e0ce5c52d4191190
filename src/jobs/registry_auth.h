// RegistryAuth: credentials for image registries, read from a Docker-style credentials
// file (what `docker login` writes to config.json):
//   {"auths": {"registry.example:5000": {"auth": "<base64 of user:password>"}}}
// or with "username" and "password" members instead of "auth". The worker sends them as
// the X-Registry-Auth header of a pull from that registry and nowhere else; they are
// never logged or shown.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace wa::jobs {

// The registry an image reference is pulled from: "127.0.0.1:5000" for
// "127.0.0.1:5000/team/app:1", "docker.io" for "busybox" or "library/busybox".
std::string registryOf(std::string_view reference);

class RegistryAuth {
 public:
  RegistryAuth() = default;
  // Parses the file's text; nullopt with *error naming what is wrong (never a secret).
  static std::optional<RegistryAuth> parse(std::string_view json, std::string* error);
  // Reads and parses path; nullopt with *error on failure.
  static std::optional<RegistryAuth> load(const std::string& path, std::string* error);

  // The X-Registry-Auth value for pulling reference (base64url JSON of username, password
  // and serveraddress), or "" when no credentials are configured for its registry.
  std::string headerFor(std::string_view reference) const;
  size_t registries() const { return credentials_.size(); }

 private:
  struct Credentials {
    std::string username;
    std::string password;
  };
  // Keyed by registry as registryOf() names it.
  std::map<std::string, Credentials, std::less<>> credentials_;
};

}  // namespace wa::jobs
