// The rules of the configuration keys whose values need more than a kind and a range: an
// identity, addresses and paths, enumerations, the job's user. Each apply function checks
// a value and stores it into its Config member, returning "" or why the value is bad
// (*config is then unchanged); each item function checks one item of a list key. The key
// table (config_key.cc) names them; nothing else calls them.
#pragma once

#include <string>
#include <string_view>

#include "config/config.h"
#include "config/config_key.h"

namespace wa::config::rules {

std::string nonEmptyItem(std::string_view item);
std::string imagePatternItem(std::string_view item);
std::string runtimeModeItem(std::string_view item);
std::string applyWorkerId(const ConfigValue& value, Config* config);
std::string applyListen(const ConfigValue& value, Config* config);
// "" when path is absolute (or, if may_be_empty, empty); otherwise the key's message.
std::string pathProblem(std::string_view path, bool may_be_empty);
std::string applyListenUnix(const ConfigValue& value, Config* config);
std::string applyAuthToken(const ConfigValue& value, Config* config);
std::string openablePathItem(std::string_view item);
std::string applyDockerHost(const ConfigValue& value, Config* config);
std::string applyDockerApiVersion(const ConfigValue& value, Config* config);
std::string applyStopAction(const ConfigValue& value, Config* config);
std::string applyJournalSync(const ConfigValue& value, Config* config);
std::string applyPullPolicy(const ConfigValue& value, Config* config);
std::string applyWorkspacePath(const ConfigValue& value, Config* config);
std::string applyJobUser(const ConfigValue& value, Config* config);
std::string applyContainerRuntime(const ConfigValue& value, Config* config);
std::string applyLogLevel(const ConfigValue& value, Config* config);

}  // namespace wa::config::rules
