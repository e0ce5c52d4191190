#include "core/journal_stream.h"

#include <sys/stat.h>

#include <charconv>

namespace wa::core {

bool fdIsJournalStream(const char* journal_stream, int fd) {
  if (journal_stream == nullptr) return false;
  const std::string_view text(journal_stream);
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) return false;
  unsigned long long dev = 0;
  unsigned long long ino = 0;
  const auto a = std::from_chars(text.data(), text.data() + colon, dev);
  const auto b = std::from_chars(text.data() + colon + 1, text.data() + text.size(), ino);
  if (a.ec != std::errc() || a.ptr != text.data() + colon || b.ec != std::errc() ||
      b.ptr != text.data() + text.size()) {
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) return false;
  // A child that inherited JOURNAL_STREAM but had stderr redirected must not use the
  // journal: only the very stream systemd connected counts.
  return static_cast<unsigned long long>(st.st_dev) == dev &&
         static_cast<unsigned long long>(st.st_ino) == ino;
}

std::string journalFieldName(std::string_view key) {
  std::string name;
  for (char c : key) {
    if (c >= 'a' && c <= 'z') {
      name += static_cast<char>(c - 'a' + 'A');
    } else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') {
      name += c;
    } else {
      name += '_';
    }
  }
  if (name.empty() || name.front() == '_' || (name.front() >= '0' && name.front() <= '9'))
    name = "F" + name;
  // The journal caps field names at 64 bytes.
  if (name.size() > 64) name.resize(64);
  return name;
}

}  // namespace wa::core
