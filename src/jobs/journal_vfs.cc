#include "jobs/journal_vfs.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

namespace wa::jobs::journal_vfs {
namespace {

constexpr const char* kName = "wa-journal";
// SQLite's WAL frame header (WAL_FRAME_HDRSIZE in its wal.c): every frame starts with one,
// and bytes 4-7 of a transaction's last frame (its commit frame) are not all zero (the
// database's size in pages after the commit; 0 in every other frame).
constexpr size_t kFrameHeader = 24;
// Frames held back at most (16 of 4 KiB pages): a bigger transaction is written in pieces
// of about this size (and a page), and the buffer keeps no more room than that.
constexpr size_t kHeldBytes = size_t{64} * 1024;

// One open file: SQLite's handle (base, whose methods are kMethods), what it wraps, and
// the WAL frames held back. The wrapped file's bytes follow, at kRealOffset.
struct File {
  sqlite3_file base;
  sqlite3_file* real;
  bool wal;                         // a WAL file: its frames are held back
  std::vector<unsigned char> held;  // frames (and a header) not yet written, contiguous
  sqlite3_int64 held_at = 0;        // where held goes in the file
  bool commit_frame = false;        // the last header held is a commit frame's
};
constexpr size_t kRealOffset = (sizeof(File) + 15) / 16 * 16;

sqlite3_vfs* realVfs() { return sqlite3_vfs_find(nullptr); }

File* self(sqlite3_file* file) { return reinterpret_cast<File*>(file); }
sqlite3_file* real(sqlite3_file* file) { return self(file)->real; }
const sqlite3_io_methods* realMethods(sqlite3_file* file) { return real(file)->pMethods; }

// Writes what is held, in one call; SQLite's result code (SQLITE_OK when nothing was).
int flush(sqlite3_file* file) {
  File* f = self(file);
  if (f->held.empty()) return SQLITE_OK;
  const int rc = realMethods(file)->xWrite(f->real, f->held.data(),
                                           static_cast<int>(f->held.size()), f->held_at);
  f->held.clear();
  return rc;
}

int write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  File* f = self(file);
  const auto size = static_cast<size_t>(amount);
  const bool follows = offset == f->held_at + static_cast<sqlite3_int64>(f->held.size());
  // Anything but the next bytes of what is held (SQLite writes a frame again in place, or
  // the WAL's own header): what is held goes first.
  if (!f->held.empty() && !follows) {
    if (const int rc = flush(file); rc != SQLITE_OK) return rc;
  }
  const bool header = f->wal && size == kFrameHeader;
  if (header || !f->held.empty()) {
    // A frame header starts or continues what is held; a page follows its header.
    if (f->held.empty()) f->held_at = offset;
    const auto* bytes = static_cast<const unsigned char*>(data);
    f->held.insert(f->held.end(), bytes, bytes + size);
    if (header) {
      f->commit_frame = bytes[4] != 0 || bytes[5] != 0 || bytes[6] != 0 || bytes[7] != 0;
      return SQLITE_OK;
    }
    // A page: written now with everything held when it ends its transaction (whose commit
    // then fails if the write does) or the room is used up; otherwise held.
    return f->commit_frame || f->held.size() >= kHeldBytes ? flush(file) : SQLITE_OK;
  }
  return realMethods(file)->xWrite(f->real, data, amount, offset);
}

// Every other method: what is held first, where the method can say it failed.
template <typename... Params, typename... Args>
int forward(sqlite3_file* file, int (*sqlite3_io_methods::*method)(sqlite3_file*, Params...),
            Args... args) {
  if (const int rc = flush(file); rc != SQLITE_OK) return rc;
  auto call = realMethods(file)->*method;
  return call != nullptr ? call(real(file), args...) : SQLITE_IOERR;
}

int close(sqlite3_file* file) {
  const int flushed = flush(file);
  const int closed = realMethods(file)->xClose(real(file));
  self(file)->~File();
  return flushed != SQLITE_OK ? flushed : closed;
}

const sqlite3_io_methods kMethods = {
    3,
    close,
    [](sqlite3_file* f, void* buf, int amt, sqlite3_int64 at) {
      return forward(f, &sqlite3_io_methods::xRead, buf, amt, at);
    },
    write,
    [](sqlite3_file* f, sqlite3_int64 size) {
      return forward(f, &sqlite3_io_methods::xTruncate, size);
    },
    [](sqlite3_file* f, int flags) { return forward(f, &sqlite3_io_methods::xSync, flags); },
    [](sqlite3_file* f, sqlite3_int64* size) {
      return forward(f, &sqlite3_io_methods::xFileSize, size);
    },
    [](sqlite3_file* f, int level) { return forward(f, &sqlite3_io_methods::xLock, level); },
    [](sqlite3_file* f, int level) { return forward(f, &sqlite3_io_methods::xUnlock, level); },
    [](sqlite3_file* f, int* out) {
      return forward(f, &sqlite3_io_methods::xCheckReservedLock, out);
    },
    [](sqlite3_file* f, int op, void* arg) {
      return forward(f, &sqlite3_io_methods::xFileControl, op, arg);
    },
    [](sqlite3_file* f) { return realMethods(f)->xSectorSize(real(f)); },
    [](sqlite3_file* f) { return realMethods(f)->xDeviceCharacteristics(real(f)); },
    [](sqlite3_file* f, int page, int size, int extend, void volatile** out) {
      return forward(f, &sqlite3_io_methods::xShmMap, page, size, extend, out);
    },
    [](sqlite3_file* f, int offset, int n, int flags) {
      return forward(f, &sqlite3_io_methods::xShmLock, offset, n, flags);
    },
    [](sqlite3_file* f) {
      if (realMethods(f)->iVersion >= 2 && realMethods(f)->xShmBarrier != nullptr) {
        realMethods(f)->xShmBarrier(real(f));
      }
    },
    [](sqlite3_file* f, int remove) { return forward(f, &sqlite3_io_methods::xShmUnmap, remove); },
    [](sqlite3_file* f, sqlite3_int64 at, int amt, void** out) {
      if (realMethods(f)->iVersion < 3) {
        *out = nullptr;  // "no mapping": SQLite reads instead
        return SQLITE_OK;
      }
      return forward(f, &sqlite3_io_methods::xFetch, at, amt, out);
    },
    [](sqlite3_file* f, sqlite3_int64 at, void* p) {
      if (realMethods(f)->iVersion < 3) return SQLITE_OK;
      return forward(f, &sqlite3_io_methods::xUnfetch, at, p);
    },
};

int open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  sqlite3_vfs* under = realVfs();
  if (under == vfs ||
      static_cast<size_t>(under->szOsFile) + kRealOffset > static_cast<size_t>(vfs->szOsFile)) {
    return SQLITE_CANTOPEN;  // not one it was sized for
  }
  File* f = new (file) File{};
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kRealOffset);
  f->wal = (flags & SQLITE_OPEN_WAL) != 0;
  const int rc = under->xOpen(under, name, f->real, flags, out_flags);
  // SQLite calls xClose (which ends f) on a file whose open failed only when pMethods is
  // set.
  f->base.pMethods = f->real->pMethods != nullptr ? &kMethods : nullptr;
  if (f->base.pMethods == nullptr) f->~File();
  return rc;
}

sqlite3_vfs makeVfs() {
  sqlite3_vfs* under = realVfs();
  sqlite3_vfs vfs{};
  vfs.iVersion = 2;  // not the system-call overrides of version 3: nothing here uses them
  // Room for the default VFS's files, and some: a test may put a VFS of its own there.
  vfs.szOsFile = static_cast<int>(kRealOffset) + std::max(under->szOsFile, 1024);
  vfs.mxPathname = under->mxPathname;
  vfs.zName = kName;
  vfs.xOpen = open;
  vfs.xDelete = [](sqlite3_vfs*, const char* n, int sync) {
    return realVfs()->xDelete(realVfs(), n, sync);
  };
  vfs.xAccess = [](sqlite3_vfs*, const char* n, int flags, int* out) {
    return realVfs()->xAccess(realVfs(), n, flags, out);
  };
  vfs.xFullPathname = [](sqlite3_vfs*, const char* n, int size, char* out) {
    return realVfs()->xFullPathname(realVfs(), n, size, out);
  };
  vfs.xDlOpen = [](sqlite3_vfs*, const char* n) { return realVfs()->xDlOpen(realVfs(), n); };
  vfs.xDlError = [](sqlite3_vfs*, int size, char* out) {
    realVfs()->xDlError(realVfs(), size, out);
  };
  vfs.xDlSym = [](sqlite3_vfs*, void* h, const char* s) {
    return realVfs()->xDlSym(realVfs(), h, s);
  };
  vfs.xDlClose = [](sqlite3_vfs*, void* h) { realVfs()->xDlClose(realVfs(), h); };
  vfs.xRandomness = [](sqlite3_vfs*, int size, char* out) {
    return realVfs()->xRandomness(realVfs(), size, out);
  };
  vfs.xSleep = [](sqlite3_vfs*, int us) { return realVfs()->xSleep(realVfs(), us); };
  vfs.xCurrentTime = [](sqlite3_vfs*, double* out) {
    return realVfs()->xCurrentTime(realVfs(), out);
  };
  vfs.xGetLastError = [](sqlite3_vfs*, int size, char* out) {
    return realVfs()->xGetLastError(realVfs(), size, out);
  };
  vfs.xCurrentTimeInt64 = [](sqlite3_vfs*, sqlite3_int64* out) {
    return realVfs()->iVersion >= 2 && realVfs()->xCurrentTimeInt64 != nullptr
               ? realVfs()->xCurrentTimeInt64(realVfs(), out)
               : SQLITE_ERROR;
  };
  return vfs;
}

}  // namespace

const char* name() {
  static sqlite3_vfs vfs;
  static std::once_flag registered;
  std::call_once(registered, [] {
    vfs = makeVfs();
    sqlite3_vfs_register(&vfs, 0);
  });
  return kName;
}

}  // namespace wa::jobs::journal_vfs
