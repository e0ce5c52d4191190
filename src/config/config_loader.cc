#include "config/config_loader.h"

#include <cstdlib>
#include <map>
#include <string_view>
#include <utility>

#include "config/config_key.h"
#include "config/yaml_document.h"
#include "core/file_reader.h"

extern char** environ;

namespace wa::config {
namespace {

constexpr std::string_view kEnvPrefix = "WORKER_AGENT_";
constexpr std::string_view kEnvironmentFile = "environment";
// A config file is a page of settings; anything this big is the wrong file.
constexpr size_t kMaxConfigBytes = 1 << 20;
// A token file holds one token (at most 4096 bytes) and a newline.
constexpr size_t kMaxTokenFileBytes = size_t{64} * 1024;

// The names the original worker read; the WORKER_AGENT_ names win when both are set.
constexpr std::pair<std::string_view, std::string_view> kLegacyNames[] = {
    {"worker_id", "WORKER_ID"},
    {"port", "WORKER_PORT"},
    {"max_concurrent_jobs", "MAX_CONCURRENT_JOBS"},
};

// Where a key was last set, so that a check across keys can point at the right place.
struct Origin {
  std::string file;
  int line = 0;
  int column = 0;
  std::string label;  // the key as written there: "max_memory_mb" or "WORKER_AGENT_..."
};

const char* describeNode(const yaml_node_t& node) {
  switch (node.type) {
    case YAML_SEQUENCE_NODE:
      return "a sequence";
    case YAML_MAPPING_NODE:
      return "a mapping";
    default:
      return "a scalar";
  }
}

std::string_view scalarText(const yaml_node_t& node) {
  return {reinterpret_cast<const char*>(node.data.scalar.value), node.data.scalar.length};
}

// YAML's null: an empty plain scalar, "~" or "null". Quoted forms are strings.
bool isNull(const yaml_node_t& node) {
  if (node.type != YAML_SCALAR_NODE || node.data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
    return false;
  }
  const std::string_view t = scalarText(node);
  return t.empty() || t == "~" || t == "null" || t == "Null" || t == "NULL";
}

// What a node is, for "expected X, got Y" messages.
std::string describeValue(const yaml_node_t& node) {
  if (node.type != YAML_SCALAR_NODE) return describeNode(node);
  if (isNull(node)) return "null";
  const std::string text(scalarText(node));
  if (node.data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
    return "the quoted string \"" + text + "\"";
  return "\"" + text + "\"";
}

std::string trimmed(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return std::string(s);
}

// Parses a decimal value; "" on success, else the start of a message that ends with the
// value as written.
std::string decimalError(std::string_view text, double* out) {
  switch (parseDecimal(text, out)) {
    case DecimalParse::kOk:
      return "";
    case DecimalParse::kNotADecimal:
      return "expected a decimal number such as 1.5, got ";
    case DecimalParse::kTooPrecise:
      return "at most two decimal places, got ";
    case DecimalParse::kOutOfRange:
      return "number out of range: ";
  }
  std::abort();  // every DecimalParse is handled above
}

std::string envName(std::string_view key) {
  std::string name(kEnvPrefix);
  for (char c : key) name += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  return name;
}

// One load: the config being built, where each key came from, and the first error.
class Loading {
 public:
  explicit Loading(const std::string& hostname) {
    // The naming convention of the cluster: the Worker ID is the OS hostname.
    config_.worker_id = hostname.empty() ? "worker" : hostname;
  }

  bool applyYaml(std::string_view text, const std::string& name);
  bool applyEnvironment(const Environment& env);
  bool checkAcrossKeys();
  // Reads auth_token_file into auth_token, so that --check-config and a reload catch a
  // missing or bad token file as they would a bad auth_token.
  bool resolveAuthToken();

  LoadResult result() {
    LoadResult r;
    if (failed_) {
      r.error = std::move(error_);
    } else {
      r.config = std::move(config_);
    }
    return r;
  }

  LoadResult fail(ConfigError error) {
    error_ = std::move(error);
    failed_ = true;
    return result();
  }

 private:
  bool setError(const std::string& file, YamlMark mark, std::string key, std::string message) {
    error_ = ConfigError{file, mark.line, mark.column, std::move(key), std::move(message)};
    failed_ = true;
    return false;
  }
  bool setError(const Origin& origin, std::string message) {
    return setError(origin.file, {origin.line, origin.column}, origin.label, std::move(message));
  }
  bool applyYamlPair(YamlDocument& doc, const yaml_node_t& key_node, const yaml_node_t& value,
                     const std::string& file);
  bool convertYaml(YamlDocument& doc, const ConfigKey& key, const yaml_node_t& node,
                   const std::string& file, ConfigValue* out);
  bool applyEnvValue(const ConfigKey& key, const std::string& var, const std::string& text);
  bool store(const ConfigKey& key, const ConfigValue& value, Origin origin);
  template <typename Number>
  bool checkNotAbove(std::string_view default_key, Number default_value,
                     std::string_view ceiling_key, Number ceiling_value);

  Config config_;
  std::map<std::string_view, Origin> origins_;
  ConfigError error_;
  bool failed_ = false;
};

bool Loading::applyYaml(std::string_view text, const std::string& file) {
  YamlDocument doc;
  YamlDocument::ParseError parse_error;
  if (!doc.parse(text, &parse_error)) {
    return setError(file, parse_error.mark, "", "YAML syntax error: " + parse_error.message);
  }
  const yaml_node_t* root = doc.root();
  if (root == nullptr || isNull(*root)) return true;  // empty or comments only: all defaults
  if (root->type != YAML_MAPPING_NODE) {
    return setError(
        file, YamlDocument::markOf(*root), "",
        "the top level must be a mapping of keys to values, got " + describeValue(*root));
  }
  std::map<std::string, YamlMark> seen;
  for (const yaml_node_pair_t* pair = root->data.mapping.pairs.start;
       pair < root->data.mapping.pairs.top; ++pair) {
    const yaml_node_t* key_node = doc.node(pair->key);
    const yaml_node_t* value = doc.node(pair->value);
    // libyaml resolves every index it hands out; a miss would be a libyaml bug.
    if (key_node == nullptr || value == nullptr) std::abort();
    const YamlMark key_mark = YamlDocument::markOf(*key_node);
    if (key_node->type != YAML_SCALAR_NODE) {
      return setError(file, key_mark, "", "keys must be strings, got " + describeValue(*key_node));
    }
    const std::string name(scalarText(*key_node));
    auto [it, inserted] = seen.emplace(name, key_mark);
    if (!inserted) {
      return setError(file, key_mark, name,
                      "duplicate key (first set at line " + std::to_string(it->second.line) +
                          ", column " + std::to_string(it->second.column) + ")");
    }
    if (!applyYamlPair(doc, *key_node, *value, file)) return false;
  }
  return true;
}

bool Loading::applyYamlPair(YamlDocument& doc, const yaml_node_t& key_node,
                            const yaml_node_t& value, const std::string& file) {
  const std::string name(scalarText(key_node));
  const ConfigKey* key = findConfigKey(name);
  if (key == nullptr) {
    std::string message = "unknown key";
    const std::string suggestion = suggestConfigKey(name);
    if (!suggestion.empty()) message += "; did you mean \"" + suggestion + "\"?";
    return setError(file, YamlDocument::markOf(key_node), name, message);
  }
  ConfigValue converted;
  if (!convertYaml(doc, *key, value, file, &converted)) return false;
  const YamlMark mark = YamlDocument::markOf(value);
  return store(*key, converted, Origin{file, mark.line, mark.column, name});
}

bool Loading::convertYaml(YamlDocument& doc, const ConfigKey& key, const yaml_node_t& node,
                          const std::string& file, ConfigValue* out) {
  const YamlMark mark = YamlDocument::markOf(node);
  const std::string name(key.name);
  switch (key.kind) {
    case ValueKind::kInteger: {
      // Only a plain scalar is a number in YAML; "5" in quotes is a string.
      if (node.type != YAML_SCALAR_NODE || node.data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
          isNull(node)) {
        return setError(file, mark, name, "expected an integer, got " + describeValue(node));
      }
      switch (parseInteger(scalarText(node), &out->integer)) {
        case IntegerParse::kOk:
          return true;
        case IntegerParse::kOutOfRange:
          return setError(file, mark, name,
                          "integer out of range: " + std::string(scalarText(node)));
        case IntegerParse::kNotAnInteger:
          break;
      }
      return setError(file, mark, name, "expected an integer, got " + describeValue(node));
    }
    case ValueKind::kBoolean: {
      // YAML 1.2's booleans. YAML 1.1's yes/no/on/off are refused rather than guessed at:
      // "no" is a country code and a string to most readers.
      const std::string_view t = scalarText(node);
      if (node.type == YAML_SCALAR_NODE && node.data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        if (t == "true" || t == "True" || t == "TRUE") {
          out->boolean = true;
          return true;
        }
        if (t == "false" || t == "False" || t == "FALSE") {
          out->boolean = false;
          return true;
        }
      }
      return setError(file, mark, name, "expected true or false, got " + describeValue(node));
    }
    case ValueKind::kDecimal: {
      if (node.type != YAML_SCALAR_NODE || node.data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
          isNull(node)) {
        return setError(file, mark, name,
                        "expected a decimal number such as 1.5, got " + describeValue(node));
      }
      if (std::string why = decimalError(scalarText(node), &out->decimal); !why.empty()) {
        return setError(file, mark, name, why + describeValue(node));
      }
      return true;
    }
    case ValueKind::kString:
      if (node.type != YAML_SCALAR_NODE || isNull(node)) {
        return setError(file, mark, name, "expected a string, got " + describeValue(node));
      }
      out->text = scalarText(node);
      return true;
    case ValueKind::kStringList: {
      if (node.type != YAML_SEQUENCE_NODE) {
        return setError(file, mark, name,
                        "expected a sequence of strings, got " + describeValue(node));
      }
      int position = 0;
      for (const yaml_node_item_t* item = node.data.sequence.items.start;
           item < node.data.sequence.items.top; ++item) {
        ++position;
        const yaml_node_t* element = doc.node(*item);
        if (element == nullptr) std::abort();  // see applyYaml
        const YamlMark item_mark = YamlDocument::markOf(*element);
        const std::string where = "item " + std::to_string(position) + ": ";
        if (element->type != YAML_SCALAR_NODE || isNull(*element)) {
          return setError(file, item_mark, name,
                          where + "expected a string, got " + describeValue(*element));
        }
        std::string text(scalarText(*element));
        if (key.check_item != nullptr) {
          if (std::string why = key.check_item(text); !why.empty()) {
            return setError(file, item_mark, name, where + why);
          }
        }
        out->list.push_back(std::move(text));
      }
      return true;
    }
  }
  std::abort();  // every ValueKind is handled above
}

bool Loading::store(const ConfigKey& key, const ConfigValue& value, Origin origin) {
  if (std::string why = key.apply(value, &config_); !why.empty()) {
    return setError(origin, std::move(why));
  }
  origins_[key.name] = std::move(origin);
  return true;
}

bool Loading::applyEnvValue(const ConfigKey& key, const std::string& var, const std::string& text) {
  const Origin origin{std::string(kEnvironmentFile), 0, 0, var};
  ConfigValue value;
  switch (key.kind) {
    case ValueKind::kInteger:
      switch (parseInteger(text, &value.integer)) {
        case IntegerParse::kOk:
          break;
        case IntegerParse::kOutOfRange:
          return setError(origin, "integer out of range: " + text);
        case IntegerParse::kNotAnInteger:
          return setError(origin, "expected an integer, got \"" + text + "\"");
      }
      break;
    case ValueKind::kString:
      value.text = text;
      break;
    case ValueKind::kBoolean:
      if (text == "true" || text == "1") {
        value.boolean = true;
      } else if (text == "false" || text == "0") {
        value.boolean = false;
      } else {
        return setError(origin, "expected true, false, 1 or 0, got \"" + text + "\"");
      }
      break;
    case ValueKind::kDecimal:
      if (std::string why = decimalError(text, &value.decimal); !why.empty()) {
        return setError(origin, why + "\"" + text + "\"");
      }
      break;
    case ValueKind::kStringList: {
      // Comma-separated; an empty variable is an empty list (e.g. to allow any image).
      if (text.empty()) break;
      size_t start = 0;
      int position = 0;
      for (;;) {
        const size_t comma = text.find(',', start);
        std::string item = trimmed(std::string_view(text).substr(
            start, comma == std::string::npos ? std::string::npos : comma - start));
        ++position;
        if (key.check_item != nullptr) {
          if (std::string why = key.check_item(item); !why.empty()) {
            return setError(origin, "item " + std::to_string(position) + ": " + why);
          }
        }
        value.list.push_back(std::move(item));
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      break;
    }
  }
  return store(key, value, origin);
}

bool Loading::applyEnvironment(const Environment& env) {
  // Unknown WORKER_AGENT_* variables are left alone: tools around the daemon use the same
  // prefix (the integration tests set WORKER_AGENT_BIN, for one).
  for (const ConfigKey& key : configKeys()) {
    const std::string name = envName(key.name);
    if (auto it = env.find(name); it != env.end()) {
      if (!applyEnvValue(key, name, it->second)) return false;
      continue;
    }
    for (const auto& [legacy_key, legacy_name] : kLegacyNames) {
      if (legacy_key != key.name) continue;
      if (auto it = env.find(std::string(legacy_name)); it != env.end()) {
        if (!applyEnvValue(key, std::string(legacy_name), it->second)) return false;
      }
    }
  }
  // DOCKER_HOST is what the docker CLI uses; it only fills in for an unset docker_host.
  // Empty counts as unset, as it does for the CLI.
  if (origins_.count("docker_host") == 0) {
    if (auto it = env.find("DOCKER_HOST"); it != env.end() && !it->second.empty()) {
      if (!applyEnvValue(*findConfigKey("docker_host"), "DOCKER_HOST", it->second)) return false;
    }
  }
  // DOCKER_API_VERSION likewise, for an unset docker_api_version.
  if (origins_.count("docker_api_version") == 0) {
    if (auto it = env.find("DOCKER_API_VERSION"); it != env.end() && !it->second.empty()) {
      if (!applyEnvValue(*findConfigKey("docker_api_version"), "DOCKER_API_VERSION", it->second))
        return false;
    }
  }
  return true;
}

std::string numberText(int64_t n) { return std::to_string(n); }
std::string numberText(double n) { return formatDecimal(n); }

template <typename Number>
bool Loading::checkNotAbove(std::string_view default_key, Number default_value,
                            std::string_view ceiling_key, Number ceiling_value) {
  if (default_value <= ceiling_value) return true;
  // Point at the default where it was set; if it was left at its built-in value, the
  // ceiling was lowered under it, so point there but still name the default.
  auto it = origins_.find(default_key);
  Origin origin;
  std::string how;
  if (it != origins_.end()) {
    origin = it->second;
  } else {
    // Both at their built-in values cannot conflict, so the ceiling must have been set.
    origin = origins_.at(ceiling_key);
    origin.label = std::string(default_key);
    how = " (its default)";
  }
  return setError(origin, std::string(default_key) + " " + numberText(default_value) + how +
                              " must not be larger than " + std::string(ceiling_key) + " " +
                              numberText(ceiling_value));
}

bool Loading::checkAcrossKeys() {
  return checkNotAbove("default_memory_mb", config_.default_memory_mb, "max_memory_mb",
                       config_.max_memory_mb) &&
         checkNotAbove("default_max_runtime_seconds", config_.default_max_runtime_seconds,
                       "max_runtime_seconds", config_.max_runtime_seconds) &&
         // max_cpus 0 stands for the host's CPU count, known only to the daemon.
         (config_.max_cpus == 0 ||
          checkNotAbove("default_cpus", config_.default_cpus, "max_cpus", config_.max_cpus));
}

bool Loading::resolveAuthToken() {
  const std::string& path = config_.auth_token_file;
  if (path.empty()) return true;
  // Set to something other than its default "", so it has an origin.
  const Origin& origin = origins_.at("auth_token_file");
  // Two sources of one secret: refuse rather than pick one silently.
  if (!config_.auth_token.empty()) {
    return setError(origin, "auth_token is set as well; set only one of them");
  }
  std::string why;
  std::optional<std::string> token = core::readFile(path, kMaxTokenFileBytes, &why);
  if (!token) return setError(origin, "cannot read " + path + ": " + why);
  // `echo token > file` and most editors end the file with a newline; the token does not.
  while (!token->empty() && (token->back() == '\n' || token->back() == '\r')) token->pop_back();
  if (std::string problem = authTokenProblem(*token); !problem.empty()) {
    return setError(origin, "the token in " + path + " " + problem);
  }
  config_.auth_token = std::move(*token);
  return true;
}

}  // namespace

std::string ConfigError::format() const {
  std::string out = file;
  if (line > 0) {
    out += ":" + std::to_string(line);
    if (column > 0) out += ":" + std::to_string(column);
  }
  out += ": ";
  if (!key.empty()) out += key + ": ";
  out += message;
  return out;
}

Environment ConfigLoader::processEnvironment() {
  Environment env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    const size_t eq = text.find('=');
    if (eq == std::string_view::npos) continue;  // not NAME=value; nothing to look up
    env.emplace(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
  }
  return env;
}

LoadResult ConfigLoader::loadFile(const std::string& path, const Environment& env,
                                  const std::string& hostname) {
  const auto failure = [&](std::string message) {
    return Loading(hostname).fail(ConfigError{path, 0, 0, "", std::move(message)});
  };
  std::string why;
  std::optional<std::string> text = core::readFile(path, kMaxConfigBytes, &why);
  if (!text) return failure("cannot read config file: " + why);
  return loadString(*text, path, env, hostname);
}

LoadResult ConfigLoader::loadString(const std::string& text, const std::string& name,
                                    const Environment& env, const std::string& hostname) {
  Loading loading(hostname);
  if (loading.applyYaml(text, name) && loading.applyEnvironment(env) && loading.checkAcrossKeys()) {
    loading.resolveAuthToken();
  }
  return loading.result();
}

LoadResult ConfigLoader::loadDefaults(const Environment& env, const std::string& hostname) {
  Loading loading(hostname);
  if (loading.applyEnvironment(env) && loading.checkAcrossKeys()) loading.resolveAuthToken();
  return loading.result();
}

}  // namespace wa::config
