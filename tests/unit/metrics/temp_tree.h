// TempTree: a throw-away directory tree for tests that need files the fixtures lack.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace wa::metrics::testing {

class TempTree {
 public:
  TempTree() {
    std::string pattern = (std::filesystem::temp_directory_path() / "wa-metrics-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    root_ = pattern;
  }
  ~TempTree() {
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;

  const std::string& root() const { return root_; }

  // Writes content to root/relative_path, creating the directories on the way.
  void write(const std::string& relative_path, const std::string& content) const {
    const std::filesystem::path path = std::filesystem::path(root_) / relative_path;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::trunc);
    out << content;
    ASSERT_TRUE(out.good()) << path;
  }

  void makeDirectory(const std::string& relative_path) const {
    std::filesystem::create_directories(std::filesystem::path(root_) / relative_path);
  }

 private:
  std::string root_;
};

}  // namespace wa::metrics::testing
