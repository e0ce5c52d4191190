// TarArchive: in-memory POSIX tar (ustar, with PAX headers for long paths) for the
// Engine API's build context and container archive endpoints. The writer makes what the
// engine reads; the reader takes what the engine writes (ustar, PAX and GNU long names).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wa::docker {

struct TarEntry {
  enum class Type { kFile, kDirectory, kSymlink, kOther };
  Type type = Type::kFile;
  std::string path;         // as stored, without a leading "./" or "/"; "" is the archive root
  std::string content;      // regular files only
  std::string link_target;  // symlinks only
  uint32_t mode = 0644;     // permission bits
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;  // the size the header declares (content may be cut short by a cap)
};

class TarWriter {
 public:
  // Appends a directory ("" or "." means the root the archive is extracted into).
  void addDirectory(std::string_view path, uint32_t mode, uint32_t uid = 0, uint32_t gid = 0);
  // Appends an entry named "/" that sets the mode and owner of the directory the archive
  // is extracted into. The engine skips a "./" entry (its name cleans to "."), but joins
  // "/" onto the destination, which is the directory itself.
  void addExtractionRoot(uint32_t mode, uint32_t uid, uint32_t gid);
  // Appends a regular file.
  void addFile(std::string_view path, std::string_view content, uint32_t mode, uint32_t uid = 0,
               uint32_t gid = 0);
  // The archive with its two terminating zero blocks. The writer is empty afterwards.
  std::string finish();
  size_t size() const { return data_.size(); }

 private:
  void addEntry(char type, std::string_view path, std::string_view content, uint32_t mode,
                uint32_t uid, uint32_t gid);
  std::string data_;
};

// Reads every entry of tar. Regular file contents beyond max_content_bytes are not kept
// (TarEntry::size still tells the full size). Returns false with *error set on a
// malformed archive (bad checksum, truncated data, an unparsable number).
bool readTar(std::string_view tar, size_t max_content_bytes, std::vector<TarEntry>* entries,
             std::string* error);

}  // namespace wa::docker
