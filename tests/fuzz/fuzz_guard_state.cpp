// Fuzzes the guard state parser (client/guard_state) and what PathSelector
// does with the guards it loads.
//
// Input: the guard state text, as the client would read it from its profile.
//
// Properties, each ending in __builtin_trap() when violated:
//   - parse_guard_state accepts exactly canonical texts: on success, encoding
//     the records gives back the input byte for byte, every record is valid,
//     and there are at most max_guard_state_guards of them;
//   - on failure the error is a "guard state..." message, never empty;
//   - PathSelector::load_guards agrees with the parser, changes nothing on
//     failure, and save_guards() then gives back the input;
//   - with a five-node directory (node IDs 11..11 to 55..55, which the seeds
//     use), the loaded guards are replaced by directory nodes as needed: there
//     are five (three primary, two backup: as many as there are nodes), all
//     in the directory, and a path to every node exists, starts at a guard and
//     has three distinct relays, whatever the failure times.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "client/guard_state.hpp"
#include "client/path_selector.hpp"
#include "routing/random_source.hpp"
#include "swarm/directory.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace nightjar;

namespace {

constexpr std::uint64_t now_ms = 1'700'000'000'000;

std::shared_ptr<const Directory> five_nodes() {
  auto d = std::make_shared<Directory>();
  for (std::uint8_t k = 1; k <= 5; ++k) {
    DirectoryEntry e;
    e.node.id.bytes.fill(static_cast<std::uint8_t>(0x11 * k));
    e.node.address = Endpoint::from_ip(std::array<std::uint8_t, 4>{10, k, 0, 1}, 9000);
    e.node.onion_keys.push_back({1, {}, 0, std::uint64_t{1} << 40});
    e.swarm = 1;
    d->entries.push_back(e);
  }
  return d;
}

std::array<std::uint8_t, 32> seed{};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = parse_guard_state(text);
  if (parsed.ok()) {
    CHECK(parsed->size() <= max_guard_state_guards);
    CHECK(std::all_of(parsed->begin(), parsed->end(), [](const auto& r) { return valid(r); }));
    CHECK(encode_guard_state(*parsed) == text);
  } else {
    CHECK(parsed.error().rfind("guard state", 0) == 0);
  }

  static const auto directory = five_nodes();
  DeterministicRandom rng(seed);
  PathConfig all;
  all.guard_count = max_guard_state_guards;
  all.backup_guards = 0;
  PathSelector keep_all(all, rng);
  const std::string before = keep_all.save_guards();
  auto loaded = keep_all.load_guards(text);
  CHECK(loaded.ok() == parsed.ok());
  if (!loaded.ok()) {
    CHECK(keep_all.save_guards() == before);
    return 0;
  }
  CHECK(keep_all.save_guards() == text);
  CHECK(keep_all.guards().size() == parsed->size());

  PathSelector s({}, rng);
  s.set_directory(directory);
  CHECK(s.load_guards(text).ok());
  CHECK(s.guards().size() == 5);
  CHECK(s.primary_guards().size() == 3);
  for (const NodeId& g : s.guards())
    CHECK(directory->find(g) != nullptr);
  for (const DirectoryEntry& e : directory->entries) {
    auto p = s.path_to_node(e.node.id, now_ms);
    CHECK(p.ok());
    CHECK(p->relays.size() == 3);
    CHECK(std::find(s.guards().begin(), s.guards().end(), p->relays[0]) != s.guards().end());
    for (std::size_t i = 0; i < 3; ++i) {
      CHECK(!(p->relays[i] == e.node.id));
      for (std::size_t j = 0; j < i; ++j)
        CHECK(!(p->relays[i] == p->relays[j]));
    }
  }
  return 0;
}
