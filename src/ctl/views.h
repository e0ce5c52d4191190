// What `worker-agent ctl` prints for people: the worker's JSON answers turned into short
// tables (the --json form prints the answers as they came). Pure functions of parsed JSON.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ctl/checks.h"

namespace wa::ctl {

// A string or integer member of an answer: "" or 0 when the object has no such member of
// that type (an older or newer worker's answer is read as far as it goes).
std::string memberString(const rapidjson::Value& object, const char* name);
int64_t memberInt(const rapidjson::Value& object, const char* name);

// "45 s", "12 min", "3 h 05 min", "2 d 4 h".
std::string formatUptime(int64_t seconds);

// A table: the header row, then each row; every column as wide as its widest cell, two
// spaces apart, the last column not padded.
std::string formatTable(const std::vector<std::vector<std::string>>& rows);

// GET /health (and GET /info when it answered, else null) as a few labelled lines: who,
// whether it takes jobs, its jobs and slots, health, engine, host.
std::string formatStatus(const rapidjson::Value& health, const rapidjson::Value* info);

// GET /jobs as a table: job id, state, created, duration, image, result.
std::string formatJobs(const rapidjson::Value& list);

// One line per check, a fix line under each warning or failure, then a summary.
std::string formatChecks(const std::vector<CheckItem>& items);

}  // namespace wa::ctl
