// The actors' protocol in one place: atoms, commands and replies, one line
// each. Replies to HTTP travel as `reply_to` callbacks, so no actor knows HTTP.
#pragma once

#include "actors/event_sink.hpp"
#include "actors/ports/backend.hpp"
#include "events/envelope.hpp"
#include "events/errc.hpp"
#include "events/event_log.hpp"
#include "events/faults.hpp"
#include "projections/chain_context.hpp"
#include "projections/input_items.hpp"
#include "projections/response_view.hpp"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace riposte::actors {

// Completes one client request with a `T` (what http/ renders) or an error,
// once; any thread. A request whose every copy is dropped unanswered (a
// message lost with a dead actor, a job that threw) is answered then with a
// server_error, so no failure inside riposte leaves a client waiting forever.
template <class T>
class reply_for {
public:
  using value_type = T;
  using fn_type = std::function<void(events::result<T>)>;
  reply_for() = default;
  explicit reply_for(fn_type fn)
    : state_(std::make_shared<state>(std::move(fn))) {}

  void operator()(events::result<T> r) const {
    if (state_)
      state_->answer(std::move(r));
  }

private:
  struct state {
    explicit state(fn_type f)
      : fn(std::move(f)) {}
    state(const state&) = delete;
    state& operator=(const state&) = delete;
    ~state() {
      if (!done.load(std::memory_order_acquire))
        answer(events::server_fault());
    }
    void answer(events::result<T> r) noexcept {
      if (done.exchange(true, std::memory_order_acq_rel) || !fn)
        return;
      try {
        fn(std::move(r));
      } catch (...) {
        // The client is gone or its reply could not be written: nothing
        // more can be done for it, and nothing else may fail with it.
      }
    }
    fn_type fn;
    std::atomic<bool> done{false};
  };
  std::shared_ptr<state> state_;
};

template <class T>
inline constexpr bool is_reply_for = false;
template <class T>
inline constexpr bool is_reply_for<reply_for<T>> = true;

// A JSON body: the Response object (a projection), and what the files,
// prompts and backend pool actors answer.
using reply_to = reply_for<nlohmann::json>;

// GET /v1/responses/{id}/events and the audit feed: envelopes in order.
struct events_page {
  std::vector<events::envelope> data;
  bool has_more = false;
};

// DELETE /v1/responses/{id}: the response that is deleted now.
struct deleted_response {
  std::string id;
};

// POST /v1/responses/input_tokens: the tokens the planned context holds.
struct token_count {
  std::int64_t input_tokens = 0;
};

// POST /v1/responses/compact: the chain's user messages, then one compaction
// item holding the model's summary sealed for the tenant.
struct compaction {
  std::string id;
  std::int64_t created_at = 0;
  nlohmann::json output = nlohmann::json::array();
  nlohmann::json usage;
};

// POST /v1/responses, validated and normalized by http/.
struct create_command {
  std::string response_id;
  std::string tenant;
  std::string model;
  nlohmann::json params = nlohmann::json::object(); // rendered back in the Response
  nlohmann::json input = nlohmann::json::array();   // input items, each with an id
  // Sampling values the client set itself; the rest stay the model's defaults.
  nlohmann::json sampling = nlohmann::json::object();
  std::string previous_response_id;
  bool store = true;
  bool stream = false;
  bool obfuscation = true; // stream_options.include_obfuscation (null: the default)
  std::string idempotency_key;
  std::string request_hash;
  // Tool outputs whose call is not earlier in `input`: (call_id, param). The
  // chain of previous_response_id must hold their calls.
  std::vector<std::pair<std::string, std::string>> open_call_ids;
  // POST /v1/responses/input_tokens: plan the context, answer its size,
  // store nothing.
  bool count_only = false;
  // POST /v1/responses/compact: the model summarizes the conversation; the
  // answer is a response.compaction object, nothing is stored.
  bool compact = false;
};

// A tool output that answers no call.
inline events::error_info no_tool_call(const std::pair<std::string, std::string>& open) {
  return events::make_error(events::riposte_errc::invalid_value,
                            "No tool call found for function call output with call_id '" +
                                open.first +
                                "'. Send the call earlier in 'input', or continue the response "
                                "that made it with previous_response_id.",
                            open.second);
}

// GET /v1/responses/{id}/input_items paging.
using list_query = projections::items_query;

// A parent's chain context for a follow-up: its shared segment.
struct context_reply {
  events::result<projections::chain_ptr> context = projections::chain_ptr{};
};

// The result of a store job, posted back to the actor that asked.
struct append_done {
  events::result<std::vector<events::envelope>> stored = std::vector<events::envelope>{};
};

// A response rebuilt from its snapshot and the events after it.
struct load_done {
  events::result<projections::response_state> state = projections::response_state{};
  projections::chain_ptr context; // this response's context, if finished
  // Set when `context` holds only this response's own items: the rest is the
  // context of this parent, asked for before the rebuild completes.
  std::string context_parent;
};

using create_atom = caf::atom_constant<caf::atom("create")>;       // registry: new response
using fetch_atom = caf::atom_constant<caf::atom("fetch")>;         // GET a response
using await_atom = caf::atom_constant<caf::atom("await")>;         // a response once it ends
using remove_atom = caf::atom_constant<caf::atom("remove")>;       // DELETE a response
using items_atom = caf::atom_constant<caf::atom("items")>;         // GET input_items
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;       // cancel a response / generation
using context_atom = caf::atom_constant<caf::atom("context")>;     // parent context for a child
using update_atom = caf::atom_constant<caf::atom("update")>;       // backend events arrived
using appended_atom = caf::atom_constant<caf::atom("appended")>;   // a store append returned
using published_atom = caf::atom_constant<caf::atom("published")>; // the writer published deltas
using loaded_atom = caf::atom_constant<caf::atom("loaded")>;       // a rebuild read returned
using claimed_atom = caf::atom_constant<caf::atom("claimed")>;     // an idempotency claim returned
using passivate_atom = caf::atom_constant<caf::atom("passivate")>; // idle actor asks to stop
using generate_atom = caf::atom_constant<caf::atom("generate")>;   // backend pool: start
using finished_atom = caf::atom_constant<caf::atom("finished")>;   // backend pool: slot free
using models_atom = caf::atom_constant<caf::atom("models")>;       // backend pool: model list
using model_atom = caf::atom_constant<caf::atom("model")>;         // backend pool: one model
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>; // stream a response
using gone_atom = caf::atom_constant<caf::atom("gone")>;           // a subscriber left
using replayed_atom = caf::atom_constant<caf::atom("replayed")>;   // a catch-up read returned
using keepalive_atom = caf::atom_constant<caf::atom("keepalive")>; // streams silent too long?
using admitted_atom = caf::atom_constant<caf::atom("admitted")>;   // the pool started a generation
using recover_atom = caf::atom_constant<caf::atom("recover")>;     // start-up: unfinished ids
using deadline_atom = caf::atom_constant<caf::atom("deadline")>;   // the job timeout passed
using audit_atom = caf::atom_constant<caf::atom("audit")>;         // the global event feed
using events_atom = caf::atom_constant<caf::atom("events")>;       // GET a response's raw events
using check_atom = caf::atom_constant<caf::atom("check")>;         // one readiness check returned
using resolved_atom = caf::atom_constant<caf::atom("resolved")>;   // input references resolved
using prompted_atom = caf::atom_constant<caf::atom("prompted")>;   // a prompt template rendered
using compacted_atom = caf::atom_constant<caf::atom("compacted")>; // the chain so far, compacted
using hosted_atom = caf::atom_constant<caf::atom("hosted")>;       // hosted tools answered
using fault_atom = caf::atom_constant<caf::atom("fault")>; // test hook: fail inside an actor

// The backend pool's protocol, checked by the compiler on both sides.
using backend_pool_actor = caf::typed_actor<
    // Queue a generation for `requester` (its admission and updates go
    // there); answers its ticket at once.
    caf::replies_to<generate_atom, generation_request, caf::actor>::with<std::uint64_t>,
    // Abort a queued or running generation.
    caf::reacts_to<cancel_atom, std::uint64_t>,
    // One model's capabilities (cached for model_cache_ttl; failures are not).
    caf::replies_to<model_atom, std::string>::with<events::result<model_info>>,
    // The model list (cached), for GET /v1/models.
    caf::reacts_to<models_atom, reply_for<std::vector<model_info>>>,
    // The pool's own: a show or a list returned, a generation finished.
    caf::reacts_to<model_atom, std::string, events::result<model_info>>,
    caf::reacts_to<models_atom, events::result<std::vector<model_info>>>,
    caf::reacts_to<finished_atom, std::uint64_t>,
    // Test hook (RIPOSTE_TEST_FAULTS): an exception inside the pool.
    caf::reacts_to<fault_atom, std::string, reply_to>>;

} // namespace riposte::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::actors::reply_to)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::actors::reply_for<riposte::projections::items_page>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::actors::reply_for<riposte::actors::events_page>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::actors::reply_for<riposte::actors::deleted_response>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::actors::reply_for<riposte::actors::token_count>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::actors::reply_for<riposte::actors::compaction>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::actors::reply_for<std::vector<riposte::actors::model_info>>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::events::result<riposte::actors::compaction>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::actors::sink_handle)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(
    riposte::events::result<std::vector<riposte::projections::stream_frame>>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::actors::create_command)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::projections::items_query)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::actors::context_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::actors::append_done)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::actors::load_done)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::actors::generation_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::actors::generation_update)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::actors::model_info)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::events::result<riposte::actors::model_info>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<riposte::actors::model_info>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::events::result<nlohmann::json>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::events::result<std::vector<riposte::actors::model_info>>)
