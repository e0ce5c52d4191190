// ImagePolicy: the allowed_images forms, Docker Hub spellings, and adversarial references.
#include "jobs/image_policy.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace wa::jobs {
namespace {

const std::string kDigestA =
    "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const std::string kDigestB =
    "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

TEST(ImagePolicy, EmptyAllowsEverything) {
  EXPECT_TRUE(ImagePolicy({}).allows("anything:1"));
  // Nothing to compare with, so even text that is no reference passes; the job parser
  // refuses those before it asks.
  EXPECT_TRUE(ImagePolicy({}).allows("Not A Reference"));
}

TEST(ImagePolicy, ExactAndAnyTag) {
  ImagePolicy policy({"runner:1.0", "tools:*", "localhost:5000/app:*", "plain"});
  EXPECT_TRUE(policy.allows("runner:1.0"));
  EXPECT_FALSE(policy.allows("runner:1.1"));
  EXPECT_FALSE(policy.allows("runner"));  // means runner:latest
  EXPECT_TRUE(policy.allows("tools:7"));
  EXPECT_TRUE(policy.allows("tools"));  // tools:latest
  EXPECT_FALSE(policy.allows("toolsx:7"));
  EXPECT_FALSE(policy.allows("other/tools:7"));
  EXPECT_FALSE(policy.allows("tools@sha256:abc"));
  EXPECT_TRUE(policy.allows("localhost:5000/app:v2"));
  EXPECT_FALSE(policy.allows("localhost:5001/app:v2"));
  EXPECT_TRUE(policy.allows("plain:latest"));
  EXPECT_TRUE(policy.allows("plain"));
}

TEST(ImagePolicy, OnlyUnparsablePatternsAllowNothing) {
  // Not the same as an empty list: the operator meant to restrict.
  ImagePolicy policy({"Busybox", "team*"});
  EXPECT_FALSE(policy.allows("busybox"));
  EXPECT_FALSE(policy.allows("Busybox"));
  EXPECT_FALSE(policy.allows("team"));
}

struct Match {
  std::string pattern;
  std::string image;
  bool allowed;
};

void PrintTo(const Match& m, std::ostream* os) {
  *os << '"' << m.pattern << "\" " << (m.allowed ? "allows" : "refuses") << " \"" << m.image << '"';
}

class MatchTest : public ::testing::TestWithParam<Match> {};

TEST_P(MatchTest, AsTheEngineReadsBothSides) {
  const Match& m = GetParam();
  EXPECT_EQ(ImagePolicy({m.pattern}).allows(m.image), m.allowed);
}

INSTANTIATE_TEST_SUITE_P(
    DockerHubSpellings, MatchTest,
    ::testing::Values(Match{"busybox", "busybox", true}, Match{"busybox", "busybox:latest", true},
                      Match{"busybox", "library/busybox", true},
                      Match{"busybox", "docker.io/busybox", true},
                      Match{"busybox", "docker.io/library/busybox", true},
                      Match{"busybox", "index.docker.io/library/busybox:latest", true},
                      Match{"docker.io/library/busybox", "busybox", true},
                      Match{"index.docker.io/library/busybox:1.36", "busybox:1.36", true},
                      Match{"library/busybox:1.36", "docker.io/busybox:1.36", true},
                      Match{"team/app", "docker.io/team/app:latest", true},
                      // Other registries are other images, however close the spelling.
                      Match{"busybox", "127.0.0.1:5000/busybox", false},
                      Match{"busybox", "localhost/busybox", false},
                      Match{"busybox", "localhost:5000/library/busybox", false},
                      Match{"busybox", "docker.io.evil.com/library/busybox", false},
                      Match{"busybox", "registry-1.docker.io/library/busybox", false},
                      Match{"busybox", "Docker.io/library/busybox", false},
                      Match{"busybox", "evil/busybox", false}, Match{"busybox", "busybox/x", false},
                      Match{"localhost/busybox", "busybox", false},
                      Match{"docker.io/library/busybox", "docker.io/busybox/busybox", false}));

INSTANTIATE_TEST_SUITE_P(
    Tags, MatchTest,
    ::testing::Values(
        Match{"busybox:1.36", "busybox:1.36", true}, Match{"busybox:1.36", "busybox:1.37", false},
        Match{"busybox:1.36", "busybox", false}, Match{"busybox:latest", "busybox", true},
        Match{"busybox:1.36", "busybox:1.36@" + kDigestA, false},  // a tag vouches for no digest
        Match{"busybox:*", "busybox:1", true}, Match{"busybox:*", "busybox", true},
        Match{"busybox:*", "library/busybox:x", true},
        Match{"busybox:*", "index.docker.io/busybox:x", true},
        Match{"busybox:*", "busybox@" + kDigestA, false},
        Match{"busybox:*", "busybox:1@" + kDigestA, false}, Match{"busybox:*", "busyboxx:1", false},
        Match{"busybox:*", "busybo:1", false}, Match{"busybox:*", "other/busybox:1", false},
        Match{"busybox:*", "localhost/busybox:1", false},
        Match{"localhost:5000/app:*", "localhost:5000/app/sub:1", false}));

INSTANTIATE_TEST_SUITE_P(
    DigestPins, MatchTest,
    ::testing::Values(
        Match{"busybox@" + kDigestA, "busybox@" + kDigestA, true},
        Match{"busybox@" + kDigestA, "docker.io/library/busybox:1.36@" + kDigestA, true},
        Match{"busybox:1.36@" + kDigestA, "busybox@" + kDigestA, true},
        Match{"busybox@" + kDigestA, "busybox@" + kDigestB, false},
        Match{"busybox@" + kDigestA, "busybox", false},
        Match{"busybox@" + kDigestA, "busybox:latest", false},
        Match{"busybox@" + kDigestA, "other@" + kDigestA, false},
        Match{"busybox@" + kDigestA, "localhost/busybox@" + kDigestA, false},
        Match{"busybox@" + kDigestA, "busybox@sha256:aaaa", false},  // short hex: not a digest
        Match{"busybox@" + kDigestA,
              "busybox@SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
              false}));

INSTANTIATE_TEST_SUITE_P(
    Trees, MatchTest,
    ::testing::Values(
        Match{"registry.example:5000/team/*", "registry.example:5000/team/app", true},
        Match{"registry.example:5000/team/*", "registry.example:5000/team/app:1", true},
        Match{"registry.example:5000/team/*", "registry.example:5000/team/a/b:2", true},
        Match{"registry.example:5000/team/*", "registry.example:5000/team/app@" + kDigestA, true},
        Match{"registry.example:5000/team/*", "registry.example:5000/team-evil/x", false},
        Match{"registry.example:5000/team/*", "registry.example:5000/teamx", false},
        Match{"registry.example:5000/team/*", "registry.example:5000/team", false},
        Match{"registry.example:5000/team/*", "registry.example:5000/team:1", false},
        Match{"registry.example:5000/team/*", "registry.example:5001/team/app", false},
        Match{"registry.example:5000/team/*", "registry.example/team/app", false},
        Match{"registry.example:5000/team/*", "team/app", false},
        Match{"registry.example:5000/team/*", "registry.example:5000/Team/app", false},
        Match{"registry.example:5000/team/*", "registry.example:5000/team/../x", false},
        Match{"registry.example:5000/team/*", "registry.example:5000/team//x", false},
        Match{"registry.example:5000/team/*", "registry.example:5000/team/", false},
        Match{"registry.example:5000/team/*", "registry.example:5000/team/App", false},
        Match{"registry.example:5000/team/*", "evil.com/registry.example:5000/team/x", false},
        Match{"registry.example:5000/*", "registry.example:5000/anything/at/all:1", true},
        Match{"registry.example:5000/*", "registry.example:50000/x", false},
        Match{"library/*", "busybox", true}, Match{"library/*", "alpine:3", true},
        Match{"library/*", "team/app", false}, Match{"library/*", "localhost/library/x", false},
        Match{"team/*", "team/app", true}, Match{"team/*", "docker.io/team/app:1", true},
        Match{"team/*", "team", false}, Match{"busybox/*", "busybox", false},
        Match{"docker.io/*", "busybox", true}, Match{"docker.io/*", "team/app", true},
        Match{"docker.io/*", "localhost/x", false},
        Match{"docker.io/*", "docker.io.evil.com/x", false},
        Match{"localhost/*", "localhost/a", true}, Match{"localhost/*", "localhost:5000/a", false},
        Match{"localhost/*", "a", false}));

INSTANTIATE_TEST_SUITE_P(
    AdversarialReferences, MatchTest,
    ::testing::Values(
        Match{"busybox:1", "BUSYBOX:1", false}, Match{"busybox:1", "Busybox:1", false},
        Match{"busybox:1", "busybox:1 ", false}, Match{"busybox:1", " busybox:1", false},
        Match{"busybox:1", "busybox:1\n", false}, Match{"busybox:*", "busybox:", false},
        Match{"busybox:*", "busybox:*", false}, Match{"library/*", "library/../x", false},
        Match{"library/*", "library//busybox", false}, Match{"library/*", "", false},
        Match{"library/*",
              "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
        Match{"library/*", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
              false},
        Match{"library/*", "sha256:abc", false}));

TEST(ImagePolicy, DefaultTag) {
  EXPECT_EQ(ImagePolicy::withDefaultTag("busybox"), "busybox:latest");
  EXPECT_EQ(ImagePolicy::withDefaultTag("localhost:5000/busybox"), "localhost:5000/busybox:latest");
  EXPECT_EQ(ImagePolicy::withDefaultTag("a:1"), "a:1");
  EXPECT_EQ(ImagePolicy::withDefaultTag("a@sha256:00"), "a@sha256:00");
}

}  // namespace
}  // namespace wa::jobs
