#include "jobs/image_supplier.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "docker/tar_archive.h"
#include "held_requests.h"

namespace wa::jobs {
namespace {

using docker::Callback;
using docker::DockerError;
using docker::ImageInfo;
using docker::StreamedResult;

// Records every engine call and lets the test answer each one when it chooses, as the
// loop would later.
struct FakeImageEngine {
  struct Pull {
    std::string reference;
    std::string auth;
    long timeout_ms;
    Callback<StreamedResult> done;
  };
  struct Build {
    std::string tag;
    std::string context;
    long timeout_ms;
    Callback<StreamedResult> done;
  };
  std::vector<std::string> present;  // references inspect finds
  std::vector<std::string> inspected;
  std::vector<Pull> pulls;
  std::vector<Build> builds;

  ImageEngine bind() {
    ImageEngine engine;
    // Answered inside the call (which the real engine never does: the supplier copes)
    // or by hand; the handles are empty, as nothing here is cancelled.
    engine.inspect = [this](const std::string& ref, const Callback<ImageInfo>& done) {
      inspected.push_back(ref);
      for (const std::string& p : present) {
        if (p == ref) {
          done(ImageInfo{"sha256:feed", {}});
          return core::RequestHandle();
        }
      }
      done(DockerError{404, "No such image: " + ref});
      return core::RequestHandle();
    };
    engine.pull = [this](const std::string& ref, const std::string& auth, long timeout,
                         Callback<StreamedResult> done) {
      pulls.push_back(Pull{ref, auth, timeout, std::move(done)});
      return core::RequestHandle();
    };
    engine.build = [this](const std::string& tag, std::string context, long timeout,
                          Callback<StreamedResult> done) {
      builds.push_back(Build{tag, std::move(context), timeout, std::move(done)});
      return core::RequestHandle();
    };
    return engine;
  }
};

struct Outcome {
  bool called = false;
  std::optional<SuppliedImage> image;
  std::optional<JobError> error;
};

ImageSupplier::Done recordInto(Outcome* out) {
  return [out](std::optional<SuppliedImage> image, std::optional<JobError> error) {
    out->called = true;
    out->image = std::move(image);
    out->error = std::move(error);
  };
}

JobSpec imageJob(std::string image) {
  JobSpec spec;
  spec.image = std::move(image);
  return spec;
}

JobSpec buildJob(std::string dockerfile, std::vector<JobFile> context = {}) {
  JobSpec spec;
  spec.runtime_mode = "build";
  spec.build = BuildSpec{std::move(dockerfile), std::move(context)};
  return spec;
}

SupplyOptions withPolicy(PullPolicy policy) {
  SupplyOptions options;
  options.pull_policy = policy;
  return options;
}

class ImageSupplierTest : public ::testing::Test {
 protected:
  core::ManualClock clock_;
  core::EventLoop loop_{clock_};
  wa::testing::HeldRequests held;
};

TEST(PullPolicy, Parses) {
  PullPolicy p;
  ASSERT_TRUE(parsePullPolicy("never", &p));
  EXPECT_EQ(p, PullPolicy::kNever);
  ASSERT_TRUE(parsePullPolicy("always", &p));
  EXPECT_EQ(p, PullPolicy::kAlways);
  ASSERT_TRUE(parsePullPolicy("missing", &p));
  EXPECT_EQ(p, PullPolicy::kMissing);
  EXPECT_FALSE(parsePullPolicy("Missing", &p));
  EXPECT_FALSE(parsePullPolicy("", &p));
}

TEST_F(ImageSupplierTest, PresentImageIsUsedWithoutPull) {
  FakeImageEngine engine;
  engine.present = {"docker.io/library/app:1"};
  ImageSupplier supplier(loop_, engine.bind(), withPolicy(PullPolicy::kMissing));
  Outcome out;
  held += supplier.supply(imageJob("app:1"), recordInto(&out));
  ASSERT_TRUE(out.called);
  ASSERT_TRUE(out.image);
  EXPECT_EQ(out.image->reference, "docker.io/library/app:1");
  EXPECT_FALSE(out.image->pulled);
  EXPECT_TRUE(engine.pulls.empty());
}

// Podman files an image built or tagged as "app:1" under localhost/app:1, where the Docker
// engine would have docker.io/library/app:1.
TEST_F(ImageSupplierTest, PodmanLocalImageIsFoundUnderLocalhost) {
  FakeImageEngine engine;
  engine.present = {"localhost/app:1", "localhost/team/tool:2"};
  ImageSupplier supplier(loop_, engine.bind(), withPolicy(PullPolicy::kNever));
  supplier.setPodman(true);
  Outcome official, user;
  held += supplier.supply(imageJob("app:1"), recordInto(&official));
  held += supplier.supply(imageJob("docker.io/team/tool:2"), recordInto(&user));
  ASSERT_TRUE(official.image && user.image);
  EXPECT_EQ(official.image->reference, "localhost/app:1");
  EXPECT_EQ(user.image->reference, "localhost/team/tool:2");
  EXPECT_FALSE(official.image->pulled);
  EXPECT_EQ(engine.inspected,
            (std::vector<std::string>{"docker.io/library/app:1", "localhost/app:1",
                                      "docker.io/team/tool:2", "localhost/team/tool:2"}));
}

TEST_F(ImageSupplierTest, LocalNameIsTriedOnlyForDockerHubAndThenPulled) {
  FakeImageEngine engine;
  ImageSupplier supplier(loop_, engine.bind(), withPolicy(PullPolicy::kMissing));
  supplier.setPodman(true);
  Outcome hub, other;
  held += supplier.supply(imageJob("app:3"), recordInto(&hub));
  held += supplier.supply(imageJob("127.0.0.1:5000/app:3"), recordInto(&other));
  EXPECT_EQ(engine.inspected,
            (std::vector<std::string>{"docker.io/library/app:3", "localhost/app:3",
                                      "127.0.0.1:5000/app:3"}));
  // Pulled under the canonical name, never the local one.
  ASSERT_EQ(engine.pulls.size(), 2u);
  EXPECT_EQ(engine.pulls[0].reference, "docker.io/library/app:3");
  EXPECT_EQ(engine.pulls[1].reference, "127.0.0.1:5000/app:3");
}

// On Docker, localhost/app:1 is an image of a registry at localhost: never a stand-in for
// docker.io/library/app:1, even when present.
TEST_F(ImageSupplierTest, DockerNeverLooksUnderLocalhost) {
  FakeImageEngine engine;
  engine.present = {"localhost/app:1"};
  ImageSupplier supplier(loop_, engine.bind(), withPolicy(PullPolicy::kNever));
  Outcome out;
  held += supplier.supply(imageJob("app:1"), recordInto(&out));
  ASSERT_TRUE(out.called);
  EXPECT_FALSE(out.image);
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->code, "IMAGE_PULL_FAILED");
  EXPECT_EQ(engine.inspected, (std::vector<std::string>{"docker.io/library/app:1"}));
}

TEST_F(ImageSupplierTest, MissingImageIsPulledOnceForConcurrentJobs) {
  FakeImageEngine engine;
  ImageSupplier supplier(loop_, engine.bind(), withPolicy(PullPolicy::kMissing));
  Outcome a, b, c;
  held += supplier.supply(imageJob("reg.example:5000/app:1"), recordInto(&a));
  held += supplier.supply(imageJob("reg.example:5000/app:1"), recordInto(&b));
  held += supplier.supply(imageJob("reg.example:5000/other:1"), recordInto(&c));
  ASSERT_EQ(engine.pulls.size(), 2u);  // one per reference
  EXPECT_EQ(supplier.inFlight(), 2u);
  EXPECT_FALSE(a.called);
  engine.pulls[0].done(StreamedResult{});
  ASSERT_TRUE(a.called && b.called);
  EXPECT_TRUE(a.image && a.image->pulled);
  EXPECT_TRUE(b.image && b.image->pulled);
  EXPECT_FALSE(c.called);
  engine.pulls[1].done(DockerError{200, "manifest for reg:5000/other:1 not found"});
  ASSERT_TRUE(c.called);
  ASSERT_TRUE(c.error);
  EXPECT_EQ(c.error->code, "IMAGE_PULL_FAILED");
  EXPECT_NE(c.error->message.find("manifest for reg:5000/other:1 not found"), std::string::npos);
  EXPECT_EQ(supplier.inFlight(), 0u);
}

TEST_F(ImageSupplierTest, NeverPolicyRefusesToPull) {
  FakeImageEngine engine;
  ImageSupplier supplier(loop_, engine.bind(), withPolicy(PullPolicy::kNever));
  Outcome out;
  held += supplier.supply(imageJob("app:2"), recordInto(&out));
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->code, "IMAGE_PULL_FAILED");
  EXPECT_NE(out.error->message.find("pull_policy is never"), std::string::npos);
  EXPECT_TRUE(engine.pulls.empty());
}

TEST_F(ImageSupplierTest, AlwaysPolicyPullsEvenWhenPresent) {
  FakeImageEngine engine;
  engine.present = {"docker.io/library/app:1"};
  SupplyOptions options = withPolicy(PullPolicy::kAlways);
  options.pull_timeout = core::Millis(1234);
  ImageSupplier supplier(loop_, engine.bind(), std::move(options));
  Outcome out;
  held += supplier.supply(imageJob("app:1"), recordInto(&out));
  ASSERT_EQ(engine.pulls.size(), 1u);
  EXPECT_EQ(engine.pulls[0].timeout_ms, 1234);
  EXPECT_TRUE(engine.inspected.empty());
  engine.pulls[0].done(StreamedResult{});
  EXPECT_TRUE(out.image && out.image->pulled);
}

TEST_F(ImageSupplierTest, InspectFailureOtherThanMissingIsADockerError) {
  FakeImageEngine engine;
  ImageEngine bound = engine.bind();
  bound.inspect = [](const std::string&, const Callback<ImageInfo>& done) {
    done(DockerError{0, "Docker engine at unix:///x: Couldn't connect to server"});
    return core::RequestHandle();
  };
  ImageSupplier supplier(loop_, std::move(bound), withPolicy(PullPolicy::kMissing));
  Outcome out;
  held += supplier.supply(imageJob("app:1"), recordInto(&out));
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->code, "DOCKER_ERROR");
  EXPECT_TRUE(engine.pulls.empty());
}

TEST_F(ImageSupplierTest, CredentialsGoOnlyToTheirRegistry) {
  std::string error;
  auto auth = RegistryAuth::parse(
      R"({"auths": {"127.0.0.1:5001": {"username": "ci", "password": "s3cret"}}})", &error);
  ASSERT_TRUE(auth) << error;
  FakeImageEngine engine;
  SupplyOptions options = withPolicy(PullPolicy::kAlways);
  options.registry_auth = *auth;
  ImageSupplier supplier(loop_, engine.bind(), std::move(options));
  Outcome a, b;
  held += supplier.supply(imageJob("127.0.0.1:5001/team/app:1"), recordInto(&a));
  held += supplier.supply(imageJob("127.0.0.1:5000/team/app:1"), recordInto(&b));
  ASSERT_EQ(engine.pulls.size(), 2u);
  EXPECT_FALSE(engine.pulls[0].auth.empty());
  EXPECT_TRUE(engine.pulls[1].auth.empty());
}

TEST_F(ImageSupplierTest, BuildTagIsAHashOfTheInputsInAnyOrder) {
  const JobFile a{"a.txt", "A", 0644};
  const JobFile b{"dir/b.sh", "B", 0755};
  const std::string one = ImageSupplier::buildContext(BuildSpec{"FROM x\n", {a, b}});
  const std::string two = ImageSupplier::buildContext(BuildSpec{"FROM x\n", {b, a}});
  EXPECT_EQ(one, two);
  const std::string tag = ImageSupplier::buildTag(one);
  EXPECT_EQ(tag.rfind("worker-agent-build:", 0), 0u);
  EXPECT_EQ(tag.size(), std::string("worker-agent-build:").size() + 64);
  // Any difference (Dockerfile, content, mode) is another image.
  EXPECT_NE(tag,
            ImageSupplier::buildTag(ImageSupplier::buildContext(BuildSpec{"FROM y\n", {a, b}})));
  EXPECT_NE(tag, ImageSupplier::buildTag(ImageSupplier::buildContext(
                     BuildSpec{"FROM x\n", {a, JobFile{"dir/b.sh", "B", 0644}}})));
  // The Dockerfile and the files are all in the context.
  std::vector<docker::TarEntry> entries;
  std::string error;
  ASSERT_TRUE(docker::readTar(one, 1 << 20, &entries, &error)) << error;
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].path, "Dockerfile");
  EXPECT_EQ(entries[0].content, "FROM x\n");
  EXPECT_EQ(entries[2].path, "dir/b.sh");
  EXPECT_EQ(entries[2].mode, 0755u);
}

TEST_F(ImageSupplierTest, IdenticalBuildIsReusedAndConcurrentOnesShareOneBuild) {
  FakeImageEngine engine;
  SupplyOptions options;
  options.build_timeout = core::Millis(999);
  ImageSupplier supplier(loop_, engine.bind(), std::move(options));
  Outcome first, second;
  held += supplier.supply(buildJob("FROM base\n"), recordInto(&first));
  held += supplier.supply(buildJob("FROM base\n"), recordInto(&second));
  ASSERT_EQ(engine.builds.size(), 1u);
  EXPECT_EQ(engine.builds[0].timeout_ms, 999);
  const std::string tag = engine.builds[0].tag;
  engine.builds[0].done(StreamedResult{"sha256:built", ""});
  ASSERT_TRUE(first.image && second.image);
  EXPECT_TRUE(first.image->built);
  EXPECT_EQ(first.image->reference, tag);
  // Later the tag exists: the third job reuses it without building.
  engine.present.push_back(tag);
  Outcome third;
  held += supplier.supply(buildJob("FROM base\n"), recordInto(&third));
  ASSERT_TRUE(third.image);
  EXPECT_FALSE(third.image->built);
  EXPECT_EQ(third.image->reference, tag);
  EXPECT_EQ(engine.builds.size(), 1u);
}

// Job after job with the same image, the engine is asked once per kKnownImageLifetime;
// the id comes with the image (what the container is created from, and reported).
TEST_F(ImageSupplierTest, KnownImageIsSuppliedWithoutAnInspectUntilItExpires) {
  FakeImageEngine engine;
  engine.present = {"docker.io/library/app:1"};
  ImageSupplier supplier(loop_, engine.bind(), withPolicy(PullPolicy::kMissing));
  Outcome first;
  held += supplier.supply(imageJob("app:1"), recordInto(&first));
  ASSERT_TRUE(first.image);
  EXPECT_EQ(first.image->image_id, "sha256:feed");
  clock_.advance(ImageSupplier::kKnownImageLifetime - core::Millis(1));
  Outcome second;
  held += supplier.supply(imageJob("docker.io/library/app:1"), recordInto(&second));
  EXPECT_FALSE(second.called);  // never inside supply()
  loop_.runOnce(0);
  ASSERT_TRUE(second.image);
  EXPECT_EQ(second.image->reference, "docker.io/library/app:1");
  EXPECT_EQ(second.image->image_id, "sha256:feed");
  EXPECT_FALSE(second.image->pulled);
  EXPECT_EQ(engine.inspected.size(), 1u);
  clock_.advance(core::Millis(1));
  Outcome third;
  held += supplier.supply(imageJob("app:1"), recordInto(&third));
  ASSERT_TRUE(third.image);
  EXPECT_EQ(engine.inspected.size(), 2u);
}

// A create from a remembered id answered 404: the id is forgotten and the pull policy
// decides again, so never still refuses an image that is gone.
TEST_F(ImageSupplierTest, ForgottenImageIsAskedForAgainUnderThePullPolicy) {
  FakeImageEngine engine;
  engine.present = {"docker.io/library/app:1"};
  ImageSupplier supplier(loop_, engine.bind(), withPolicy(PullPolicy::kNever));
  Outcome first;
  held += supplier.supply(imageJob("app:1"), recordInto(&first));
  ASSERT_TRUE(first.image);
  engine.present.clear();
  supplier.forgetImage("sha256:other");  // another image: this one is still remembered
  Outcome second;
  held += supplier.supply(imageJob("app:1"), recordInto(&second));
  loop_.runOnce(0);
  ASSERT_TRUE(second.image);
  EXPECT_EQ(engine.inspected.size(), 1u);
  supplier.forgetImage("sha256:feed");
  Outcome third;
  held += supplier.supply(imageJob("app:1"), recordInto(&third));
  ASSERT_TRUE(third.error);
  EXPECT_EQ(third.error->code, "IMAGE_PULL_FAILED");
  EXPECT_NE(third.error->message.find("pull_policy is never"), std::string::npos);
  EXPECT_EQ(engine.inspected.size(), 2u);
  EXPECT_TRUE(engine.pulls.empty());
}

// A pulled image's id is not known (the pull does not say it): the container inspect tells
// it. The pull may have moved the tag, so nothing remembered from before survives it.
TEST_F(ImageSupplierTest, PullLeavesTheIdUnknownAndForgetsTheReference) {
  FakeImageEngine engine;
  engine.present = {"docker.io/library/app:1"};
  ImageSupplier supplier(loop_, engine.bind(), withPolicy(PullPolicy::kMissing));
  Outcome first;
  held += supplier.supply(imageJob("app:1"), recordInto(&first));
  ASSERT_TRUE(first.image);
  supplier.setOptions(withPolicy(PullPolicy::kAlways));
  Outcome pulled;
  held += supplier.supply(imageJob("app:1"), recordInto(&pulled));
  ASSERT_EQ(engine.pulls.size(), 1u);
  engine.pulls[0].done(StreamedResult{});
  ASSERT_TRUE(pulled.image);
  EXPECT_TRUE(pulled.image->pulled);
  EXPECT_EQ(pulled.image->image_id, "");
  supplier.setOptions(withPolicy(PullPolicy::kMissing));
  Outcome after;
  held += supplier.supply(imageJob("app:1"), recordInto(&after));
  ASSERT_TRUE(after.image);
  EXPECT_EQ(engine.inspected.size(), 2u);
}

TEST_F(ImageSupplierTest, BuiltImageCarriesItsIdAndAKnownTagIsReusedWithoutAnInspect) {
  FakeImageEngine engine;
  ImageSupplier supplier(loop_, engine.bind(), SupplyOptions{});
  Outcome built;
  held += supplier.supply(buildJob("FROM base\n"), recordInto(&built));
  ASSERT_EQ(engine.builds.size(), 1u);
  engine.present.push_back(engine.builds[0].tag);
  engine.builds[0].done(StreamedResult{"sha256:built", ""});
  ASSERT_TRUE(built.image);
  EXPECT_EQ(built.image->image_id, "sha256:built");
  Outcome reused, again;
  held += supplier.supply(buildJob("FROM base\n"), recordInto(&reused));
  ASSERT_TRUE(reused.image);
  EXPECT_EQ(reused.image->image_id, "sha256:feed");  // what the inspect said
  held += supplier.supply(buildJob("FROM base\n"), recordInto(&again));
  loop_.runOnce(0);
  ASSERT_TRUE(again.image);
  EXPECT_FALSE(again.image->built);
  EXPECT_EQ(again.image->image_id, "sha256:feed");
  EXPECT_EQ(engine.inspected.size(), 2u);  // before the build, and once after it
}

TEST_F(ImageSupplierTest, FailedBuildIsBuildFailedWithTheEnginesAccount) {
  FakeImageEngine engine;
  ImageSupplier supplier(loop_, engine.bind(), SupplyOptions{});
  Outcome out;
  held += supplier.supply(buildJob("FROM base\nRUN false\n"), recordInto(&out));
  ASSERT_EQ(engine.builds.size(), 1u);
  engine.builds[0].done(
      DockerError{200, "The command '/bin/sh -c false' returned a non-zero code: 1\nStep 2/2"});
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->code, "BUILD_FAILED");
  EXPECT_NE(out.error->message.find("returned a non-zero code: 1"), std::string::npos);
}

}  // namespace
}  // namespace wa::jobs
