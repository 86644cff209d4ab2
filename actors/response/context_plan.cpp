#include "actors/response/context_plan.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace riposte::actors {

namespace ev = events;
using json = nlohmann::json;

std::int64_t context_window(const settings& cfg, const model_info& model) {
  auto name = model.id;
  auto it = cfg.context_windows.find(name);
  if (it == cfg.context_windows.end() && name.size() > 7 &&
      name.compare(name.size() - 7, 7, ":latest") == 0)
    it = cfg.context_windows.find(name.substr(0, name.size() - 7));
  if (it != cfg.context_windows.end())
    return it->second;
  auto window = model.num_ctx > 0 ? model.num_ctx : cfg.default_context_window;
  if (window > 0 && model.context_length > 0)
    window = std::min(window, model.context_length);
  return window;
}

namespace {

bool kept_always(const json& item) {
  if (!item.is_object() || item.value("type", "message") != "message")
    return false;
  auto role = item.value("role", "");
  return role == "system" || role == "developer";
}

// The cuts truncation may make: k drops the first k conversation items of
// the history. A cut may not separate a call from its output.
std::vector<std::size_t> valid_cuts(const std::vector<const json*>& history, const json& input) {
  std::map<std::string, std::pair<std::size_t, std::size_t>> spans; // call_id: first, last
  auto note = [&](const json& item, std::size_t at) {
    if (!item.is_object() || !item.contains("call_id") || !item["call_id"].is_string())
      return;
    auto [it, fresh] = spans.emplace(item["call_id"].get<std::string>(), std::pair{at, at});
    if (!fresh)
      it->second.second = at;
  };
  for (std::size_t i = 0; i < history.size(); ++i)
    note(*history[i], i);
  for (const auto& item : input)
    note(item, history.size()); // the new input sits after every history item
  std::vector<int> blocked(history.size() + 2, 0);
  for (const auto& [id, span] : spans)
    if (span.first < span.second) { // cuts first+1 .. last split the pair
      blocked[span.first + 1] += 1;
      blocked[std::min(span.second, history.size()) + 1] -= 1;
    }
  std::vector<std::size_t> cuts;
  int open = 0;
  for (std::size_t k = 1; k <= history.size(); ++k) {
    open += blocked[k];
    if (open == 0)
      cuts.push_back(k);
  }
  return cuts;
}

ev::error_info too_long(std::int64_t tokens, std::int64_t window, std::int64_t reserve,
                        const std::string& how) {
  std::string msg = "Your input exceeds the context window of this model: it is about " +
                    std::to_string(tokens) + " tokens, and the model's context window is " +
                    std::to_string(window) + " tokens";
  if (reserve > 0)
    msg += ", " + std::to_string(reserve) + " of them kept for max_output_tokens";
  msg += ". " + how;
  return ev::make_error(ev::riposte_errc::context_too_long, std::move(msg), "input");
}

} // namespace

ev::result<context_plan> plan_context(const create_command& cmd, generation_request req,
                                      const token_counter& count) {
  context_plan plan;
  if (!count)
    return plan;
  req.dropped_items = 0;
  plan.input_tokens = count(req);
  if (req.context_window <= 0)
    return plan;
  std::int64_t reserve = 0;
  if (auto max = cmd.params.value("max_output_tokens", json()); max.is_number_integer())
    reserve = std::min(max.get<std::int64_t>(), req.context_window);
  auto budget = req.context_window - reserve;
  if (plan.input_tokens <= budget)
    return plan;
  if (cmd.params.value("truncation", json("disabled")) != "auto")
    return too_long(plan.input_tokens, req.context_window, reserve,
                    "Shorten the input, or set truncation to \"auto\" to drop the oldest items "
                    "of the conversation.");

  std::vector<const json*> history;
  for (const auto* item : projections::chain_items(req.history))
    if (!kept_always(*item))
      history.push_back(item);
  auto cuts = valid_cuts(history, req.items);
  // The fewest items dropped that make it fit (dropping more never adds).
  std::size_t lo = 0, hi = cuts.size();
  std::int64_t fitting = 0;
  while (lo < hi) {
    auto mid = (lo + hi) / 2;
    req.dropped_items = cuts[mid];
    auto tokens = count(req);
    if (tokens <= budget) {
      hi = mid;
      fitting = tokens;
    } else {
      lo = mid + 1;
    }
  }
  if (lo == cuts.size())
    return too_long(plan.input_tokens, req.context_window, reserve,
                    "It does not fit even without the earlier conversation (truncation "
                    "\"auto\" never drops the instructions or the new input).");
  plan.dropped_items = cuts[lo];
  json ids = json::array();
  for (std::size_t i = 0; i < plan.dropped_items; ++i)
    if (history[i]->contains("id") && (*history[i])["id"].is_string())
      ids.push_back((*history[i])["id"]);
  plan.details = {{"type", "auto"},
                  {"dropped_items", plan.dropped_items},
                  {"dropped_item_ids", std::move(ids)},
                  {"input_tokens_before", plan.input_tokens},
                  {"context_window", req.context_window}};
  plan.input_tokens = fitting;
  return plan;
}

} // namespace riposte::actors
