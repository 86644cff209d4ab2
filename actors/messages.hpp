// The actors' protocol in one place: atoms, commands, replies, and each
// long-lived actor's typed interface (registry, backend pool, files,
// prompts). Replies to HTTP travel as `reply_for<T>` callbacks carrying data
// (http/ renders the wire), so no actor knows HTTP. What CAF cannot check is
// listed at the end of this file, with the reason.
#pragma once

#include "actors/event_sink.hpp"
#include "actors/ports/backend.hpp"
#include "events/envelope.hpp"
#include "events/errc.hpp"
#include "events/event_log.hpp"
#include "events/faults.hpp"
#include "events/file_events.hpp"
#include "events/prompt_events.hpp"
#include "projections/chain_context.hpp"
#include "projections/input_items.hpp"
#include "projections/response_view.hpp"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
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

// A Response object (a projection), or a test hook's answer. It may come
// already serialized (see serialized_json), so that a thread other than the
// actor's can answer without rendering it: http/ writes those bytes as is.
using reply_to = reply_for<nlohmann::json>;

// JSON text carried as a JSON value (a binary one), and back.
inline nlohmann::json serialized_json(const std::string& text) {
  return nlohmann::json::binary(nlohmann::json::binary_t::container_type(text.begin(), text.end()));
}
inline std::optional<std::string> serialized_text(const nlohmann::json& value) {
  if (!value.is_binary())
    return std::nullopt;
  const auto& bytes = value.get_binary();
  return std::string(bytes.begin(), bytes.end());
}

// GET /v1/responses/{id}/events and the audit feed: envelopes in order.
struct events_page {
  std::vector<events::envelope> data;
  bool has_more = false;
  // The audit feed's: the last position read, wanted or not (the next
  // read's `after`); 0 where nothing was read.
  std::uint64_t last_position = 0;
};

// Which events of the audit feed a reader wants: by tenant, type and stream
// (empty: any), judged on an event's header, so that the log need not
// build the data of the others.
struct audit_filter {
  std::string tenant, type, stream_id;
  bool wants(const events::envelope& env) const {
    return (tenant.empty() || env.tenant == tenant) && (type.empty() || env.type == type) &&
           (stream_id.empty() || env.stream == stream_id);
  }
};

// DELETE of a response, a file or a prompt: the one deleted now.
struct deleted_object {
  std::string id;
};

// POST /v1/responses/input_tokens: the tokens the planned context holds.
struct token_count {
  std::int64_t input_tokens = 0;
  bool exact = false; // counted by the model's own tokenizer, not estimated
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
  // When http/ made it (a blocking create's phases are timed from here).
  std::chrono::steady_clock::time_point accepted_at{};
  std::int64_t accepted_us = 0; // the same, on the wall clock (µs since the epoch)
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
  // WebSocket `generate: false` (a warm-up): the response completes with no
  // output and no model call, and can be continued.
  bool generate = true;
  // The context of `previous_response_id` when the caller already holds it
  // (a WebSocket connection's latest response, `store: false` included):
  // the parent is not looked up.
  projections::chain_ptr parent_context;
  // `conversation`: its items come before the input, and a completed (or
  // incomplete) response appends its input and output to it.
  std::string conversation_id;
};

// Tool outputs in `input` whose call is not earlier in it: (call_id, param).
// None while `input` holds item references (a call may hide behind one):
// the response actor asks again once they are resolved.
inline std::vector<std::pair<std::string, std::string>> open_outputs(const nlohmann::json& input) {
  std::vector<std::string> calls;
  std::vector<std::pair<std::string, std::string>> open;
  for (std::size_t i = 0; i < input.size(); ++i) {
    const auto& item = input[i];
    if (!item.is_object())
      continue;
    auto type = item.value("type", nlohmann::json()).is_string() ? item["type"].get<std::string>()
                                                                 : std::string{};
    auto call_id = item.value("call_id", nlohmann::json()).is_string()
                       ? item["call_id"].get<std::string>()
                       : std::string{};
    if (type == "item_reference")
      return {};
    if (type == "function_call" || type == "custom_tool_call")
      calls.push_back(call_id);
    else if ((type == "function_call_output" || type == "custom_tool_call_output") &&
             std::find(calls.begin(), calls.end(), call_id) == calls.end())
      open.emplace_back(call_id, "input[" + std::to_string(i) + "].call_id");
  }
  return open;
}

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
  // Unfinished and marked in flight by this process: its actor died, so it
  // is this process's to close (not another replica's to read).
  bool ours = false;
};

using create_atom = caf::atom_constant<caf::atom("create")>;       // registry: new response
using adopt_atom = caf::atom_constant<caf::atom("adopt")>;         // registry: one spawned outside
using fetch_atom = caf::atom_constant<caf::atom("fetch")>;         // GET a response
using await_atom = caf::atom_constant<caf::atom("await")>;         // a response once it ends
using remove_atom = caf::atom_constant<caf::atom("remove")>;       // DELETE a response
using items_atom = caf::atom_constant<caf::atom("items")>;         // GET input_items
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;       // cancel a response / generation
using context_atom = caf::atom_constant<caf::atom("context")>;     // parent context for a child
using update_atom = caf::atom_constant<caf::atom("update")>;       // backend events arrived
using appended_atom = caf::atom_constant<caf::atom("appended")>;   // a store append returned
using published_atom = caf::atom_constant<caf::atom("published")>; // the writer published deltas
using synced_atom = caf::atom_constant<caf::atom("synced")>;       // the log is durable to here
using loaded_atom = caf::atom_constant<caf::atom("loaded")>;       // a rebuild read returned
using claimed_atom = caf::atom_constant<caf::atom("claimed")>;     // an idempotency claim returned
using replay_atom = caf::atom_constant<caf::atom("replay")>;       // the claim's response is stored
using passivate_atom = caf::atom_constant<caf::atom("passivate")>; // idle actor asks to stop
using idle_atom = caf::atom_constant<caf::atom("idle")>;           // an actor idle from now on
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
using news_atom = caf::atom_constant<caf::atom("news")>;           // another replica appended
using deadline_atom = caf::atom_constant<caf::atom("deadline")>;   // the job timeout passed
using audit_atom = caf::atom_constant<caf::atom("audit")>;         // the global event feed
using events_atom = caf::atom_constant<caf::atom("events")>;       // GET a response's raw events
using check_atom = caf::atom_constant<caf::atom("check")>;         // one readiness check returned
using resolved_atom = caf::atom_constant<caf::atom("resolved")>;   // input references resolved
using itemrefs_atom = caf::atom_constant<caf::atom("itemrefs")>;   // item references resolved
using prompted_atom = caf::atom_constant<caf::atom("prompted")>;   // a prompt template rendered
using compacted_atom = caf::atom_constant<caf::atom("compacted")>; // the chain so far, compacted
using hosted_atom = caf::atom_constant<caf::atom("hosted")>;       // hosted tools answered
using tokenized_atom = caf::atom_constant<caf::atom("tokenized")>; // an exact count returned
using conversed_atom = caf::atom_constant<caf::atom("conversed")>; // a conversation's items came
using turned_atom = caf::atom_constant<caf::atom("turned")>; // a turn was added to its conversation
using fault_atom = caf::atom_constant<caf::atom("fault")>; // test hook: fail inside an actor

// The registry's protocol (actors/registry.cpp): what http/ and response
// actors send it. It forwards each message about an existing id to that
// response's actor, rebuilding the actor from its log if needed.
using registry_actor = caf::typed_actor<
    // A new response's actor; the create goes to it with whoever waits (a
    // blocking create, a token count, a compaction) or streams.
    caf::reacts_to<create_atom, create_command, reply_to>,
    caf::reacts_to<create_atom, create_command, reply_for<token_count>>,
    caf::reacts_to<create_atom, create_command, reply_for<compaction>>,
    caf::reacts_to<create_atom, create_command, sink_handle>,
    // A new response's actor, spawned by the HTTP side with its create
    // (start_response): held from now on, its create counted as forwarded.
    caf::reacts_to<adopt_atom, std::string, caf::actor>,
    // id, tenant, then: stream events after a sequence number (-1: all) /
    // the Response now / the Response once it ends / delete / cancel / raw
    // events / input items / a child's chain context (the child is told).
    caf::reacts_to<subscribe_atom, std::string, std::string, std::int64_t, sink_handle>,
    caf::reacts_to<fetch_atom, std::string, std::string, reply_to>,
    caf::reacts_to<await_atom, std::string, std::string, reply_to>,
    caf::reacts_to<remove_atom, std::string, std::string, reply_for<deleted_object>>,
    caf::reacts_to<cancel_atom, std::string, std::string, reply_to>,
    caf::reacts_to<events_atom, std::string, std::string, list_query, reply_for<events_page>>,
    caf::reacts_to<items_atom, std::string, std::string, list_query,
                   reply_for<projections::items_page>>,
    caf::reacts_to<context_atom, std::string, std::string, caf::actor>,
    // A response actor idle since it handled this many forwarded messages.
    caf::reacts_to<passivate_atom, std::string, std::uint64_t>,
    // A response actor idle from now on (its epoch then): the registry asks
    // it again once passivate_after has passed. Its own: that time came
    // for the oldest (one timer for every idle actor, not one each).
    caf::reacts_to<idle_atom, std::string, std::uint64_t>, caf::reacts_to<idle_atom>,
    // The global event feed after a position, at most `limit` events.
    // The feed after a position: `limit` events read, those the filter
    // wants answered; `live` reads only what is durable already (a poller
    // adds no syncs), otherwise what is written is synced and read.
    caf::reacts_to<audit_atom, std::uint64_t, std::int64_t, audit_filter, bool,
                   reply_for<events_page>>,
    // Its own: start-up found these responses unfinished.
    caf::reacts_to<recover_atom, std::vector<std::string>>,
    // News from other replicas (event_log::subscribe_news): responses whose
    // streams now end at these seqs (none: news was missed, any may have
    // grown), and a cancel for whoever runs a response (id, tenant).
    caf::reacts_to<news_atom, std::vector<std::string>, std::vector<std::uint64_t>>,
    caf::reacts_to<cancel_atom, std::string, std::string>,
    // Test hook (RIPOSTE_TEST_FAULTS): fail in the registry (empty id) or in
    // one response's actor.
    caf::reacts_to<fault_atom, std::string, std::string, reply_to>>;

// The response actors (actors/response/behavior.cpp) stay dynamically typed:
// while one rebuilds from its log it answers nothing but its load and keeps
// every other message for later, which a typed behavior cannot express. Only
// the registry and the actor's own jobs talk to one.

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
    // Replicas sharing admission: the store's answer (what it admitted, and
    // what it was told), a reason to ask it again (true: the timer), and
    // tickets of this process another one admitted.
    caf::reacts_to<admitted_atom, events::result<events::admission>,
                   std::vector<events::waiting_job>, std::vector<std::uint64_t>>,
    caf::reacts_to<admitted_atom, bool>, caf::reacts_to<admitted_atom, std::vector<std::uint64_t>>,
    // Test hook (RIPOSTE_TEST_FAULTS): an exception inside the pool.
    caf::reacts_to<fault_atom, std::string, reply_to>>;

// Files (actors/files.cpp): uploads, listing, reading, deleting.
struct file_upload {
  std::string tenant;
  std::string filename;
  std::string purpose;
  std::int64_t expires_after_seconds = 0; // 0: never
  std::shared_ptr<const std::string> bytes;
};

struct file_query {
  std::string tenant;
  std::string purpose; // empty: any
  std::int64_t limit = 10'000;
  bool ascending = false;
  std::string after; // a file id
};

// A page of a tenant's live files.
struct file_page {
  std::vector<events::file_uploaded> data;
  bool has_more = false;
};

// A file's bytes on their way out: `head` once (the file, or why not), then
// `chunk` per piece, then `done`. `chunk` never blocks: it calls `next(true)`
// once the client has taken the piece (false: it is gone), and only then is
// the next piece read. A slow reader holds one chunk of memory and no thread.
struct file_reader {
  std::function<void(events::result<events::file_uploaded>)> head;
  std::function<void(std::string piece, std::function<void(bool)> next)> chunk;
  std::function<void(bool ok)> done;
};

using file_upload_atom = caf::atom_constant<caf::atom("fupload")>;
using file_uploaded_atom = caf::atom_constant<caf::atom("fuploaded")>;
using file_list_atom = caf::atom_constant<caf::atom("flist")>;
using file_get_atom = caf::atom_constant<caf::atom("fget")>;
using file_read_atom = caf::atom_constant<caf::atom("fread")>;
using file_delete_atom = caf::atom_constant<caf::atom("fdelete")>;

using files_actor = caf::typed_actor<
    caf::reacts_to<file_upload_atom, file_upload, reply_for<events::file_uploaded>>,
    caf::reacts_to<file_list_atom, file_query, reply_for<file_page>>,
    // file id, tenant
    caf::reacts_to<file_get_atom, std::string, std::string, reply_for<events::file_uploaded>>,
    caf::reacts_to<file_read_atom, std::string, std::string, file_reader>,
    caf::reacts_to<file_delete_atom, std::string, std::string, reply_for<deleted_object>>,
    // Its own: a tenant's upload finished (with a quota, a tenant's uploads
    // run one at a time).
    caf::reacts_to<file_uploaded_atom, std::string>,
    // Test hook (RIPOSTE_TEST_FAULTS).
    caf::reacts_to<fault_atom, std::string, reply_to>>;

// Prompts (actors/prompts.cpp): versioned templates for `prompt: {id,
// version, variables}`.

// A new prompt, or a new version of `prompt_id` (validated by http/).
struct prompt_draft {
  std::string tenant;
  std::string prompt_id; // empty: a new prompt
  std::string name;
  nlohmann::json instructions; // string or null
  nlohmann::json input = nlohmann::json::array();
  nlohmann::json metadata = nlohmann::json::object();
};

// Every version of a prompt, newest first.
using prompt_versions = std::vector<events::prompt_version_created>;

using prompt_create_atom = caf::atom_constant<caf::atom("pcreate")>;
using prompt_get_atom = caf::atom_constant<caf::atom("pget")>;
using prompt_versions_atom = caf::atom_constant<caf::atom("pversions")>;
using prompt_delete_atom = caf::atom_constant<caf::atom("pdelete")>;

using prompts_actor = caf::typed_actor<
    caf::reacts_to<prompt_create_atom, prompt_draft, reply_for<events::prompt_version_created>>,
    // tenant, prompt id, version ("": the latest)
    caf::reacts_to<prompt_get_atom, std::string, std::string, std::string,
                   reply_for<events::prompt_version_created>>,
    // tenant, prompt id
    caf::reacts_to<prompt_versions_atom, std::string, std::string, reply_for<prompt_versions>>,
    caf::reacts_to<prompt_delete_atom, std::string, std::string, reply_for<deleted_object>>,
    // Test hook (RIPOSTE_TEST_FAULTS).
    caf::reacts_to<fault_atom, std::string, reply_to>>;

// Conversations (actors/conversations.cpp): one actor per conversation,
// found through the conversations directory. Every answer is the wire data
// http/ shows: a conversation object, an item, {data, has_more} for a page,
// {id} for a deleted conversation.
struct conversation_op {
  enum class kind : std::uint8_t {
    create,      // metadata, items
    get,         //
    update,      // metadata (null: none)
    remove,      //
    add_items,   // items
    list_items,  // query
    get_item,    // item_id
    delete_item, // item_id
    // A response's turn (item_id: the response's id; holder: its actor):
    // begin locks the conversation for it and answers its items as a chain
    // context (through `context`, not the op's reply); read does the same
    // without a lock (a token count); finish appends `items` and unlocks;
    // end unlocks.
    begin_turn,
    read_turn,
    finish_turn,
    end_turn,
    // Its stored events (query: after a seq, limit): {data: [envelope], has_more}.
    events,
  };
  kind what = kind::get;
  std::string tenant;
  std::string conversation_id; // empty for create
  std::string item_id;
  nlohmann::json metadata = nlohmann::json::object();
  // Validated by http/: each with an id (the client's, or a new one).
  nlohmann::json items = nlohmann::json::array();
  list_query query;
  caf::actor holder;
  // begin_turn, read_turn: the conversation's items, one segment per batch
  // added (each kept across turns, so what a backend made of it is reused).
  reply_for<context_reply> context;
};

using conversation_atom = caf::atom_constant<caf::atom("conv")>;
using conversation_done_atom = caf::atom_constant<caf::atom("convdone")>;
using follow_atom = caf::atom_constant<caf::atom("follow")>; // read a foreign response's new events

using conversations_actor =
    caf::typed_actor<caf::reacts_to<conversation_atom, conversation_op, reply_to>,
                     // A conversation's actor idle since it handled this many ops.
                     caf::reacts_to<passivate_atom, std::string, std::uint64_t>,
                     // Test hook (RIPOSTE_TEST_FAULTS).
                     caf::reacts_to<fault_atom, std::string, reply_to>>;

// Plain data CAF can inspect (print, and check like any message type).
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, token_count& x) {
  return f(caf::meta::type_name("token_count"), x.input_tokens, x.exact);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, deleted_object& x) {
  return f(caf::meta::type_name("deleted_object"), x.id);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, model_info& x) {
  return f(caf::meta::type_name("model_info"), x.id, x.created, x.capabilities, x.context_length,
           x.num_ctx, x.family, x.owned_by);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, audit_filter& x) {
  return f(caf::meta::type_name("audit_filter"), x.tenant, x.type, x.stream_id);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, file_query& x) {
  return f(caf::meta::type_name("file_query"), x.tenant, x.purpose, x.limit, x.ascending, x.after);
}

} // namespace riposte::actors

namespace riposte::projections {
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, items_query& x) {
  return f(caf::meta::type_name("items_query"), x.limit, x.ascending, x.after, x.before);
}
} // namespace riposte::projections

namespace riposte::events {
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, waiting_job& x) {
  return f(caf::meta::type_name("waiting_job"), x.ticket, x.tenant, x.asked_at_us, x.limits);
}
} // namespace riposte::events

// What CAF cannot check. CAF 0.17 wants every message type inspectable, so
// that it could be serialized to another node; riposte's messages never
// leave the process, and these cannot be inspected:
namespace caf {
// Callbacks into http/ (and file_reader, sink_handle below): RESTinio's
// threads are not actors, and a CAF request from them would add a hop to
// every reply.
template <class T>
struct allowed_unsafe_message_type<riposte::actors::reply_for<T>> : std::true_type {};
// A value or an error: whatever T is (mostly JSON or shared data, below).
template <class T>
struct allowed_unsafe_message_type<riposte::events::result<T>> : std::true_type {};
} // namespace caf
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::actors::file_reader)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::actors::sink_handle)
// JSON values (nlohmann::json has no inspect, and request bodies, events and
// items are JSON throughout riposte).
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::actors::create_command)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::actors::prompt_draft)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::actors::conversation_op)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::actors::generation_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::actors::generation_update)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::actors::append_done)
// Shared, immutable data passed by pointer: an upload's bytes, a chain's
// context.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::actors::file_upload)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::actors::context_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::actors::load_done)
