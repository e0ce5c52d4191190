#include "core/heap.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

namespace wa::core {
namespace {

TEST(Heap, ReleasesFreePagesLyingBetweenLiveBlocks) {
#if !defined(__GLIBC__) || defined(WA_SANITIZED)
  GTEST_SKIP() << "glibc's own allocator only";
#endif
  // Blocks well under the mmap threshold, so they come from the heap; keeping every fourth
  // leaves free runs of whole pages between live blocks, which glibc does not give back
  // by itself.
  constexpr size_t kBlock = 4096;
  std::vector<std::unique_ptr<char[]>> blocks;
  for (int i = 0; i < 2048; ++i) {
    blocks.push_back(std::make_unique<char[]>(kBlock));
    std::memset(blocks.back().get(), 1, kBlock);
  }
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (i % 4 != 0) blocks[i].reset();
  }
  EXPECT_TRUE(releaseFreeHeapPages());
}

}  // namespace
}  // namespace wa::core
