// etc/worker-agent.yaml, the config the package installs, must load and match the defaults.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace wa::config
