# Every dependency comes from Debian's packages; nothing is downloaded.
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBUV REQUIRED IMPORTED_TARGET libuv>=1.44)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium>=1.0.18)
find_package(Boost 1.74 REQUIRED COMPONENTS program_options)
find_package(RocksDB REQUIRED)
find_package(spdlog REQUIRED)
find_package(Threads REQUIRED)
# ncursesw: `nightjar chat`, the terminal client (Debian's libncurses-dev):
# wide characters, resizes, and restoring the terminal, which no code of ours
# should redo. libutil's forkpty (glibc) runs it in a pseudo-terminal in the tests.
pkg_check_modules(NCURSESW REQUIRED IMPORTED_TARGET ncursesw)
# nlohmann-json (header-only): reading the published test vectors and
# scenario files, writing reports. Debian's nlohmann-json3-dev.
find_package(nlohmann_json 3.10 REQUIRED)
if(NIGHTJAR_TESTS)
  find_package(Catch2 2.13 REQUIRED)
endif()
