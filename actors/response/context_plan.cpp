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

ev::error_info too_long(std::int64_t tokens, std::int64_t window, std::int64_t reserve, bool exact,
                        const std::string& how) {
  std::string msg = "Your input exceeds the context window of this model: it is " +
                    std::string(exact ? "" : "about ") + std::to_string(tokens) +
                    (exact ? " tokens by the model's tokenizer" : " tokens") +
                    ", and the model's context window is " + std::to_string(window) + " tokens";
  if (reserve > 0)
    msg += ", " + std::to_string(reserve) + " of them kept for max_output_tokens";
  msg += ". " + how;
  return ev::make_error(ev::riposte_errc::context_too_long, std::move(msg), "input");
}

} // namespace

context_planner::context_planner(const create_command& cmd, generation_request req, bool exact)
  : req_(std::move(req))
  , exact_(exact)
  , auto_truncation_(cmd.params.value("truncation", json("disabled")) == "auto") {
  req_.dropped_items = 0;
  if (req_.context_window <= 0)
    return;
  if (auto max = cmd.params.value("max_output_tokens", json()); max.is_number_integer())
    reserve_ = std::clamp(max.get<std::int64_t>(), std::int64_t{0}, req_.context_window);
  budget_ = req_.context_window - reserve_;
}

void context_planner::decide(ev::result<context_plan> r) {
  decided_ = true;
  result_ = std::move(r);
}

void context_planner::counted(std::int64_t tokens) {
  if (decided_)
    return;
  if (whole_ < 0) { // the whole request
    whole_ = tokens;
    if (req_.context_window <= 0 || tokens <= budget_)
      return decide(context_plan{tokens, 0, json()});
    if (!auto_truncation_)
      return decide(too_long(tokens, req_.context_window, reserve_, exact_,
                             "Shorten the input, or set truncation to \"auto\" to drop the "
                             "oldest items of the conversation."));
    for (const auto* item : projections::chain_items(req_.history))
      if (!kept_always(*item))
        history_.push_back(item);
    cuts_ = valid_cuts(history_, req_.items);
    hi_ = cuts_.size();
    return bisect();
  }
  // One step of the bisection: dropping more never adds tokens.
  auto mid = (lo_ + hi_) / 2;
  if (tokens <= budget_) {
    hi_ = mid;
    fitting_ = tokens;
  } else {
    lo_ = mid + 1;
  }
  bisect();
}

void context_planner::bisect() {
  if (lo_ < hi_) {
    req_.dropped_items = cuts_[(lo_ + hi_) / 2];
    return;
  }
  if (lo_ == cuts_.size())
    return decide(too_long(whole_, req_.context_window, reserve_, exact_,
                           "It does not fit even without the earlier conversation (truncation "
                           "\"auto\" never drops the instructions or the new input)."));
  context_plan plan;
  plan.dropped_items = cuts_[lo_];
  json ids = json::array();
  for (std::size_t i = 0; i < plan.dropped_items; ++i)
    if (history_[i]->contains("id") && (*history_[i])["id"].is_string())
      ids.push_back((*history_[i])["id"]);
  plan.details = {{"type", "auto"},
                  {"dropped_items", plan.dropped_items},
                  {"dropped_item_ids", std::move(ids)},
                  {"input_tokens_before", whole_},
                  {"context_window", req_.context_window},
                  {"counted_by", exact_ ? "tokenizer" : "estimate"}};
  plan.input_tokens = fitting_;
  decide(std::move(plan));
}

ev::result<context_plan> plan_context(const create_command& cmd, generation_request req,
                                      const token_counter& count) {
  if (!count)
    return context_plan{};
  context_planner planner(cmd, std::move(req), false);
  while (const auto* next = planner.next())
    planner.counted(count(*next));
  return planner.result();
}

} // namespace riposte::actors
