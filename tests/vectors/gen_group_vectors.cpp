// Writes the closed-group test vectors to stdout as JSON:
//
//   <build>/bin/gen_group_vectors > tests/vectors/group.json
//
// Every input is fixed (keys from labels, DeterministicRandom seeds, a fixed
// clock), so the output is the same on every run; a change to it means the
// format changed. tests/unit/test_group_vectors.cpp checks the committed
// file, and tests/vectors/README.md describes the fields.
#include <exception>
#include <iostream>

#include "tests/vectors/group_transcript.hpp"

int main() {
  try {
    if (!nightjar::crypto::init()) return 1;
    std::cout << nightjar::vectors::group_vectors::group_transcript().dump(2) << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "gen_group_vectors: " << e.what() << "\n";
    return 1;
  }
}
