// Where `worker-agent ctl` reaches the worker.
#include "ctl/worker_endpoint.h"

#include <gtest/gtest.h>

namespace wa::ctl {
namespace {

TEST(WorkerEndpointTest, OptionsThenTheUnixSocketThenTheListenAddress) {
  CtlOptions options;
  config::Config config;
  EXPECT_EQ(workerEndpoint(options, nullptr).url_base, "http://127.0.0.1:9000");
  EXPECT_EQ(workerEndpoint(options, &config).url_base, "http://127.0.0.1:9000");  // 0.0.0.0
  config.listen = "::";
  config.port = 9100;
  EXPECT_EQ(workerEndpoint(options, &config).url_base, "http://[::1]:9100");
  config.listen = "10.0.0.5";
  EXPECT_EQ(workerEndpoint(options, &config).url_base, "http://10.0.0.5:9100");
  config.listen_unix = "/run/worker-agent/api.sock";
  const Endpoint unix_socket = workerEndpoint(options, &config);
  EXPECT_EQ(unix_socket.unix_path, "/run/worker-agent/api.sock");
  EXPECT_EQ(unix_socket.where(), "unix socket /run/worker-agent/api.sock");
  options.url = "http://127.0.0.1:9000";
  EXPECT_EQ(workerEndpoint(options, &config).url_base, "http://127.0.0.1:9000");
  EXPECT_EQ(workerEndpoint(options, &config).unix_path, "");
  options.url.clear();
  options.socket_path = "/tmp/other.sock";
  EXPECT_EQ(workerEndpoint(options, nullptr).unix_path, "/tmp/other.sock");
  // The TCP address alone, whatever listen_unix says (check's listen address).
  EXPECT_EQ(tcpEndpoint(config).url_base, "http://10.0.0.5:9100");
}

}  // namespace
}  // namespace wa::ctl
