// The body of GET /jobs/{job_id}/output: one job's output streamed to one client, first
// what the record holds, then each chunk the runner publishes, until the job ends.
#pragma once

#include <string>

#include "http/stream_writer.h"
#include "jobs/job_store.h"
#include "jobs/output_feed.h"

namespace wa::api {

// Streams job_id's output (stdout, stderr, or both) into writer; the caller checked that
// the job exists and, if it has not ended, that there is a feed to follow. The stream
// owns itself through its writer's hooks and its feed subscription and ends with them.
void streamJobOutput(const jobs::JobStore& store, jobs::OutputFeed* feed, std::string job_id,
                     bool want_stdout, bool want_stderr, http::StreamWriterPtr writer);

}  // namespace wa::api
