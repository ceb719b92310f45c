#include <catch2/catch.hpp>

#include "routing/endpoint.hpp"

using nightjar::Endpoint;

TEST_CASE("endpoints parse from HOST:PORT text", "[endpoint]") {
  auto v4 = Endpoint::parse("127.0.0.1:9000");
  REQUIRE(v4.ok());
  CHECK(v4->port() == 9000);
  CHECK(v4->is_loopback());
  CHECK(v4->to_string() == "127.0.0.1:9000");

  auto v6 = Endpoint::parse("[::1]:443");
  REQUIRE(v6.ok());
  CHECK(v6->port() == 443);
  CHECK(v6->is_loopback());
  CHECK(v6->to_string() == "[::1]:443");

  auto local = Endpoint::parse("localhost:1");
  REQUIRE(local.ok());
  CHECK(local->to_string() == "127.0.0.1:1");

  CHECK_FALSE(Endpoint::parse("10.1.2.3:80")->is_loopback());
}

TEST_CASE("bad endpoint text is rejected with a message", "[endpoint]") {
  for (const char* bad :
       {"", "127.0.0.1", ":80", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:80x",
        "example.com:80", "[::1]80", "[::1", "1.2.3:4", "::1:80"}) {
    INFO(bad);
    auto r = Endpoint::parse(bad);
    CHECK_FALSE(r.ok());
    if (!r.ok()) CHECK_FALSE(r.error().empty());
  }
}
