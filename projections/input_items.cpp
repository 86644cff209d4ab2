#include "projections/input_items.hpp"

#include <optional>
#include <vector>

namespace riposte::projections {

using json = nlohmann::json;

events::result<items_page> page_items(const json& items, const items_query& q) {
  std::vector<std::size_t> order(items.size());
  for (std::size_t i = 0; i < items.size(); ++i)
    order[i] = q.ascending ? i : items.size() - 1 - i;
  auto find = [&](const std::string& item_id) -> std::optional<std::size_t> {
    for (std::size_t i = 0; i < order.size(); ++i)
      if (items[order[i]].value("id", "") == item_id)
        return i;
    return std::nullopt;
  };
  auto missing = [](const std::string& id, const char* param) {
    return events::make_error(events::riposte_errc::invalid_request,
                              "No input item found with id '" + id + "'.", param);
  };
  std::size_t begin = 0, end = order.size();
  if (!q.after.empty()) {
    auto at = find(q.after);
    if (!at)
      return missing(q.after, "after");
    begin = *at + 1;
  }
  if (!q.before.empty()) {
    auto at = find(q.before);
    if (!at)
      return missing(q.before, "before");
    end = *at;
  }
  items_page page;
  for (auto i = begin; i < end && page.data.size() < static_cast<std::size_t>(q.limit); ++i)
    page.data.push_back(items[order[i]]);
  page.has_more = begin + page.data.size() < end;
  return page;
}

} // namespace riposte::projections
