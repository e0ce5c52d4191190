// ImageReference and ImagePattern: the engine's reference grammar, Docker Hub
// normalization, and every malformed spelling refused with a reason.
#include "docker/image_reference.h"

#include <gtest/gtest.h>

#include <string>

namespace wa::docker {
namespace {

const std::string kHex = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const std::string kDigest = "sha256:" + kHex;

struct Parsed {
  std::string text;
  std::string canonical;  // "" when the text must be refused
  std::string why = "";   // for a refusal: a part of the reason
};

void PrintTo(const Parsed& p, std::ostream* os) { *os << '"' << p.text << '"'; }

class ReferenceTest : public ::testing::TestWithParam<Parsed> {};

TEST_P(ReferenceTest, ParsesAsTheEngineDoes) {
  const Parsed& p = GetParam();
  ImageReference ref;
  std::string why;
  const bool ok = parseImageReference(p.text, &ref, &why);
  if (p.canonical.empty()) {
    EXPECT_FALSE(ok) << ref.canonical();
    EXPECT_NE(why.find(p.why), std::string::npos) << why;
  } else {
    ASSERT_TRUE(ok) << why;
    EXPECT_EQ(ref.canonical(), p.canonical);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Normalized, ReferenceTest,
    ::testing::Values(
        Parsed{"busybox", "docker.io/library/busybox:latest"},
        Parsed{"busybox:1.36", "docker.io/library/busybox:1.36"},
        Parsed{"library/busybox", "docker.io/library/busybox:latest"},
        Parsed{"docker.io/busybox", "docker.io/library/busybox:latest"},
        Parsed{"docker.io/library/busybox", "docker.io/library/busybox:latest"},
        Parsed{"index.docker.io/library/busybox", "docker.io/library/busybox:latest"},
        Parsed{"index.docker.io/busybox:1", "docker.io/library/busybox:1"},
        Parsed{"team/app:1", "docker.io/team/app:1"},
        Parsed{"docker.io/team/app", "docker.io/team/app:latest"},
        Parsed{"a/b/c/d:x", "docker.io/a/b/c/d:x"},
        Parsed{"localhost/busybox", "localhost/busybox:latest"},
        Parsed{"localhost:5000/busybox", "localhost:5000/busybox:latest"},
        Parsed{"127.0.0.1:5000/busybox:2", "127.0.0.1:5000/busybox:2"},
        Parsed{"docker.io.evil.com/library/busybox", "docker.io.evil.com/library/busybox:latest"},
        Parsed{"registry-1.docker.io/library/busybox",
               "registry-1.docker.io/library/busybox:latest"},
        Parsed{"[::1]:5000/app:1", "[::1]:5000/app:1"},
        Parsed{"[fe80::1]/app", "[fe80::1]/app:latest"},
        Parsed{"Registry.Example/app", "Registry.Example/app:latest"},
        Parsed{"my_app__x.y-z---w", "docker.io/library/my_app__x.y-z---w:latest"},
        Parsed{"busybox:V1.2_rc-3", "docker.io/library/busybox:V1.2_rc-3"},
        Parsed{"busybox:_x", "docker.io/library/busybox:_x"},
        Parsed{"busybox:" + std::string(128, 't'),
               "docker.io/library/busybox:" + std::string(128, 't')},
        Parsed{"busybox@" + kDigest, "docker.io/library/busybox@" + kDigest},
        Parsed{"busybox:1.36@" + kDigest, "docker.io/library/busybox:1.36@" + kDigest},
        Parsed{"localhost:5000/app@" + kDigest, "localhost:5000/app@" + kDigest},
        Parsed{"abc", "docker.io/library/abc:latest"},
        Parsed{"docker.io/library/sha256:" + kHex, "docker.io/library/sha256:" + kHex}));

INSTANTIATE_TEST_SUITE_P(
    Refused, ReferenceTest,
    ::testing::Values(
        Parsed{"", "", "names no repository"}, Parsed{"Busybox", "", "lowercase"},
        Parsed{"BUSYBOX:1", "", "lowercase"}, Parsed{"library/Busybox", "", "lowercase"},
        Parsed{"localhost/Busybox", "", "lowercase"}, Parsed{"a//b", "", "empty path component"},
        Parsed{"a/", "", "empty path component"}, Parsed{"/a", "", "empty path component"},
        Parsed{"localhost/", "", "names no repository"}, Parsed{"../x", "", "\"..\""},
        Parsed{"a/../b", "", "\"..\""}, Parsed{"a/./b", "", "\".\""},
        Parsed{"localhost:5000/../x", "", "\"..\""}, Parsed{"a___b", "", "not valid"},
        Parsed{"a..b", "", "not valid"}, Parsed{"a._b", "", "not valid"},
        Parsed{"-a", "", "not valid"}, Parsed{"a-", "", "not valid"},
        Parsed{"bus box", "", "not valid"}, Parsed{"busybox\n", "", "not valid"},
        Parsed{std::string("bus\0box", 7), "", "not valid"}, Parsed{"*", "", "not valid"},
        Parsed{"busybox:", "", "tag \"\""}, Parsed{"busybox:.x", "", "tag"},
        Parsed{"busybox:-x", "", "tag"}, Parsed{"busybox:a/b", "", "registry \"busybox:a\""},
        Parsed{"busybox:" + std::string(129, 't'), "", "tag"},
        Parsed{"busybox:1:2", "", "not valid"}, Parsed{"busybox@", "", "not sha256"},
        Parsed{"busybox@sha256:", "", "64 lowercase"},
        Parsed{"busybox@sha256:abc", "", "64 lowercase"},
        Parsed{"busybox@sha256:" + std::string(63, 'a'), "", "64 lowercase"},
        Parsed{"busybox@sha256:" + std::string(65, 'a'), "", "64 lowercase"},
        Parsed{"busybox@sha256:" + std::string(64, 'A'), "", "64 lowercase"},
        Parsed{"busybox@sha256:" + std::string(64, 'g'), "", "64 lowercase"},
        Parsed{"busybox@sha512:" + std::string(128, 'a'), "", "not sha256"},
        Parsed{"busybox@" + kDigest + "@" + kDigest, "", "64 lowercase"},
        Parsed{"@" + kDigest, "", "names no repository"}, Parsed{":1", "", "names no repository"},
        Parsed{kHex, "", "image id"}, Parsed{kHex + ":1", "", "image id"},
        Parsed{"sha256:" + kHex, "", "image id"}, Parsed{"sha256:abc", "", "image id"},
        Parsed{"reg:abc/x", "", "registry"}, Parsed{"-reg.com/x", "", "registry"},
        Parsed{"reg..com/x", "", "registry"}, Parsed{"reg.com:/x", "", "registry"},
        Parsed{"[::1/x", "", "registry"}, Parsed{"[::g]/x", "", "registry"},
        Parsed{"[::1]x/y", "", "registry"}, Parsed{std::string(256, 'a'), "", "longer than 255"}));

TEST(ImageReference, Parts) {
  ImageReference ref;
  std::string why;
  ASSERT_TRUE(parseImageReference("index.docker.io/busybox:1@" + kDigest, &ref, &why)) << why;
  EXPECT_EQ(ref.domain, "docker.io");
  EXPECT_EQ(ref.path, "library/busybox");
  EXPECT_EQ(ref.tag, "1");
  EXPECT_EQ(ref.digest, kDigest);
  EXPECT_EQ(ref.repository(), "docker.io/library/busybox");
  ASSERT_TRUE(parseImageReference("busybox@" + kDigest, &ref, &why)) << why;
  EXPECT_EQ(ref.effectiveTag(), "");  // a digest reference has no implied tag
  ASSERT_TRUE(parseImageReference("busybox", &ref, &why)) << why;
  EXPECT_EQ(ref.tag, "");
  EXPECT_EQ(ref.effectiveTag(), "latest");
}

TEST(ImageReference, ARefusalLeavesTheOutputAlone) {
  ImageReference ref;
  ref.path = "kept";
  std::string why;
  EXPECT_FALSE(parseImageReference("Busybox", &ref, &why));
  EXPECT_EQ(ref.path, "kept");
}

TEST(ImageReference, CanonicalTextParsesToItself) {
  for (const std::string& text :
       {std::string("busybox"), std::string("team/app:1"), "localhost:5000/a/b@" + kDigest,
        std::string("[::1]:5000/app:1")}) {
    ImageReference ref, again;
    std::string why;
    ASSERT_TRUE(parseImageReference(text, &ref, &why)) << text << ": " << why;
    ASSERT_TRUE(parseImageReference(ref.canonical(), &again, &why)) << ref.canonical();
    EXPECT_EQ(again.canonical(), ref.canonical());
  }
}

struct PatternCase {
  std::string text;
  ImagePattern::Kind kind;
  std::string domain;
  std::string path;
  std::string why = "";  // set: the pattern must be refused with this in the reason
};

void PrintTo(const PatternCase& p, std::ostream* os) { *os << '"' << p.text << '"'; }

class PatternTest : public ::testing::TestWithParam<PatternCase> {};

TEST_P(PatternTest, Parses) {
  const PatternCase& p = GetParam();
  ImagePattern pattern;
  std::string why;
  const bool ok = parseImagePattern(p.text, &pattern, &why);
  if (!p.why.empty()) {
    EXPECT_FALSE(ok);
    EXPECT_NE(why.find(p.why), std::string::npos) << why;
    return;
  }
  ASSERT_TRUE(ok) << why;
  EXPECT_EQ(pattern.kind, p.kind);
  EXPECT_EQ(pattern.reference.domain, p.domain);
  EXPECT_EQ(pattern.reference.path, p.path);
}

using K = ImagePattern::Kind;

INSTANTIATE_TEST_SUITE_P(
    Forms, PatternTest,
    ::testing::Values(
        PatternCase{"busybox", K::kExact, "docker.io", "library/busybox"},
        PatternCase{"busybox@" + kDigest, K::kExact, "docker.io", "library/busybox"},
        PatternCase{"busybox:*", K::kAnyTag, "docker.io", "library/busybox"},
        PatternCase{"localhost:*", K::kAnyTag, "docker.io", "library/localhost"},
        PatternCase{"localhost:5000/app:*", K::kAnyTag, "localhost:5000", "app"},
        PatternCase{"index.docker.io/team/app:*", K::kAnyTag, "docker.io", "team/app"},
        PatternCase{"registry.example:5000/team/*", K::kTree, "registry.example:5000", "team"},
        PatternCase{"registry.example:5000/*", K::kTree, "registry.example:5000", ""},
        PatternCase{"localhost/*", K::kTree, "localhost", ""},
        PatternCase{"docker.io/*", K::kTree, "docker.io", ""},
        PatternCase{"index.docker.io/*", K::kTree, "docker.io", ""},
        PatternCase{"library/*", K::kTree, "docker.io", "library"},
        PatternCase{"team/*", K::kTree, "docker.io", "team"},
        PatternCase{"busybox/*", K::kTree, "docker.io", "busybox"},
        PatternCase{"docker.io/team/sub/*", K::kTree, "docker.io", "team/sub"},
        // A capital letter makes a first component a registry, for the engine too.
        PatternCase{"Team/*", K::kTree, "Team", ""}));

INSTANTIATE_TEST_SUITE_P(
    Refused, PatternTest,
    ::testing::Values(PatternCase{"", K::kExact, "", "", "names no repository"},
                      PatternCase{"*", K::kExact, "", "", "empty allowed_images"},
                      PatternCase{"/*", K::kExact, "", "", "must follow"},
                      PatternCase{"*/*", K::kExact, "", "", "must follow"},
                      PatternCase{"team*", K::kExact, "", "", "may only end"},
                      PatternCase{"team/*/app", K::kExact, "", "", "may only end"},
                      PatternCase{"team/*:1", K::kExact, "", "", "may only end"},
                      PatternCase{"*:1", K::kExact, "", "", "may only end"},
                      PatternCase{"busybox:1*", K::kExact, "", "", "may only end"},
                      PatternCase{"busybox@*", K::kExact, "", "", "may only end"},
                      PatternCase{"busybox:**", K::kExact, "", "", "may only end"},
                      PatternCase{"busybox:1:*", K::kExact, "", "", "not valid"},
                      PatternCase{"busybox@" + kDigest + ":*", K::kExact, "", "", "must follow"},
                      PatternCase{":*", K::kExact, "", "", "names no repository"},
                      PatternCase{"localhost/Team/*", K::kExact, "", "", "lowercase"},
                      PatternCase{"team//*", K::kExact, "", "", "empty path component"},
                      PatternCase{"team/../*", K::kExact, "", "", "\"..\""},
                      PatternCase{"../*", K::kExact, "", "", "\"..\""},
                      PatternCase{"reg..com/*", K::kExact, "", "", "registry"},
                      PatternCase{"Busybox:*", K::kExact, "", "", "lowercase"},
                      PatternCase{"busybox@sha256:abc", K::kExact, "", "", "64 lowercase"},
                      PatternCase{"sha256:" + kHex, K::kExact, "", "", "image id"}));

}  // namespace
}  // namespace wa::docker
