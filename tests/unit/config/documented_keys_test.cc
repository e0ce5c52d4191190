// The key table is the config schema's one source: the man page, the shipped config and
// the architecture document are held to it here, so that a key added, removed or made
// reloadable without its documentation fails the build's tests.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "config/config_key.h"

namespace wa::config {
namespace {

const std::string kRepo = WA_FIXTURES_DIR "/../..";

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << path;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Each key of the man page's KEYS list (".It Cm name") and what its entry says a reload
// does: "applied" or "restart" (its "Reload: ..." sentence), "" when it says neither.
std::map<std::string, std::string> manPageKeys() {
  const std::string page = readFile(kRepo + "/man/worker-agent.yaml.5");
  std::map<std::string, std::string> keys;
  const size_t section = page.find("\n.Sh KEYS\n");
  const size_t end = page.find("\n.Sh ", section + 1);
  EXPECT_NE(section, std::string::npos) << "no KEYS section";
  std::istringstream lines(page.substr(section, end - section));
  std::string line;
  std::string current;
  while (std::getline(lines, line)) {
    if (line.starts_with(".It Cm ")) {
      std::string name = line.substr(7);
      current = name.substr(0, name.find(' '));
      keys[current] = "";
    } else if (!current.empty() && line.starts_with("Reload: ")) {
      keys[current] = line.starts_with("Reload: applied")   ? "applied"
                      : line.starts_with("Reload: restart") ? "restart"
                                                            : "?";
    }
  }
  return keys;
}

TEST(DocumentedKeys, TheManPageDescribesEveryKeyAndWhatAReloadDoes) {
  const std::map<std::string, std::string> documented = manPageKeys();
  for (const ConfigKey& key : configKeys()) {
    auto it = documented.find(std::string(key.name));
    ASSERT_NE(it, documented.end()) << key.name << " is missing from worker-agent.yaml(5)";
    EXPECT_EQ(it->second, key.reloadable ? "applied" : "restart")
        << key.name << ": its Reload sentence disagrees with the key table";
  }
  for (const auto& [name, reload] : documented) {
    EXPECT_NE(findConfigKey(name), nullptr)
        << name << " is documented in worker-agent.yaml(5) but is no key";
  }
}

TEST(DocumentedKeys, TheShippedConfigMentionsEveryKey) {
  const std::string text = readFile(kRepo + "/etc/worker-agent.yaml");
  for (const ConfigKey& key : configKeys()) {
    // At the start of a line, set or commented out.
    const std::string set = "\n" + std::string(key.name) + ":";
    const std::string commented = "\n# " + std::string(key.name) + ":";
    EXPECT_TRUE(text.find(set) != std::string::npos || text.find(commented) != std::string::npos)
        << key.name << " is missing from etc/worker-agent.yaml";
  }
}

TEST(DocumentedKeys, KeepRestartOnlyKeysKeepsExactlyTheKeysAReloadCannotApply) {
  Config running;
  running.worker_id = "running";
  Config next;
  next.worker_id = "next";
  next.port = running.port + 1;
  next.max_concurrent_jobs = running.max_concurrent_jobs + 1;
  keepRestartOnlyKeys(running, &next);
  EXPECT_EQ(next.worker_id, "running");
  EXPECT_EQ(next.port, running.port);
  EXPECT_EQ(next.max_concurrent_jobs, running.max_concurrent_jobs + 1);
  for (std::string_view name : changedKeys(running, next)) {
    EXPECT_TRUE(findConfigKey(name)->reloadable) << name;
  }
}

}  // namespace
}  // namespace wa::config
