// The response's rules, apart from doing them. Each function here takes what
// the response is (its create command, its turn state, its folded view) and
// what just happened (a backend update, the hosted tools' answers, a command)
// and returns the events to append, or an error. No I/O, no clock, no actor:
// the only state they touch is the turn's own bookkeeping, so each rule is
// tested as given events -> when -> then events (tests/actors/decide_tests).
#pragma once

#include "actors/messages.hpp"
#include "actors/ports/backend.hpp"
#include "actors/ports/image_generation.hpp"
#include "actors/ports/web_search.hpp"
#include "adapters/crypto/sealer.hpp"
#include "events/errc.hpp"
#include "events/event.hpp"
#include "projections/chain_context.hpp"
#include "projections/response_view.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace riposte::actors::response {

// A response calls riposte's own tools in at most this many rounds before it
// must answer.
inline constexpr int max_hosted_rounds = 3;

// What the rules keep while a response generates.
struct turn_state {
  const adapters::crypto::sealer* seal = nullptr; // the reasoning key; null: nothing is sealed
  projections::chain_ptr parent; // the chain this turn continues (null: a root)
  std::size_t dropped_items = 0; // truncation "auto" left these out of the context
  // How a stop ends the response: cancelled, or failed (a job timeout, a fault).
  bool cancel_requested = false;
  std::optional<events::event> cancel_event;
  // Hosted tools (web_search, image_generation): the calls the running
  // generation made (their output_item_added), what the tools gave the model,
  // the usage of the generations before the running one, citations' sources.
  std::vector<std::pair<std::int64_t, nlohmann::json>> hosted_calls;
  nlohmann::json hosted_items = nlohmann::json::array();
  nlohmann::json earlier_usage;
  std::vector<search_result> sources;
  std::int64_t next_output_index = 0;
  int hosted_rounds = 0;
  std::string answer_text; // message text so far, for text.format checks
};

// --- Creation -------------------------------------------------------------

// The events that open a response: created, then queued (background) or
// in_progress.
std::vector<events::event> decide_creation(const create_command& cmd, std::int64_t created_at);

// The model must serve what the request asks: image inputs need vision,
// reasoning effort needs thinking, a hosted image must fit the operator's cap.
std::optional<events::error_info> check_capabilities(const create_command& cmd,
                                                     const model_info& model,
                                                     const image_generation_settings& images);

// A follow-up's parent must leave room in the chain, and hold the call of
// every tool output the request sends without one.
std::optional<events::error_info> check_parent(const create_command& cmd,
                                               const projections::chain_ptr& parent,
                                               std::int64_t max_chain_depth);

// --- Generation -----------------------------------------------------------

struct update_outcome {
  std::vector<events::event> events; // to append, in order
  // The generation ended calling riposte's own tools: its end is held back
  // (its usage kept), the tools run, then the model generates again.
  bool run_hosted_tools = false;
};

// A backend update: deltas pass as they are; finished items and the end get
// the rules (citations and summed usage after hosted rounds, the structured-
// output check, cached-token accounting, sealed reasoning), and a generation
// stopped on request ends with the stop's event.
update_outcome decide_update(const create_command& cmd, turn_state& t, generation_update u);

// The hosted calls about to run: each steps through in_progress, then
// searching (or generating).
std::vector<events::event> decide_hosted_start(const turn_state& t);

struct hosted_outcome {
  std::vector<events::event> events;
  bool generate_again = false; // false: a stop was asked for, and ends it
};

// The hosted tools answered (one answer per call, in order: {results},
// {image} or {error}): each call's item is done, completed or failed, and
// the model gets the results as the tools' output.
hosted_outcome decide_hosted_results(const create_command& cmd, turn_state& t,
                                     const nlohmann::json& answers);

// The job timeout passed: the event the response ends with.
events::event timed_out(std::chrono::milliseconds job_timeout);

// An exception inside the actor: the event the response ends with.
events::event faulted();

// --- Commands on a stored response -----------------------------------------

// DELETE: only a finished response can go.
events::result<std::vector<events::event>> decide_delete(const projections::response_state& view);

// POST /cancel: only a background response can be cancelled.
std::optional<events::error_info> check_cancel(const projections::response_state& view,
                                               const create_command& cmd);

// --- Answers ----------------------------------------------------------------

// A blocking create's answer: the Response, or the error a failed one ended
// with.
events::result<nlohmann::json> blocking_reply(const projections::response_state& view);

// POST /v1/responses/compact's answer: every user message of the chain and
// the request, then one compaction item holding the model's summary sealed
// for the tenant.
events::result<compaction> compaction_reply(const projections::response_state& view,
                                            const create_command& cmd, const turn_state& t,
                                            const nlohmann::json& input);

// Replayed reasoning and compaction items: their sealed text goes back to the
// model (the stored input keeps them exactly as the client sent them).
nlohmann::json unsealed_items(const adapters::crypto::sealer* seal, const std::string& tenant,
                              nlohmann::json items);

// An output item of a tool riposte runs itself (web search, image generation).
bool is_hosted_call(const nlohmann::json& item);

// Is `what` in the request's include list?
bool includes(const nlohmann::json& params, const char* what);

} // namespace riposte::actors::response
