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

// Fits `req` into its window. truncation "disabled" (the default): a request
// that does not fit is a 400 context_length_exceeded. "auto": the oldest
// conversation items of the history go, never the instructions, system or
// developer messages, the new input, or a tool call without its output (or
// an output without its call).
events::result<context_plan> plan_context(const create_command& cmd, generation_request req,
                                          const token_counter& count);

} // namespace riposte::actors
