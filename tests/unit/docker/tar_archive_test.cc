#include "docker/tar_archive.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace wa::docker {
namespace {

namespace fs = std::filesystem;

constexpr size_t kNoCap = 1 << 20;

std::vector<TarEntry> read(const std::string& tar, size_t cap = kNoCap) {
  std::vector<TarEntry> entries;
  std::string error;
  EXPECT_TRUE(readTar(tar, cap, &entries, &error)) << error;
  return entries;
}

std::string readError(const std::string& tar) {
  std::vector<TarEntry> entries;
  std::string error;
  EXPECT_FALSE(readTar(tar, kNoCap, &entries, &error));
  EXPECT_FALSE(error.empty());
  return error;
}

// Recomputes the checksum of the header at offset after a test edited it.
void fixChecksum(std::string& tar, size_t offset) {
  unsigned sum = 0;
  for (size_t i = 0; i < 512; ++i) {
    sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(tar[offset + i]);
  }
  char field[8];
  std::snprintf(field, sizeof field, "%06o", sum);
  tar.replace(offset + 148, 6, field, 6);
  tar[offset + 154] = '\0';
  tar[offset + 155] = ' ';
}

std::string longPath(size_t length) {
  // Components of 9 characters and a '/', so ustar's prefix split has places to cut.
  std::string path;
  while (path.size() + 10 < length) path += "directory/";
  path += std::string(length - path.size(), 'f');
  return path;
}

TEST(TarArchive, RoundTripsFilesAndDirectories) {
  TarWriter writer;
  writer.addDirectory("", 0755, 65534, 65534);
  writer.addDirectory("src/", 0700);
  writer.addFile("src/main.py", "print('hi')\n", 0755, 1000, 1001);
  const std::string binary("a\0b\0\0c\xff", 7);
  writer.addFile("./data.bin", binary, 0600);
  writer.addFile("empty", "", 0644);
  writer.addFile("exactly-512", std::string(512, 'x'), 0644);
  const std::string tar = writer.finish();
  EXPECT_EQ(writer.size(), 0u);
  EXPECT_EQ(tar.size() % 512, 0u);

  const auto entries = read(tar);
  ASSERT_EQ(entries.size(), 6u);
  EXPECT_EQ(entries[0].type, TarEntry::Type::kDirectory);
  EXPECT_EQ(entries[0].path, "");
  EXPECT_EQ(entries[0].mode, 0755u);
  EXPECT_EQ(entries[0].uid, 65534u);
  EXPECT_EQ(entries[0].gid, 65534u);
  EXPECT_EQ(entries[1].type, TarEntry::Type::kDirectory);
  EXPECT_EQ(entries[1].path, "src");
  EXPECT_EQ(entries[1].mode, 0700u);
  EXPECT_EQ(entries[2].type, TarEntry::Type::kFile);
  EXPECT_EQ(entries[2].path, "src/main.py");
  EXPECT_EQ(entries[2].content, "print('hi')\n");
  EXPECT_EQ(entries[2].mode, 0755u);
  EXPECT_EQ(entries[2].uid, 1000u);
  EXPECT_EQ(entries[2].gid, 1001u);
  EXPECT_EQ(entries[3].path, "data.bin");
  EXPECT_EQ(entries[3].content, binary);
  EXPECT_EQ(entries[3].size, 7u);
  EXPECT_EQ(entries[4].path, "empty");
  EXPECT_EQ(entries[4].content, "");
  EXPECT_EQ(entries[5].content, std::string(512, 'x'));
}

TEST(TarArchive, ExtractionRootIsAnEntryNamedSlash) {
  TarWriter writer;
  writer.addExtractionRoot(0755, 65534, 65534);
  writer.addFile("a", "A", 0644);
  const std::string tar = writer.finish();
  // The name field of the first header holds exactly "/".
  EXPECT_EQ(tar.substr(0, 2), std::string("/\0", 2));
  EXPECT_EQ(tar[156], '5');
  const auto entries = read(tar);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].type, TarEntry::Type::kDirectory);
  EXPECT_EQ(entries[0].path, "");  // the reader sees the root, as for "./"
  EXPECT_EQ(entries[0].uid, 65534u);
}

TEST(TarArchive, HeadersAreUstarWithFixedTimesAndNoOwnerNames) {
  TarWriter writer;
  writer.addDirectory(".", 0755);
  writer.addDirectory("dir", 0755);
  writer.addFile("f", "x", 0644);
  const std::string tar = writer.finish();
  ASSERT_EQ(tar.size(), 6u * 512);  // three headers, one data block, two end blocks
  EXPECT_EQ(tar.substr(0, 3), std::string("./\0", 3));
  EXPECT_EQ(tar[156], '5');
  EXPECT_EQ(tar.substr(512, 5), std::string("dir/\0", 5));
  EXPECT_EQ(tar[1024 + 156], '0');
  for (size_t header : {0u, 512u, 1024u}) {
    EXPECT_EQ(tar.substr(header + 257, 8), std::string("ustar\0"
                                                       "00",
                                                       8));
    EXPECT_EQ(tar.substr(header + 136, 12), std::string("00000000000\0", 12));  // mtime
    EXPECT_EQ(tar.substr(header + 265, 64), std::string(64, '\0'));             // uname, gname
  }
  EXPECT_EQ(tar.substr(1024 + 124, 12), std::string("00000000001\0", 12));
  EXPECT_EQ(tar.substr(1024 + 100, 8), std::string("0000644\0", 8));
  EXPECT_EQ(tar.substr(size_t{4} * 512), std::string(size_t{2} * 512, '\0'));
}

TEST(TarArchive, TheSameFilesGiveTheSameBytes) {
  auto make = [] {
    TarWriter writer;
    writer.addDirectory("", 0755);
    writer.addFile("Dockerfile", "FROM scratch\n", 0644);
    writer.addFile(longPath(300), "deep", 0644);
    return writer.finish();
  };
  EXPECT_EQ(make(), make());
}

TEST(TarArchive, PathsOver100BytesUseTheUstarPrefix) {
  const std::string path = longPath(180);
  TarWriter writer;
  writer.addFile(path, "content", 0644);
  const std::string tar = writer.finish();
  ASSERT_EQ(tar.size(), 4u * 512);  // no PAX header: one header, one data block, the end
  EXPECT_EQ(tar[156], '0');
  const auto entries = read(tar);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].path, path);
  EXPECT_EQ(entries[0].content, "content");

  // The limits: a 100-byte name fills its field; 155 + '/' + 100 fills prefix and name.
  const std::string name100(100, 'n');
  const std::string split256 = std::string(155, 'p') + "/" + std::string(100, 'n');
  TarWriter limits;
  limits.addFile(name100, "a", 0644);
  limits.addFile(split256, "b", 0644);
  const std::string limits_tar = limits.finish();
  ASSERT_EQ(limits_tar.size(), 6u * 512);
  EXPECT_EQ(limits_tar.substr(0, 100), name100);
  EXPECT_EQ(limits_tar.substr(1024 + 345, 155), std::string(155, 'p'));
  const auto limit_entries = read(limits_tar);
  ASSERT_EQ(limit_entries.size(), 2u);
  EXPECT_EQ(limit_entries[0].path, name100);
  EXPECT_EQ(limit_entries[1].path, split256);
}

TEST(TarArchive, PathsUstarCannotHoldUsePaxPath) {
  const std::string deep = longPath(300);
  const std::string one_long_name(150, 'n');  // no '/' to split at
  TarWriter writer;
  writer.addFile(deep, "deep", 0644);
  writer.addDirectory(one_long_name, 0755);
  writer.addFile(one_long_name + "/f", "f", 0600);
  const std::string tar = writer.finish();
  EXPECT_EQ(tar[156], 'x');
  const auto entries = read(tar);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].path, deep);
  EXPECT_EQ(entries[0].content, "deep");
  EXPECT_EQ(entries[1].type, TarEntry::Type::kDirectory);
  EXPECT_EQ(entries[1].path, one_long_name);
  EXPECT_EQ(entries[2].path, one_long_name + "/f");
  EXPECT_EQ(entries[2].mode, 0600u);
}

TEST(TarArchive, LargeIdsGoIntoPax) {
  TarWriter writer;
  writer.addFile("f", "x", 0644, 100000000, 4000000000u);
  const auto entries = read(writer.finish());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].uid, 100000000u);
  EXPECT_EQ(entries[0].gid, 4000000000u);
}

TEST(TarArchive, EmptyArchives) {
  EXPECT_TRUE(read(TarWriter().finish()).empty());
  EXPECT_TRUE(read("").empty());
  EXPECT_TRUE(read(std::string(512, '\0')).empty());  // a lone zero block
}

TEST(TarArchive, BadChecksumIsAnError) {
  TarWriter writer;
  writer.addFile("a.txt", "a", 0644);
  writer.addFile("b.txt", "b", 0644);
  std::string tar = writer.finish();
  tar[1024] = 'c';  // the second header's name, checksum left as it was
  const std::string error = readError(tar);
  EXPECT_NE(error.find("checksum"), std::string::npos) << error;
  EXPECT_NE(error.find("1024"), std::string::npos) << error;
  fixChecksum(tar, 1024);
  const auto entries = read(tar);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[1].path, "c.txt");
}

TEST(TarArchive, TruncationIsAnError) {
  TarWriter writer;
  writer.addFile("a.txt", std::string(1000, 'a'), 0644);
  const std::string tar = writer.finish();
  EXPECT_NE(readError(tar.substr(0, 300)).find("truncated"), std::string::npos);
  EXPECT_NE(readError(tar.substr(0, 512 + 999)).find("truncated"), std::string::npos);
  // The data is all there but its block's padding is not.
  EXPECT_NE(readError(tar.substr(0, 512 + 1000)).find("truncated"), std::string::npos);
  // Cut right after the data: no end-of-archive blocks, which readers accept.
  EXPECT_EQ(read(tar.substr(0, size_t{3} * 512)).size(), 1u);

  TarWriter pax_only;
  pax_only.addFile(longPath(300), "x", 0644);
  const std::string pax = pax_only.finish();
  EXPECT_NE(readError(pax.substr(0, 1024)).find("without an entry"), std::string::npos);
}

TEST(TarArchive, ContentBeyondTheCapIsNotKept) {
  TarWriter writer;
  writer.addFile("big", std::string(5000, 'b'), 0644);
  writer.addFile("small", "s", 0644);
  const auto entries = read(writer.finish(), 100);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].content, std::string(100, 'b'));
  EXPECT_EQ(entries[0].size, 5000u);
  EXPECT_EQ(entries[1].content, "s");  // the next header is still found
  EXPECT_EQ(entries[1].size, 1u);
}

TEST(TarArchive, MalformedNumbersAndPaxRecords) {
  TarWriter writer;
  writer.addFile("a", "a", 0644);
  std::string tar = writer.finish();
  std::string bad_size = tar;
  bad_size.replace(124, 3, "09x");
  fixChecksum(bad_size, 0);
  EXPECT_NE(readError(bad_size).find("size"), std::string::npos);

  TarWriter pax_writer;
  pax_writer.addFile(longPath(300), "x", 0644);
  std::string pax = pax_writer.finish();
  ASSERT_EQ(pax[156], 'x');
  pax[512] = '9';  // the record's length no longer matches
  EXPECT_NE(readError(pax).find("PAX"), std::string::npos);
}

TEST(TarArchive, ReadsBase256Sizes) {
  TarWriter writer;
  writer.addFile("a", std::string(600, 'a'), 0644);
  std::string tar = writer.finish();
  std::string size_field(12, '\0');
  size_field[0] = static_cast<char>(0x80);
  size_field[10] = 0x02;  // 600 = 0x0258
  size_field[11] = 0x58;
  tar.replace(124, 12, size_field);
  fixChecksum(tar, 0);
  const auto entries = read(tar);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].size, 600u);
  EXPECT_EQ(entries[0].content, std::string(600, 'a'));
}

TEST(TarArchive, ReadsGnuLongNamesAndSymlinks) {
  // A GNU 'L' header carries the next entry's name as its data.
  const std::string name = longPath(200);
  TarWriter writer;
  writer.addFile("././@LongLink", name + std::string(1, '\0'), 0644);
  writer.addFile("cut-name", "", 0644);
  std::string tar = writer.finish();
  tar[156] = 'L';
  fixChecksum(tar, 0);
  const size_t link_header = 512 + 512;
  tar.replace(link_header + 257, 8, std::string("ustar  \0", 8));  // GNU magic
  tar[link_header + 156] = '2';
  tar.replace(link_header + 157, 6, "target");
  fixChecksum(tar, link_header);
  const auto entries = read(tar);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].path, name);
  EXPECT_EQ(entries[0].type, TarEntry::Type::kSymlink);
  EXPECT_EQ(entries[0].link_target, "target");
}

// --- against GNU tar, when it is installed ---

std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int status = ::pclose(pipe);
  if (status != 0) ADD_FAILURE() << command << " exited with " << status << ": " << out;
  return out;
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void spill(const fs::path& path, const std::string& data) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << data;
}

class GnuTarTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FILE* pipe = ::popen("tar --version 2>/dev/null", "r");
    char line[128] = {};
    if (pipe != nullptr) {
      if (std::fgets(line, sizeof line, pipe) == nullptr) line[0] = '\0';
      ::pclose(pipe);
    }
    if (std::string(line).find("GNU tar") == std::string::npos)
      GTEST_SKIP() << "GNU tar is not installed";
    char dir_template[] = "/tmp/wa-tar-test-XXXXXX";
    ASSERT_NE(::mkdtemp(dir_template), nullptr);
    dir = dir_template;
  }
  void TearDown() override {
    if (!dir.empty()) fs::remove_all(dir);
  }
  fs::path dir;
};

TEST_F(GnuTarTest, GnuTarListsAndExtractsWhatWeWrite) {
  const std::string deep = longPath(280);
  const std::string binary("\0\1\2tar\0", 7);
  TarWriter writer;
  writer.addDirectory("", 0755);
  writer.addDirectory("bin", 0750);
  writer.addFile("bin/run.sh", "#!/bin/sh\necho hi\n", 0755);
  writer.addFile("data.bin", binary, 0600);
  writer.addFile(longPath(150), "prefixed", 0644);
  writer.addFile(deep, "deep", 0644);
  spill(dir / "a.tar", writer.finish());

  const std::string listing = run("tar -tvf " + (dir / "a.tar").string() + " 2>&1");
  EXPECT_NE(listing.find("bin/run.sh"), std::string::npos) << listing;
  EXPECT_NE(listing.find(deep), std::string::npos) << listing;
  EXPECT_NE(listing.find("1970-01-01"), std::string::npos) << listing;
  EXPECT_EQ(listing.find("warning"), std::string::npos) << listing;

  fs::create_directory(dir / "out");
  run("tar --no-same-owner -xf " + (dir / "a.tar").string() + " -C " + (dir / "out").string() +
      " 2>&1");
  EXPECT_EQ(slurp(dir / "out/bin/run.sh"), "#!/bin/sh\necho hi\n");
  EXPECT_EQ(slurp(dir / "out/data.bin"), binary);
  EXPECT_EQ(slurp(dir / "out" / longPath(150)), "prefixed");
  EXPECT_EQ(slurp(dir / "out" / deep), "deep");
  EXPECT_EQ(fs::status(dir / "out/bin/run.sh").permissions() & fs::perms::mask,
            static_cast<fs::perms>(0755));
  EXPECT_EQ(fs::status(dir / "out/data.bin").permissions() & fs::perms::mask,
            static_cast<fs::perms>(0600));
  EXPECT_EQ(fs::status(dir / "out/bin").permissions() & fs::perms::mask,
            static_cast<fs::perms>(0750));
}

TEST_F(GnuTarTest, WeReadPosixAndGnuArchivesWithLongNames) {
  const std::string deep = longPath(290);
  spill(dir / "src" / deep, "deep file");
  spill(dir / "src/short.txt", std::string("short\0file", 10));
  ::chmod((dir / "src/short.txt").c_str(), 0640);
  for (const char* format : {"posix", "gnu"}) {
    SCOPED_TRACE(format);
    const fs::path archive = dir / (std::string(format) + ".tar");
    run("tar --format=" + std::string(format) + " -cf " + archive.string() + " -C " +
        (dir / "src").string() + " . 2>&1");
    const auto entries = read(slurp(archive));
    const TarEntry* deep_entry = nullptr;
    const TarEntry* short_entry = nullptr;
    const TarEntry* root = nullptr;
    for (const TarEntry& e : entries) {
      if (e.path == deep) deep_entry = &e;
      if (e.path == "short.txt") short_entry = &e;
      if (e.path.empty()) root = &e;
    }
    ASSERT_NE(deep_entry, nullptr);
    EXPECT_EQ(deep_entry->type, TarEntry::Type::kFile);
    EXPECT_EQ(deep_entry->content, "deep file");
    ASSERT_NE(short_entry, nullptr);
    EXPECT_EQ(short_entry->content, std::string("short\0file", 10));
    EXPECT_EQ(short_entry->mode, 0640u);
    ASSERT_NE(root, nullptr);
    EXPECT_EQ(root->type, TarEntry::Type::kDirectory);
  }
}

}  // namespace
}  // namespace wa::docker
