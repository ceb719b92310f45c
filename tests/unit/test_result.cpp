#include <catch2/catch.hpp>
#include <string>

#include "routing/result.hpp"

using nightjar::fail;
using nightjar::Result;

namespace {
enum class E { a, b };
Result<int, E> half(int v) {
  if (v % 2) return fail(E::a);
  return v / 2;
}
}  // namespace

TEST_CASE("Result carries a value or an error", "[result]") {
  auto ok = half(4);
  REQUIRE(ok.ok());
  CHECK(*ok == 2);
  auto bad = half(3);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error() == E::a);

  Result<void, E> v;
  CHECK(v.ok());
  Result<void, E> f = fail(E::b);
  CHECK_FALSE(f.ok());
  CHECK(f.error() == E::b);

  Result<std::string, E> s = std::string("x");
  CHECK(s->size() == 1);
}
