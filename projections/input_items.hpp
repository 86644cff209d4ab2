// GET /v1/responses/{id}/input_items as a pure read of the Response's input:
// which items one page holds, in the order asked, and whether more follow.
#pragma once

#include "events/errc.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace riposte::projections {

struct items_query {
  std::int64_t limit = 20;
  bool ascending = false;
  std::string after;  // an item id: the page starts after it
  std::string before; // an item id: the page ends before it
};

struct items_page {
  nlohmann::json data = nlohmann::json::array();
  bool has_more = false;
};

// An `after` or `before` that names no item is an invalid_request on that param.
events::result<items_page> page_items(const nlohmann::json& items, const items_query& q);

} // namespace riposte::projections
