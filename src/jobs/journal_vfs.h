// The journal's SQLite VFS: the process's default one (unix), with the WAL frames of a
// transaction written in one write() where SQLite makes two a frame.
//
// SQLite appends a WAL frame as its 24-byte header, then its page, in two xWrite calls at
// adjacent offsets. On the machines the worker runs on a system call costs a microsecond
// or more, and a commit on the loop is mostly these writes. This VFS holds a transaction's
// frames back and writes them in one call when the page of its last frame (the commit
// frame, which its header marks) comes, or once 64 KiB are held; any other call on the
// WAL file (a read, a sync, a write elsewhere, a close) writes what is held first. The
// write that carries a commit frame returns the result for all it carries: when it fails,
// SQLite sees its commit fail, and rolls the transaction back, as it would have. So when
// a transaction's commit returns, all its frames are in the kernel, as without it; frames
// SQLite spills before its commit are read back through the same file, which writes them
// first. Nothing else changes.
#pragma once

namespace wa::jobs::journal_vfs {

// Registers the VFS (once, not as the default) over the default VFS of the moment each
// file is opened; its name, for sqlite3_open_v2.
const char* name();

}  // namespace wa::jobs::journal_vfs
