#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "routing/frame.hpp"
#include "routing/frame_registry.hpp"

using namespace nightjar;

TEST_CASE("every frame type has one number and one name", "[frame]") {
  std::set<int> numbers;
  std::set<std::string> names;
  for (const auto& t : frame_types) {
    CHECK(numbers.insert(static_cast<int>(t.type)).second);
    CHECK(names.insert(t.name).second);
    CHECK(frame_type_name(static_cast<std::uint8_t>(t.type)) == std::string(t.name));
  }
  CHECK(frame_type_name(0x00) == nullptr);
  CHECK(frame_type_name(0x26) == nullptr);
  CHECK(frame_type_name(0xff) == nullptr);
  // The numbers the wire has always used.
  CHECK(static_cast<int>(FrameType::onion_cell) == 0x01);
  CHECK(static_cast<int>(FrameType::link_pong) == 0x05);
  CHECK(static_cast<int>(FrameType::dir_register) == 0x10);
  CHECK(static_cast<int>(FrameType::auth_signature) == 0x16);
  CHECK(static_cast<int>(FrameType::repl_push) == 0x20);
  CHECK(static_cast<int>(FrameType::repl_fetch) == 0x25);
  CHECK(is_link_internal(0x04));
  CHECK_FALSE(is_link_internal(0x01));
}

TEST_CASE("a frame registry knows which types have a handler", "[frame]") {
  FrameRegistry r;
  CHECK_FALSE(r.handles(FrameType::dir_fetch));
  int calls = 0;
  r.on(FrameType::dir_fetch, [&](Link&, Bytes) { ++calls; });
  r.on({FrameType::repl_push, FrameType::repl_fetch}, [&](Link&, Bytes) { ++calls; });
  CHECK(r.handles(FrameType::dir_fetch));
  CHECK(r.handles(FrameType::repl_push));
  CHECK(r.handles(FrameType::repl_fetch));
  CHECK_FALSE(r.handles(FrameType::repl_summary));
  r.on(FrameType::dir_fetch, nullptr);  // unregistered again
  CHECK_FALSE(r.handles(FrameType::dir_fetch));
  CHECK(calls == 0);
}
