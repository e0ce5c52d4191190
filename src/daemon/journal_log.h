// JournalLog: sends the daemon's log events to the systemd journal as structured entries
// (sd_journal_sendv), so that `journalctl JOB_ID=...` finds one job's story. Chosen at
// start-up only when stderr is the journal's own stream (JOURNAL_STREAM), as systemd
// documents; otherwise the plain stderr lines stay.
#pragma once

#include <string>

namespace wa::daemon {

// Routes every log event to the journal with MESSAGE (the stderr line's text), PRIORITY,
// SYSLOG_IDENTIFIER=worker-agent, WORKER_ID and one field per LogFields entry. An event
// the journal does not take is written to stderr as usual.
void useJournal(std::string worker_id);

}  // namespace wa::daemon
