// Pieces of the systemd journal's conventions that need no libsystemd: whether stderr is
// the journal's stream, and journal field names. The sink itself is in daemon/journal_log.
#pragma once

#include <string>
#include <string_view>

namespace wa::core {

// True when journal_stream ("<st_dev>:<st_ino>", the JOURNAL_STREAM variable) names the
// file fd is open on. nullptr or a malformed value: false.
bool fdIsJournalStream(const char* journal_stream, int fd);

// A log field key as a journal field name: "job_id" -> "JOB_ID". Characters the journal
// refuses become '_', and a leading '_' or digit (reserved or invalid) gets an 'F' prefix.
std::string journalFieldName(std::string_view key);

}  // namespace wa::core
