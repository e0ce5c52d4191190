// The journal's SQLite VFS: the process's default one (unix), with each WAL frame written
// in one write() where SQLite makes two.
//
// SQLite appends a WAL frame as its 24-byte header, then its page, in two xWrite calls at
// adjacent offsets. On the machines the worker runs on a system call costs a microsecond
// or more, and a commit on the loop is mostly these writes: this VFS holds a frame header
// back and writes it together with the page that follows it, in one call. Nothing else
// changes. A header is held only from one xWrite to the next on the same WAL file (SQLite
// writes the page right after it); any other call on that file writes a held header first.
// A write that fails is the page's, which SQLite sees fail as it would have: the frame is
// not written, and the transaction is rolled back. So when a transaction's commit returns,
// all its frames are in the kernel, as without it.
#pragma once

namespace wa::jobs::journal_vfs {

// Registers the VFS (once, not as the default) over the default VFS of the moment each
// file is opened; its name, for sqlite3_open_v2.
const char* name();

}  // namespace wa::jobs::journal_vfs
