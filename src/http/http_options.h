// HttpServerOptions: the limits and deadlines every connection of the server keeps to.
#pragma once

#include <cstddef>

#include "core/clock.h"

namespace wa::http {

struct HttpServerOptions {
  size_t max_header_bytes = size_t{16} * 1024;      // request line + headers; over it: 431
  size_t max_body_bytes = size_t{8} * 1024 * 1024;  // over it: 413
  core::Millis header_timeout{10'000};              // to receive a whole request head
  core::Millis idle_timeout{60'000};                // keep-alive connection with nothing pending
  size_t max_connections = 10'000;                  // excess connections get 503 and are closed
  // A request body must come in at min_body_rate bytes a second on average, after a
  // first body_timeout (and with no gap of idle_timeout): trickling it cannot hold a
  // connection for ever. 0 = no rate.
  core::Millis body_timeout{20'000};
  size_t min_body_rate = 1024;
  // Output a streamed response may have waiting for one client; a write past it
  // disconnects that client (it is not reading) rather than buffer without bound.
  size_t max_stream_buffer_bytes = size_t{1024} * 1024;
};

}  // namespace wa::http
