// How a job is written into the journal and read back: the validated spec (what the
// master asked for, with the defaults that applied at submission), and the record of
// what the run learnt (state, times, exit code, error, output files, image, isolation).
// JSON through RapidJSON, bytes as base64; stdout and stderr are kept apart, as raw
// bytes, by the journal. Pure: no files, no loop.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "jobs/job.h"
#include "jobs/job_runner.h"

namespace wa::jobs {

// The spec without job_json (the journal keeps the request bytes in a column of their own).
std::string encodeSpec(const JobSpec& spec);
// false (and *error) when text is not a spec encodeSpec wrote.
bool decodeSpec(std::string_view text, JobSpec* spec, std::string* error);

// What the run learnt, without stdout and stderr's bytes (their flags and totals are in);
// with outcome, its exit code, OOM flag and error stand for the job's own (a run whose
// outcome is known before the scheduler has applied it).
std::string encodeRecord(const Job& job, const JobOutcome* outcome = nullptr);
// Fills job's learnt fields from text; false (and *error) when text is not a record.
bool decodeRecord(std::string_view text, Job* job, std::string* error);

}  // namespace wa::jobs
