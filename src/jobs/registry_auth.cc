#include "jobs/registry_auth.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "core/file_reader.h"
#include "core/text.h"

namespace wa::jobs {
namespace {

constexpr std::string_view kDockerHub = "docker.io";
// A credentials file holds a few lines per registry; anything larger is the wrong file.
constexpr size_t kMaxFileBytes = 1 << 20;

// "https://index.docker.io/v1/" -> "docker.io"; "127.0.0.1:5000" stays as it is.
std::string normalizeRegistry(std::string_view key) {
  for (std::string_view scheme : {"https://", "http://"}) {
    if (key.starts_with(scheme)) key.remove_prefix(scheme.size());
  }
  key = key.substr(0, key.find('/'));
  if (key == "index.docker.io" || key == "registry-1.docker.io") return std::string(kDockerHub);
  return std::string(key);
}

std::string_view view(const rapidjson::Value& v) { return {v.GetString(), v.GetStringLength()}; }

}  // namespace

std::string registryOf(std::string_view reference) {
  const size_t slash = reference.find('/');
  if (slash == std::string_view::npos) return std::string(kDockerHub);
  const std::string_view first = reference.substr(0, slash);
  // The engine's rule: a first component is a registry only if it looks like a host.
  if (first.find('.') == std::string_view::npos && first.find(':') == std::string_view::npos &&
      first != "localhost") {
    return std::string(kDockerHub);
  }
  return normalizeRegistry(first);
}

std::optional<RegistryAuth> RegistryAuth::parse(std::string_view json, std::string* error) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    *error = "is not a JSON object";
    return std::nullopt;
  }
  // Read through a const view: const iterators compare unambiguously under C++20.
  const rapidjson::Value& root = doc;
  auto auths = root.FindMember("auths");
  if (auths == root.MemberEnd() || !auths->value.IsObject()) {
    *error = "has no \"auths\" object";
    return std::nullopt;
  }
  RegistryAuth result;
  for (auto it = auths->value.MemberBegin(); it != auths->value.MemberEnd(); ++it) {
    const std::string registry = normalizeRegistry(view(it->name));
    const std::string where = "auths[\"" + std::string(view(it->name)) + "\"]";
    if (registry.empty() || !it->value.IsObject()) {
      *error = where + " must be an object named after a registry host";
      return std::nullopt;
    }
    Credentials credentials;
    const auto& entry = it->value;
    if (auto auth = entry.FindMember("auth"); auth != entry.MemberEnd() && auth->value.IsString()) {
      std::optional<std::string> decoded = core::base64Decode(view(auth->value));
      const size_t colon = decoded ? decoded->find(':') : std::string::npos;
      if (colon == std::string::npos) {
        *error = where + ".auth must be the base64 of \"username:password\"";
        return std::nullopt;
      }
      credentials.username = decoded->substr(0, colon);
      credentials.password = decoded->substr(colon + 1);
    } else {
      auto user = entry.FindMember("username");
      auto password = entry.FindMember("password");
      if (user == entry.MemberEnd() || !user->value.IsString() || password == entry.MemberEnd() ||
          !password->value.IsString()) {
        *error = where + " needs \"auth\", or \"username\" and \"password\" strings";
        return std::nullopt;
      }
      credentials.username = std::string(view(user->value));
      credentials.password = std::string(view(password->value));
    }
    result.credentials_[registry] = std::move(credentials);
  }
  return result;
}

std::optional<RegistryAuth> RegistryAuth::load(const std::string& path, std::string* error) {
  std::optional<std::string> text = core::readFile(path, kMaxFileBytes, error);
  if (!text) {
    *error = path + ": " + *error;
    return std::nullopt;
  }
  std::optional<RegistryAuth> auth = parse(*text, error);
  if (!auth) *error = path + " " + *error;
  return auth;
}

std::string RegistryAuth::headerFor(std::string_view reference) const {
  auto it = credentials_.find(registryOf(reference));
  if (it == credentials_.end()) return "";
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("username");
  w.String(it->second.username.data(),
           static_cast<rapidjson::SizeType>(it->second.username.size()));
  w.Key("password");
  w.String(it->second.password.data(),
           static_cast<rapidjson::SizeType>(it->second.password.size()));
  w.Key("serveraddress");
  w.String(it->first.data(), static_cast<rapidjson::SizeType>(it->first.size()));
  w.EndObject();
  // The engine decodes the header with the URL-safe alphabet.
  return core::base64Encode({buffer.GetString(), buffer.GetSize()}, core::Base64Alphabet::kUrl);
}

}  // namespace wa::jobs
