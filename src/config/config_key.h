// ConfigKey: the table of every config key, the shape its value takes and the rule that
// validates it. The YAML file and the environment overrides both go through this table,
// so a key is checked the same way wherever it comes from. It is the config schema's one
// source: comparing configs, what a reload keeps, and the key lists of the docs are all
// derived from it (the unit tests hold the man page and etc/worker-agent.yaml to it).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace wa::config {

// kBoolean is YAML's true/false (the environment also takes 1/0); kDecimal a number with
// at most two decimal places, such as 1.5.
enum class ValueKind { kString, kInteger, kStringList, kBoolean, kDecimal };

// A value already converted to its key's kind; only the member for that kind is set.
struct ConfigValue {
  std::string text;
  int64_t integer = 0;
  std::vector<std::string> list;
  bool boolean = false;
  double decimal = 0;
};

struct ConfigKey {
  std::string_view name;
  ValueKind kind;
  // kStringList only: checks one item, returning "" when fine or why it is not.
  std::string (*check_item)(std::string_view item);
  // Checks the whole value and stores it into *config. Returns "" on success, else why the
  // value is bad; *config is then unchanged.
  std::string (*apply)(const ConfigValue& value, Config* config);
  // True when a SIGHUP reload applies a new value to the running daemon; false when
  // only a restart does (sockets, the engine connection, the worker's identity).
  bool reloadable = false;
  // Derived from the key's Config member: whether a and b differ in it, copying it from
  // one config to another, and its value as text (for messages and tests).
  bool (*differs)(const Config& a, const Config& b) = nullptr;
  void (*copy)(const Config& from, Config* to) = nullptr;
  std::string (*show)(const Config& config) = nullptr;
};

// Every key, in the order of config.h.
const std::vector<ConfigKey>& configKeys();
// The key called name, or null if there is none.
const ConfigKey* findConfigKey(std::string_view name);
// The valid key nearest to name when it is close enough to be a likely typo, else "".
std::string suggestConfigKey(std::string_view name);

// Why token cannot be an auth_token, or "" when it can: 16 to 4096 bytes of visible ASCII
// (no spaces, tabs or control characters, which an Authorization header cannot carry
// intact). The message never quotes the token.
std::string authTokenProblem(std::string_view token);

// The names of the keys whose values differ between a and b, in table order.
std::vector<std::string_view> changedKeys(const Config& a, const Config& b);
// Copies into next the running value of every key a reload cannot apply (bound into
// sockets, the engine client, container labels and the sampler at start-up).
void keepRestartOnlyKeys(const Config& running, Config* next);
// "name=value" for every key, in table order.
std::vector<std::string> describeConfig(const Config& config);

enum class IntegerParse { kOk, kNotAnInteger, kOutOfRange };
// Parses an optionally negative base-10 integer with no sign "+", spaces or other bases.
IntegerParse parseInteger(std::string_view text, int64_t* out);

enum class DecimalParse { kOk, kNotADecimal, kTooPrecise, kOutOfRange };
// Parses an optionally negative decimal: digits, then optionally "." and digits ("2",
// "0.25", "1.50"). No sign "+", exponent, ".5", "1.", nan or infinity. kTooPrecise when the
// value is not a whole number of hundredths ("0.125"; trailing zeros do not count).
DecimalParse parseDecimal(std::string_view text, double* out);
// The shortest text that reads back as value ("1.5", "2", "0.01").
std::string formatDecimal(double value);

}  // namespace wa::config
