// Fuzzes the tar reader, which reads archives job containers produce (runtime.outputs) and
// so takes untrusted bytes: whatever they are, it must not read out of bounds, must keep no
// more than its cap of a file, and must read back exactly what the tar writer wrote.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "docker/tar_archive.h"

namespace {

void checkReader(std::string_view input, size_t cap) {
  std::vector<wa::docker::TarEntry> entries;
  std::string error;
  if (!wa::docker::readTar(input, cap, &entries, &error)) {
    if (error.empty()) std::abort();  // a refusal always says why
    return;
  }
  for (const wa::docker::TarEntry& entry : entries) {
    if (entry.content.size() > cap || entry.content.size() > entry.size) std::abort();
    if (entry.type != wa::docker::TarEntry::Type::kFile && !entry.content.empty()) std::abort();
  }
}

// Entries made from the input ("path\0content\0path\0content..."), written and read back.
void checkRoundTrip(std::string_view input) {
  std::vector<std::pair<std::string, std::string>> files;
  while (!input.empty() && files.size() < 16) {
    const size_t path_end = input.find('\0');
    const std::string_view path = input.substr(0, path_end);
    input.remove_prefix(path_end == std::string_view::npos ? input.size() : path_end + 1);
    const size_t content_end = input.find('\0');
    const std::string_view content = input.substr(0, content_end);
    input.remove_prefix(content_end == std::string_view::npos ? input.size() : content_end + 1);
    // The writer takes the normalized relative paths the job parser lets through.
    if (path.empty() || path.front() == '/' || path.find("//") != std::string_view::npos ||
        path.back() == '/' || path == "." || path.find("./") != std::string_view::npos ||
        path.find("/.") != std::string_view::npos || path.front() == '.') {
      continue;
    }
    files.emplace_back(path, content);
  }
  wa::docker::TarWriter writer;
  for (const auto& [path, content] : files) writer.addFile(path, content, 0640, 7, 9);
  const std::string tar = writer.finish();
  std::vector<wa::docker::TarEntry> entries;
  std::string error;
  if (!wa::docker::readTar(tar, SIZE_MAX, &entries, &error)) std::abort();
  if (entries.size() != files.size()) std::abort();
  for (size_t i = 0; i < files.size(); ++i) {
    const wa::docker::TarEntry& entry = entries[i];
    if (entry.type != wa::docker::TarEntry::Type::kFile || entry.path != files[i].first ||
        entry.content != files[i].second || entry.size != files[i].second.size() ||
        entry.mode != 0640 || entry.uid != 7 || entry.gid != 9) {
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] & 1) {
    checkRoundTrip(input);
  } else {
    checkReader(input, static_cast<size_t>(data[0]) * 16);
  }
  return 0;
}
