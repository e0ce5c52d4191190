// How a job looks in the protocol's JSON: the summary every view shares, the full record
// of GET /jobs/{job_id}, the answer for an unknown id, and a rejected submission.
#pragma once

#include <optional>
#include <string>

#include "api/job_request_parser.h"
#include "api/json_fields.h"
#include "http/http_request.h"
#include "jobs/job.h"

namespace wa::api {

// {"code", "message"}, or null.
void jobError(json::Writer& w, const std::optional<jobs::JobError>& error);
// The members every view of a job shares: job_id, state, the times, exit_code, error,
// task_type, image, duration_ms.
void jobSummary(json::Writer& w, const jobs::Job& job);
// The members of GET /jobs/{job_id} (without queue_position): the summary, the output
// (with_base64: also stdout_base64 and stderr_base64), limits, image, isolation, outputs.
void jobRecord(json::Writer& w, const jobs::Job& job, bool with_base64);
// 404 {"job_id": ..., "state": "not_found"}.
http::HttpResponse jobNotFound(const std::string& job_id);
// {"accepted": false, "job_id", "state": "rejected", "error": {...}} with its status.
http::HttpResponse jobRejected(const Rejection& rejection);

}  // namespace wa::api
