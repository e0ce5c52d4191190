// A test's view of what SQLite asks of the file system: the default VFS, wrapped while a
// CountingVfs lives (it is the default then). It counts syncs and locks (of database files
// and of the WAL index) made on the thread that created it (the test's, which runs the
// loop) and on the others, records the sizes of the writes that reach WAL files, and can
// make those writes fail as a full disk does.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace wa::jobs {

class CountingVfs {
 public:
  CountingVfs() : loop_thread_(std::this_thread::get_id()) {
    real_ = sqlite3_vfs_find(nullptr);
    vfs_ = *real_;
    vfs_.zName = "wa-counting";
    vfs_.pAppData = this;
    vfs_.xOpen = &CountingVfs::open;
    instance_ = this;
    sqlite3_vfs_register(&vfs_, 1);
  }
  ~CountingVfs() {
    sqlite3_vfs_unregister(&vfs_);
    sqlite3_vfs_register(real_, 1);
    instance_ = nullptr;
  }
  CountingVfs(const CountingVfs&) = delete;
  CountingVfs& operator=(const CountingVfs&) = delete;

  struct Counts {
    std::atomic<int> on_loop{0};
    std::atomic<int> elsewhere{0};
  };
  Counts syncs;
  Counts locks;  // xLock, xUnlock, xShmLock

  // While set, a write to a WAL file fails with SQLITE_FULL and writes nothing.
  std::atomic<bool> fail_wal_writes{false};
  // The size of each write that reached a WAL file, in order.
  std::vector<int> walWrites() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return wal_writes_;
  }

 private:
  static int open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags,
                  int* out_flags) {
    auto* self = static_cast<CountingVfs*>(vfs->pAppData);
    const int rc = self->real_->xOpen(self->real_, name, file, flags, out_flags);
    if (rc != SQLITE_OK || file->pMethods == nullptr) return rc;
    std::lock_guard<std::mutex> lock(self->mutex_);
    if ((flags & SQLITE_OPEN_WAL) != 0) self->wal_files_.insert(file);
    auto& methods = self->methods_[file->pMethods];
    if (!methods) {
      methods = std::make_unique<sqlite3_io_methods>(*file->pMethods);
      self->real_methods_[methods.get()] = file->pMethods;
      methods->xClose = [](sqlite3_file* f) {
        {
          std::lock_guard<std::mutex> lock(instance_->mutex_);
          instance_->wal_files_.erase(f);
        }
        return real(f)->xClose(f);
      };
      methods->xWrite = [](sqlite3_file* f, const void* data, int amount, sqlite3_int64 at) {
        {
          std::lock_guard<std::mutex> lock(instance_->mutex_);
          if (instance_->wal_files_.count(f) != 0) {
            if (instance_->fail_wal_writes) return SQLITE_FULL;
            instance_->wal_writes_.push_back(amount);
          }
        }
        return real(f)->xWrite(f, data, amount, at);
      };
      methods->xSync = [](sqlite3_file* f, int flags) {
        return counted(f, instance_->syncs)->xSync(f, flags);
      };
      methods->xLock = [](sqlite3_file* f, int level) {
        return counted(f, instance_->locks)->xLock(f, level);
      };
      methods->xUnlock = [](sqlite3_file* f, int level) {
        return counted(f, instance_->locks)->xUnlock(f, level);
      };
      if (methods->iVersion >= 2 && methods->xShmLock != nullptr) {
        methods->xShmLock = [](sqlite3_file* f, int offset, int n, int flags) {
          return counted(f, instance_->locks)->xShmLock(f, offset, n, flags);
        };
      }
    }
    file->pMethods = methods.get();
    return rc;
  }
  // The real methods of file.
  static const sqlite3_io_methods* real(sqlite3_file* file) {
    std::lock_guard<std::mutex> lock(instance_->mutex_);
    return instance_->real_methods_.at(file->pMethods);
  }
  // Likewise, with a call counted in counts, on the thread it comes from.
  static const sqlite3_io_methods* counted(sqlite3_file* file, Counts& counts) {
    (std::this_thread::get_id() == instance_->loop_thread_ ? counts.on_loop : counts.elsewhere)++;
    return real(file);
  }

  static inline CountingVfs* instance_ = nullptr;
  const std::thread::id loop_thread_;
  sqlite3_vfs* real_;
  sqlite3_vfs vfs_;
  mutable std::mutex mutex_;
  std::map<const sqlite3_io_methods*, std::unique_ptr<sqlite3_io_methods>> methods_;
  std::map<const sqlite3_io_methods*, const sqlite3_io_methods*> real_methods_;
  std::set<const sqlite3_file*> wal_files_;
  std::vector<int> wal_writes_;
};

}  // namespace wa::jobs
