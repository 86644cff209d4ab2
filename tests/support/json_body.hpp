// A reply's body as JSON, or the test stops saying what came instead.
#pragma once

#include "tests/support/process.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

namespace riposte::tests {

inline nlohmann::json json_body(const http_result& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  BOOST_REQUIRE_MESSAGE(!j.is_discarded(), "not JSON: " << r.body);
  return j;
}

} // namespace riposte::tests
