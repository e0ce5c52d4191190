# Cross build for arm64 (aarch64) with Debian's cross toolchain and multiarch libraries:
# crossbuild-essential-arm64 and the :arm64 -dev packages (scripts/cross-deps.sh).
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake
# The test binaries run under qemu-user (CMAKE_CROSSCOMPILING_EMULATOR), so ctest and
# gtest_discover_tests work in the cross build tree as they do natively.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# pkg-config answers for the arm64 .pc files (/usr/lib/aarch64-linux-gnu/pkgconfig).
set(PKG_CONFIG_EXECUTABLE aarch64-linux-gnu-pkg-config CACHE FILEPATH "pkg-config for arm64")

# Libraries and packages (GTest) are looked up only in the multiarch arm64 directories and
# the architecture-independent ones (headers, RapidJSON's CMake files); programs are the
# host's. /usr/aarch64-linux-gnu holds the cross libc and its dynamic loader.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)

# The arm64 binaries load as on an arm64 machine: /lib/ld-linux-aarch64.so.1 and the
# multiarch libraries of the :arm64 packages (libc6, libstdc++6, libcurl4, ...). No -L
# sysroot: with one, qemu 7.2 hangs a forked child that aborts (GoogleTest's death tests).
find_program(WA_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64 REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR ${WA_QEMU_AARCH64})
