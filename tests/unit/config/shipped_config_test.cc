// etc/worker-agent.yaml, the config the package installs, must load and match the defaults.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "config/config_key.h"
#include "config/config_loader.h"
#include "config_test_util.h"

namespace wa::config {
namespace {

using testing::defaultsFor;
using testing::fields;

const std::string kShippedConfig = WA_FIXTURES_DIR "/../../etc/worker-agent.yaml";

TEST(ShippedConfigTest, LoadsToTheDefaults) {
  LoadResult r = ConfigLoader::loadFile(kShippedConfig, {}, "host1");
  ASSERT_TRUE(r.config) << r.error.format();
  EXPECT_EQ(fields(*r.config), fields(defaultsFor("host1")));
}

TEST(ShippedConfigTest, LeavesDockerHostToTheEnvironment) {
  LoadResult r =
      ConfigLoader::loadFile(kShippedConfig, {{"DOCKER_HOST", "tcp://10.1.2.3:2375"}}, "host1");
  ASSERT_TRUE(r.config) << r.error.format();
  EXPECT_EQ(r.config->docker_host, "tcp://10.1.2.3:2375");
}

TEST(ShippedConfigTest, MentionsEveryKey) {
  std::ifstream in(kShippedConfig);
  ASSERT_TRUE(in) << kShippedConfig;
  std::stringstream text;
  text << in.rdbuf();
  for (const ConfigKey& key : configKeys()) {
    // Every key appears at the start of a line, set or (worker_id, docker_host) commented out.
    const std::string set = "\n" + std::string(key.name) + ":";
    const std::string commented = "\n# " + std::string(key.name) + ":";
    EXPECT_TRUE(text.str().find(set) != std::string::npos ||
                text.str().find(commented) != std::string::npos)
        << key.name;
  }
}

}  // namespace
}  // namespace wa::config
