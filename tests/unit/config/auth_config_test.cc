// The access keys: auth_token, auth_token_file (read by the loader), auth_open_paths and
// listen_unix. A token never appears in an error message.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "config/config_key.h"
#include "config/config_loader.h"
#include "config_test_util.h"

namespace wa::config {
namespace {

using testing::loadError;
using testing::loadOk;

// A token file in a fresh directory, removed with the test.
class TokenFile {
 public:
  explicit TokenFile(const std::string& content) {
    char pattern[] = "/tmp/wa-token-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) std::abort();
    dir_ = pattern;
    path_ = dir_ + "/token";
    std::ofstream(path_, std::ios::binary) << content;
  }
  ~TokenFile() {
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
};

constexpr const char* kToken = "s3cr3t-t0ken-for-the-tests";

TEST(AuthConfigTest, TokenIsOffByDefaultAndMayBeSetEmpty) {
  EXPECT_EQ(loadOk("").auth_token, "");
  EXPECT_EQ(loadOk("auth_token: \"\"").auth_token, "");
  EXPECT_EQ(loadOk("", {{"WORKER_AGENT_AUTH_TOKEN", ""}}).auth_token, "");
}

TEST(AuthConfigTest, TokenBounds) {
  EXPECT_EQ(loadOk("auth_token: " + std::string(16, 'a')).auth_token.size(), 16u);
  EXPECT_EQ(loadOk("auth_token: " + std::string(4096, 'a')).auth_token.size(), 4096u);
  EXPECT_EQ(loadError("auth_token: " + std::string(15, 'a')).message,
            "must be 16 to 4096 bytes, got 15");
  EXPECT_EQ(loadError("auth_token: " + std::string(4097, 'a')).message,
            "must be 16 to 4096 bytes, got 4097");
  // Every visible ASCII character is fine, base64 and hex alike.
  const std::string punctuation = "!#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~";
  EXPECT_EQ(loadOk("auth_token: \"" + punctuation + "\"").auth_token, punctuation);
}

// Bytes 0x7f-0xff are refused whatever char's signedness (signed on x86, unsigned on arm64,
// where `make test-arm64` runs this): a test written for one must not pass the other by luck.
TEST(AuthConfigTest, NonAsciiBytesAreRefusedOnEveryArchitecture) {
  for (const char* bad : {"\x7f", "\x80", "\xc3\xa9", "\xff"}) {
    const std::string token = std::string(kToken) + bad;
    const ConfigError e = loadError("", {{"WORKER_AGENT_AUTH_TOKEN", token}});
    EXPECT_EQ(e.message,
              "must be visible ASCII characters only (no spaces, tabs, control characters or "
              "non-ASCII bytes)")
        << static_cast<int>(static_cast<unsigned char>(bad[0]));
  }
}

TEST(AuthConfigTest, ErrorsNeverQuoteTheToken) {
  for (const std::string& bad :
       {std::string("secret-marker"), std::string("secret-marker with space"),
        std::string("secret-marker-\x01-control-char")}) {
    const ConfigError file_error = loadError("auth_token: \"" + bad + "\"");
    EXPECT_EQ(file_error.format().find("secret-marker"), std::string::npos) << file_error.format();
    const ConfigError env_error = loadError("", {{"WORKER_AGENT_AUTH_TOKEN", bad}});
    EXPECT_EQ(env_error.key, "WORKER_AGENT_AUTH_TOKEN");
    EXPECT_EQ(env_error.format().find("secret-marker"), std::string::npos) << env_error.format();
  }
}

TEST(AuthConfigTest, TokenFileIsReadIntoTheToken) {
  const TokenFile file(std::string(kToken) + "\n");
  const Config c = loadOk("auth_token_file: " + file.path());
  EXPECT_EQ(c.auth_token_file, file.path());
  EXPECT_EQ(c.auth_token, kToken);  // the newline is not part of it
  const Config from_env = loadOk("", {{"WORKER_AGENT_AUTH_TOKEN_FILE", file.path()}});
  EXPECT_EQ(from_env.auth_token, kToken);
  EXPECT_EQ(loadOk("", {}).auth_token, "");
}

TEST(AuthConfigTest, TokenFileLineEndingsAreStripped) {
  for (const char* ending : {"", "\n", "\r\n", "\n\n"}) {
    const TokenFile file(std::string(kToken) + ending);
    EXPECT_EQ(loadOk("auth_token_file: " + file.path()).auth_token, kToken) << ending;
  }
}

TEST(AuthConfigTest, BadTokenFilesAreErrorsThatNameThePathOnly) {
  const TokenFile empty("\n");
  ConfigError e = loadError("auth_token_file: " + empty.path());
  EXPECT_EQ(e.key, "auth_token_file");
  EXPECT_EQ(e.line, 1);
  EXPECT_EQ(e.message, "the token in " + empty.path() + " must be 16 to 4096 bytes, got 0");

  const TokenFile spaced("secret-marker and more words\n");
  e = loadError("auth_token_file: " + spaced.path());
  EXPECT_EQ(e.message, "the token in " + spaced.path() +
                           " must be visible ASCII characters only (no spaces, tabs, control "
                           "characters or non-ASCII bytes)");
  EXPECT_EQ(e.format().find("secret-marker"), std::string::npos);

  const TokenFile two_lines(std::string(kToken) + "\nsecond-line-marker\n");
  e = loadError("auth_token_file: " + two_lines.path());
  EXPECT_NE(e.message.find("must be visible ASCII"), std::string::npos) << e.message;
  EXPECT_EQ(e.format().find(kToken), std::string::npos);

  e = loadError("auth_token_file: /nonexistent/wa-token");
  EXPECT_EQ(e.message, "cannot read /nonexistent/wa-token: No such file or directory");
  e = loadError("", {{"WORKER_AGENT_AUTH_TOKEN_FILE", "/nonexistent/wa-token"}});
  EXPECT_EQ(e.format(),
            "environment: WORKER_AGENT_AUTH_TOKEN_FILE: cannot read /nonexistent/wa-token: No "
            "such file or directory");
}

TEST(AuthConfigTest, TokenAndTokenFileTogetherAreAnError) {
  const TokenFile file(kToken);
  const ConfigError e =
      loadError("auth_token: another-token-0123456789\nauth_token_file: " + file.path());
  EXPECT_EQ(e.key, "auth_token_file");
  EXPECT_EQ(e.line, 2);
  EXPECT_EQ(e.message, "auth_token is set as well; set only one of them");
  // An empty auth_token is no token: the environment can clear the file's.
  const Config c =
      loadOk("auth_token: another-token-0123456789\n",
             {{"WORKER_AGENT_AUTH_TOKEN", ""}, {"WORKER_AGENT_AUTH_TOKEN_FILE", file.path()}});
  EXPECT_EQ(c.auth_token, kToken);
}

TEST(AuthConfigTest, OpenPaths) {
  EXPECT_TRUE(loadOk("auth_open_paths: []").auth_open_paths.empty());
  EXPECT_EQ(loadOk("auth_open_paths: [/health, /info, /metrics]").auth_open_paths.size(), 3u);
  EXPECT_TRUE(loadOk("", {{"WORKER_AGENT_AUTH_OPEN_PATHS", ""}}).auth_open_paths.empty());
  EXPECT_EQ(loadError("", {{"WORKER_AGENT_AUTH_OPEN_PATHS", "/health,/jobs/{job_id}"}}).message,
            "item 2: must be one of /health, /info, /metrics, got \"/jobs/{job_id}\"");
  EXPECT_NE(loadError("auth_open_paths: [/health/]").message, "");
  EXPECT_NE(loadError("auth_open_paths: /health").message, "");  // a list, not a string
}

TEST(AuthConfigTest, UnixSocketPath) {
  EXPECT_EQ(loadOk("listen_unix: \"\"").listen_unix, "");
  const std::string longest = "/" + std::string(106, 'a');
  EXPECT_EQ(loadOk("listen_unix: " + longest).listen_unix, longest);
  EXPECT_EQ(loadError("listen_unix: " + longest + "a").message,
            "must be at most 107 bytes (the limit of a unix socket address), got 108");
}

}  // namespace
}  // namespace wa::config
