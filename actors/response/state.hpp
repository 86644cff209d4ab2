// The response actor's state, and the steps its files share. One actor per
// response; its work is split by concern, each file one part of it:
//   behavior.cpp     the handlers, each one line naming its step
//   creation.cpp     prompt -> model check -> item references -> file
//                    references -> parent -> context plan (exact counts,
//                    compaction) -> idempotency claim -> record
//   generation.cpp   the backend request, its updates through decide, stops
//   hosted_tools.cpp web search and image generation rounds, off the actor
//   persistence.cpp  append (group commit, the writer's fast batch), load,
//                    snapshots
//   subscribers.cpp  streams: catch-up from the log, live fan-out, keep-alive
//   lifecycle.cpp    the end: answers, snapshots, passivation, faults
//   queries.cpp      reads and commands on a stored response
//   decide.cpp       the rules, pure (no actor, no I/O)
// Internal to actors/response/: everything else sees spawn_response_actor.
#pragma once

#include "actors/messages.hpp"
#include "actors/response/context_plan.hpp"
#include "actors/response/decide.hpp"
#include "actors/services.hpp"
#include "events/event.hpp"
#include "projections/chain_context.hpp"
#include "projections/response_view.hpp"
#include "projections/stream_events.hpp"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace riposte::actors::response {

// Counts a subscriber in riposte_streams_active for as long as it is held.
class active_stream {
public:
  explicit active_stream(adapters::observability::metrics* stats)
    : stats_(stats) {
    if (stats_)
      stats_->streams_active().Increment();
  }
  ~active_stream() {
    if (stats_)
      stats_->streams_active().Decrement();
  }
  active_stream(const active_stream&) = delete;
  active_stream& operator=(const active_stream&) = delete;

private:
  adapters::observability::metrics* stats_;
};

// An SSE session (or any sink) following this response.
struct subscription {
  std::uint64_t id = 0;
  std::shared_ptr<event_sink> sink;
  bool live = false;                             // false while catching up from the log
  std::int64_t after = -1;                       // catching up: events after this seq
  std::vector<projections::stream_frame> buffer; // published while catching up
  std::shared_ptr<active_stream> counted;
};

// A batch of deltas whose frames the writer thread publishes itself, right
// after the append, to the subscribers the actor had when it flushed (or a
// blocking create's creation, which has no subscribers and no sync). The
// actor is sent `published` only when it asked (it has more to append) or
// the append failed; otherwise it folds the batch in (settle) when its next
// message comes. Each streamed token thus costs the actor one message, not two.
struct fast_batch {
  enum : int { in_flight, wanted, stored, failed };
  std::atomic<int> state{in_flight};
  std::uint64_t number = 0;
  std::vector<projections::stream_frame> frames;  // rendered when someone was subscribed
  std::vector<std::shared_ptr<event_sink>> sinks; // the live subscribers at flush
  std::uint64_t first_late_sub = 0;               // subscribers from this id joined after
  std::uint64_t last_position = 0;                // the batch's last, once stored
  bool durable = true;                            // written with a sync
};

struct response_data {
  // When a create's phases began (see time_phases): the actor took the
  // command, the backend was asked, its first update came, its last.
  struct phase_clock {
    std::chrono::steady_clock::time_point started, sent, first, finished;
    // The first backend call's own steps (an HTTP backend's), from the
    // update that finished it.
    std::optional<generation_update::steps> backend;
  } clock;
  std::shared_ptr<const services> svc;
  registry_actor registry;
  std::string id;
  events::event_log* log = nullptr;
  std::shared_ptr<events::event_log> private_log; // `store: false`: dropped with the actor
  projections::response_state view;
  // The view the batch in flight leaves, when it ends the response and was
  // folded ahead (persistence.cpp): adopted once the batch is stored.
  std::optional<projections::response_state> view_ahead;
  create_command cmd;
  turn_state turn;                // what the rules keep (decide.hpp)
  std::int64_t depth = 1;         // responses in the chain, this one included
  projections::chain_ptr context; // the parent's, then this response's items; once terminal
  // Persistence
  std::vector<events::event> pending;
  std::vector<events::event> sent; // the batch being appended, typed
  bool in_flight = false;
  std::shared_ptr<fast_batch> fast; // `sent`, when the writer publishes it
  std::uint64_t fast_batches = 0;
  bool broken = false; // an append failed: the actor answers from what it has
  // A blocking create's events before its outcome are stored without a sync
  // (nobody is told of them before it, and its synced write makes all before
  // it durable). The last global position so stored, until the log is
  // durable past it (0: nothing is waiting for the disk); a read of the
  // response meanwhile waits for it (a sync is asked for).
  std::uint64_t unsynced_through = 0;
  bool sent_durable = true; // `sent` is written with a sync
  // `sent` ends the response and carries its snapshots (where the log writes
  // them with the events); the chain context they hold, once stored.
  bool snapshots_sent = false;
  projections::chain_ptr context_ahead;
  std::vector<std::function<void()>> durable_waiters;
  bool sync_asked = false;
  // Who waits: a blocking create (the Response), a token count, a
  // compaction; a delete; a cancel (the Response once it stops).
  std::vector<reply_to> waiters;
  std::size_t answered_ahead = 0; // the first ones, by the write that ended it
  std::vector<reply_for<token_count>> count_waiters;
  std::vector<reply_for<compaction>> compaction_waiters;
  std::vector<reply_for<deleted_object>> delete_waiters;
  std::vector<reply_to> cancel_waiters;
  // Generation
  std::uint64_t ticket = 0;
  bool generating = false;
  bool started = false;    // the generation was asked for (it may be over already)
  bool requeued = false;   // rebuilt from the store while queued: generate, record nothing
  bool recovering = false; // start-up found it marked in flight
  // Unfinished and run by another replica: this actor only reads it. It never
  // writes; while someone waits or streams it follows the log, otherwise it
  // lets go at once, so the next read is read afresh.
  bool foreign = false;
  bool following = false;
  // At most one read of the log in flight; news meanwhile reads again after
  // it. Each read schedules the next tick (the poll behind the news); an
  // earlier read makes that tick stale.
  bool follow_reading = false;
  bool follow_again = false;
  std::uint64_t follow_tick = 0;
  // When the owner was last asked to cancel (a cancel asked for here).
  std::chrono::steady_clock::time_point cancel_told_at;
  model_info model;        // capabilities, family, window: from the backend
  // context_management compaction: the item this response opens its output
  // with, and the chain it stands for (user messages, then it).
  nlohmann::json compaction_item;
  projections::chain_ptr compacted_history;
  bool compaction_tried = false;
  nlohmann::json resolved_input; // input with file references resolved (null: none)
  // The plan while the backend's tokenizer counts it (null otherwise).
  std::unique_ptr<context_planner> exact_plan;
  // The request the plan counted, when it dropped nothing: the generation
  // that starts right after the plan sends it instead of building it again.
  std::optional<generation_request> planned_request;
  // `conversation`: none, locked for this response (its items read), the
  // turn being appended, or over (appended, or released). A completed or
  // incomplete end waits in `held` until its turn is in the conversation.
  enum class conversation_turn : std::uint8_t { none, locked, appending, over };
  conversation_turn conversation = conversation_turn::none;
  std::vector<events::event> held;
  // Subscribers
  std::vector<subscription> subs;
  std::uint64_t next_sub = 1;
  std::uint64_t published = 0; // events pushed so far; a keep-alive tick compares
  bool keepalive_armed = false;
  // Passivation and faults
  std::uint64_t handled = 0; // registry-forwarded messages handled so far
  int faults = 0;            // exceptions contained in this actor's handlers
  std::uint64_t epoch = 0;   // bumps on activity; a stale passivation tick is ignored
};

using response_actor = caf::stateful_actor<response_data>;

// The tenant the response's events are written for: its create's, or, for
// a response loaded from the store, its own.
inline const std::string& writing_tenant(const response_data& st) {
  return st.cmd.tenant.empty() ? st.view.tenant : st.cmd.tenant;
}

// --- behavior.cpp -----------------------------------------------------------
caf::behavior main_behavior(response_actor* self);
caf::behavior loading_behavior(response_actor* self);

// --- creation.cpp -----------------------------------------------------------
// A new response (a blocking create waits, a streaming one subscribes).
void on_create(response_actor* self, create_command& cmd);
// Creation, step 1: the model must be served and able to do what is asked.
void check_model(response_actor* self);
void on_prompted(response_actor* self, events::result<nlohmann::json>& rendered);
void on_item_refs(response_actor* self, events::result<nlohmann::json>& resolved);
void on_resolved(response_actor* self, events::result<nlohmann::json>& resolved);
void on_parent(response_actor* self, context_reply& parent);
void on_claimed(response_actor* self, events::result<nlohmann::json>& claim);
void on_replay(response_actor* self, const std::string& winner);
// A create that ends before anything is stored: its waiters hear why.
void fail_create(response_actor* self, const events::error_info& err);
void on_compacted(response_actor* self, events::result<compaction>& compacted);
void on_tokenized(response_actor* self, events::result<std::int64_t>& tokens);

// --- conversation_turn.cpp --------------------------------------------------
// Creation, step 4 for a `conversation`: lock it (or, for a token count or a
// compaction, just read it); its items come back as the parent context.
void begin_conversation_turn(response_actor* self);
void on_conversation(response_actor* self, context_reply& items);
// Before a flush: a completed or incomplete end is held back until all
// before it is stored, then the turn (input, then output) is appended to the
// conversation; true while that waits.
bool hold_for_conversation(response_actor* self);
void on_turn_appended(response_actor* self, events::result<nlohmann::json>& appended);
// The response ends otherwise (failed, cancelled, refused): unlock.
void release_conversation(response_actor* self);

// --- generation.cpp ---------------------------------------------------------
// The generation this response asks for, as planned (window, truncation).
generation_request make_request(const response_data& st);
void start_generation(response_actor* self);
void on_update(response_actor* self, generation_update& u);
// Stops generating: the backend request is aborted, and the stop's event
// follows once the backend's last update is in.
void cancel_generation(response_actor* self, std::string reason);
void on_deadline(response_actor* self);
void on_admitted(response_actor* self);

// --- hosted_tools.cpp -------------------------------------------------------
// Runs the pending hosted calls off the actor (the providers block).
void run_hosted_tools(response_actor* self);
void on_hosted_results(response_actor* self, events::result<nlohmann::json>& answers);

// --- persistence.cpp --------------------------------------------------------
// Appends events after those already pending, in order.
void enqueue(response_actor* self, std::vector<events::event> evs);
void flush(response_actor* self);
// First thing in every handler: a fast batch the writer has stored is folded
// in, so the actor never answers from a view behind its own log.
void settle(response_actor* self);
// Asks the writer to say when the fast batch is in (more waits to be
// appended, or someone joined who needs its frames); it may be in already.
void want_notice(response_actor* self);
void on_appended(response_actor* self, append_done& done, bool snapshot);
void on_published(response_actor* self, std::uint64_t number, append_done& done);
// Runs `read` once every event the actor has folded in is durable: at once,
// or after a sync it asks the writer for. Every read of the response goes
// through here, so none serves an event a crash could take back.
void when_durable(response_actor* self, std::function<void()> read);
void on_synced(response_actor* self, append_done& done);
// Writes a finished stored response's snapshots (view and chain context),
// unless the batch that ended it carried them.
void write_snapshots(response_actor* self);
// Loads the snapshot and the events after it, on the store pool.
void load(response_actor* self);
// A foreign response someone waits for or streams: read what the log gained.
void follow(response_actor* self);
void on_followed(response_actor* self, append_done& done);
void on_follow_tick(response_actor* self, std::uint64_t tick);
// Another replica appended to this response (up to `seq`; 0: news was
// missed), or asks whoever runs it to cancel it.
void on_news(response_actor* self, std::uint64_t seq);
void on_remote_cancel(response_actor* self, const std::string& tenant);
// Asks the replica that runs this foreign response to cancel it.
void ask_owner_to_cancel(response_actor* self);
// This process took the response over (the registry says so).
void on_recover(response_actor* self);
void on_recover_read(response_actor* self, append_done& done);
void on_loaded(response_actor* self, load_done& done);
void on_loaded_parent(response_actor* self, context_reply& parent);

// --- subscribers.cpp --------------------------------------------------------
void add_subscriber(response_actor* self, std::shared_ptr<event_sink> sink, bool live,
                    std::int64_t after);
// Pushes stream events to every subscriber, in seq order.
void publish_all(response_data& st, const std::vector<projections::stream_frame>& frames);
void close_live_subscribers(response_data& st);
void on_subscribe(response_actor* self, const std::string& tenant, std::int64_t after,
                  sink_handle& h);
void on_replayed(response_actor* self, std::uint64_t sub_id,
                 events::result<std::vector<projections::stream_frame>>& replay);
void on_keepalive(response_actor* self, std::uint64_t published_then);
void on_gone(response_actor* self, std::uint64_t sub_id);

// --- lifecycle.cpp ----------------------------------------------------------
// The response ended: its chain context, its snapshots, its answers.
void on_terminal(response_actor* self);
// Lets go of what only the create and its generation needed, once it ended.
void shed_creation(response_data& st);
// The chain context a follow-up of this finished response continues from.
projections::chain_ptr chain_context_of(const response_data& st);
// The same for `view`, the response as a batch on its way will leave it.
projections::chain_ptr chain_context_of(const response_data& st,
                                        const projections::response_state& view);
void answer_waiters(response_actor* self);
// A blocking answer's way through the writer: when the actor handed the
// batch that ends it over, and the writer's own steps (set on its thread
// before the answer runs).
struct store_steps {
  std::chrono::steady_clock::time_point handed;
  append_writer::commit_steps commit;
};
// Records where a blocking create's wall time went, when called (as it is
// answered), with its store steps if `store` has them; nothing when metrics
// are off or the create was not timed.
std::function<void()> phase_timer(const response_data& st,
                                  std::shared_ptr<const store_steps> store = nullptr);
// Does a create's requester wait for its answer (not a stream)?
bool anyone_waits(const response_data& st);
// Every create's requester hears `err`.
void fail_waiters(response_data& st, const events::error_info& err);
// An append failed: the actor stops generating and answers from what it has.
void append_failed(response_actor* self, const events::error_info& err);
bool idle(const response_data& st);
// A message came that changed nothing: an idle actor (perhaps refused a
// passivation while it was on its way) asks to go again.
void let_go_if_idle(response_actor* self);
void schedule_passivation(response_actor* self, std::chrono::milliseconds after);
void on_passivate_tick(response_actor* self, std::uint64_t epoch);
// An exception was contained in one of this actor's handlers.
void on_fault(response_actor* self, const std::string& what);
// The registry as it is now (a restart swaps it), or the one that spawned us.
registry_actor registry_of(const response_data& st);

// --- queries.cpp ------------------------------------------------------------
bool visible_to(const response_data& st, const std::string& tenant);
// Created by this actor and on its way into the log: an idempotent replay may
// already wait for it.
bool creating_for(const response_data& st, const std::string& tenant);
events::error_info not_found(const std::string& id, std::string param = {});
void on_fetch(response_actor* self, const std::string& tenant, reply_to& r);
void on_await(response_actor* self, const std::string& tenant, reply_to& r);
void on_items(response_actor* self, const std::string& tenant, list_query& q,
              reply_for<projections::items_page>& r);
void on_events(response_actor* self, const std::string& tenant, list_query& q,
               reply_for<events_page>& r);
void on_cancel(response_actor* self, const std::string& tenant, reply_to& r);
void on_remove(response_actor* self, const std::string& tenant, reply_for<deleted_object>& r);
void on_child_context(response_actor* self, const std::string& tenant, caf::actor& child);

} // namespace riposte::actors::response
