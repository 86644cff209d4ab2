// Context planning: which window a model runs with, how many tokens a
// request puts in it, and what truncation "auto" leaves out to fit.
#pragma once

#include "actors/messages.hpp"
#include "actors/ports/backend.hpp"
#include "actors/services.hpp"
#include "events/errc.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <vector>

namespace riposte::actors {

using token_counter = std::function<std::int64_t(const generation_request&)>;

// The window riposte plans for and asks the backend to run with: the
// operator's per-model setting, else the model's Modelfile num_ctx, else the
// default; never more than the model was trained for (unless the operator
// said so for that model).
std::int64_t context_window(const settings& cfg, const model_info& model);

struct context_plan {
  std::int64_t input_tokens = 0;
  std::size_t dropped_items = 0;
  nlohmann::json details; // for the Response when something was dropped
};

// The plan, one count at a time, so that each count may be a round trip to
// the backend's tokenizer (creation.cpp) or a call to the estimate
// (plan_context). truncation "disabled" (the default): a request that does
// not fit is a 400 context_length_exceeded. "auto": the oldest conversation
// items of the history go, never the instructions, system or developer
// messages, the new input, or a tool call without its output (or an output
// without its call); the fewest that make it fit, found by bisection.
class context_planner {
public:
  // `exact`: the counts come from the model's own tokenizer (the error and
  // truncation_details say so).
  context_planner(const create_command& cmd, generation_request req, bool exact);
  // The request to count next; null once the plan is decided.
  const generation_request* next() const { return decided_ ? nullptr : &req_; }
  void counted(std::int64_t tokens);
  // Once decided: the plan, or context_length_exceeded.
  const events::result<context_plan>& result() const { return result_; }
  // The whole request's tokens (nothing dropped), once counted.
  std::int64_t whole_tokens() const { return whole_; }
  // The tokens the input may take: the window less max_output_tokens (0:
  // no window known, anything fits).
  std::int64_t budget() const { return budget_; }
  bool exact() const { return exact_; }
  // The request as counted, taken away (the planner is spent): what the
  // backend gets when the plan drops nothing.
  generation_request take_request() { return std::move(req_); }

private:
  void decide(events::result<context_plan> r);
  void bisect();

  generation_request req_;
  bool exact_;
  bool auto_truncation_;
  std::int64_t reserve_ = 0, budget_ = 0, whole_ = -1, fitting_ = 0;
  std::vector<const nlohmann::json*> history_; // the items truncation may drop, oldest first
  std::vector<std::size_t> cuts_;              // valid numbers of them to drop
  std::size_t lo_ = 0, hi_ = 0;                // the bisection's range over cuts_
  bool decided_ = false;
  events::result<context_plan> result_ = context_plan{};
};

// Fits `req` into its window with `count` (no counter: no plan, anything
// goes).
events::result<context_plan> plan_context(const create_command& cmd, generation_request req,
                                          const token_counter& count);

} // namespace riposte::actors
