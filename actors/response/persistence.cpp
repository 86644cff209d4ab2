// Persistence: the write path (append with the expected version, on the
// group-commit writer or the store pool; fold in what was stored, then
// publish), the writer's fast batch for deltas, the snapshots of a finished
// response, and the rebuild of a response from its snapshot and log.
#include "actors/guard.hpp"
#include "actors/response/state.hpp"
#include "events/faults.hpp"
#include "events/ids.hpp"
#include "events/item_index.hpp"
#include "events/json_safe.hpp"
#include "projections/conversation.hpp"

#include <algorithm>
#include <iterator>
#include <memory>
#include <optional>
#include <thread>

namespace riposte::actors::response {

namespace {

namespace ev = events;
using json = nlohmann::json;
using ev::riposte_errc;

// How often a chain stores its whole context (see write_snapshots).
constexpr std::int64_t checkpoint_every = 32;

bool ends_response(const ev::event& e) {
  return std::holds_alternative<ev::response_completed>(e) ||
         std::holds_alternative<ev::response_incomplete>(e) ||
         std::holds_alternative<ev::response_failed>(e) ||
         std::holds_alternative<ev::response_cancelled>(e) ||
         std::holds_alternative<ev::response_deleted>(e);
}

// A blocking create this actor runs, before its outcome, that nobody else
// follows or reads: its batch need not wait for the disk.
bool may_wait_for_outcome(const response_data& st) {
  return st.svc->writer != nullptr && !st.private_log && !st.cmd.response_id.empty() &&
         !st.cmd.stream && !st.cmd.params.value("background", false) && !st.waiters.empty() &&
         st.subs.empty() && st.durable_waiters.empty() &&
         std::none_of(st.sent.begin(), st.sent.end(), ends_response);
}

// Every read that waited for the disk runs once the log is durable past
// what the actor has folded in.
void release_durable_waiters(response_actor* self) {
  auto& st = self->state;
  if (st.unsynced_through != 0 && st.log->durable_position() < st.unsynced_through)
    return;
  st.unsynced_through = 0;
  auto reads = std::move(st.durable_waiters);
  st.durable_waiters.clear();
  for (auto& read : reads)
    read();
}

bool is_delta(const ev::event& e) {
  return std::holds_alternative<ev::output_text_delta>(e) ||
         std::holds_alternative<ev::reasoning_delta>(e) ||
         std::holds_alternative<ev::function_call_arguments_delta>(e) ||
         std::holds_alternative<ev::custom_tool_call_input_delta>(e);
}

// The index entries of the items the batch being sent stores: the input
// with the creation, each output item when it is done.
void index_items(const response_data& st, std::int64_t now, std::vector<ev::marker_ref>& out) {
  const auto& tenant = writing_tenant(st);
  auto add = [&](const json& item) {
    if (item.is_object())
      if (auto id = item.find("id"); id != item.end() && id->is_string() &&
                                     ev::indexable_item_id(id->get_ref<const std::string&>()))
        out.push_back(ev::item_marker(tenant, id->get_ref<const std::string&>(), now, st.id));
  };
  for (const auto& e : st.sent) {
    if (const auto* created = std::get_if<ev::response_created>(&e)) {
      for (const auto& item : created->input)
        add(item);
    } else if (const auto* done = std::get_if<ev::output_item_done>(&e)) {
      add(done->item);
    }
  }
}

// Folds freshly stored events into the view and publishes each one: only
// now, after the append returned, may a client see it.
// `sent`: the typed events this actor appended (then nothing is decoded).
void apply_stored(response_actor* self, std::vector<ev::envelope>& stored,
                  std::vector<ev::event>* sent) {
  auto& st = self->state;
  if (sent != nullptr && sent->size() != stored.size())
    sent = nullptr;
  // The batch that ends the response was folded already (fold_ahead), from
  // this same view: with nobody to render frames for, that fold is the view.
  auto ahead = std::exchange(st.view_ahead, std::nullopt);
  std::size_t folded = 0;
  if (ahead && sent != nullptr && st.subs.empty() && !stored.empty() &&
      ahead->version == static_cast<std::int64_t>(stored.back().seq) &&
      st.view.version + static_cast<std::int64_t>(stored.size()) == ahead->version) {
    st.view = std::move(*ahead);
    folded = stored.size();
  }
  std::vector<projections::stream_frame> frames;
  frames.reserve(stored.size());
  for (std::size_t i = folded; i < stored.size(); ++i) {
    const auto& env = stored[i];
    std::optional<ev::event> decoded;
    if (sent != nullptr) {
      decoded = std::move((*sent)[i]);
    } else {
      auto d = ev::decode(env);
      if (!d) {
        st.broken = true;
        publish_all(st, frames); // what came before it stands
        return;
      }
      decoded = std::move(*d);
    }
    auto seq = static_cast<std::int64_t>(env.seq);
    // Rendered only for someone: a lifecycle frame carries the whole Response.
    // With nobody to render for, the view takes the event's data.
    if (st.subs.empty()) {
      projections::apply_in_place(st.view, std::move(*decoded), seq, env.tenant);
      continue;
    }
    projections::apply_in_place(st.view, *decoded, seq, env.tenant);
    if (auto event = projections::render_frame(st.view, *decoded, seq))
      frames.push_back(std::move(*event));
  }
  publish_all(st, frames);
  if (st.view.terminal()) {
    // A foreign response's context is its owner's (read with its snapshots).
    if (!st.context && !st.foreign)
      st.context = st.context_ahead ? std::move(st.context_ahead) : chain_context_of(st);
    for (auto& sub : st.subs)
      if (sub.live)
        sub.sink->settled(st.id, st.view.status, st.context);
    close_live_subscribers(st);
  }
}

// Folds a fast batch the writer stored (and published) into the view, and
// gives its frames to the subscribers that joined after the flush.
void settle_fast(response_actor* self) {
  auto& st = self->state;
  auto fb = std::move(st.fast);
  st.in_flight = false;
  auto seq = st.view.version;
  const auto& tenant = writing_tenant(st);
  std::vector<projections::stream_frame> late;
  bool anyone_late = std::any_of(st.subs.begin(), st.subs.end(),
                                 [&](const subscription& s) { return s.id >= fb->first_late_sub; });
  bool render = anyone_late && fb->frames.empty();
  st.view_ahead.reset();
  for (auto& e : st.sent) {
    ++seq;
    if (!render) { // nobody needs the event after: the view takes its data
      projections::apply_in_place(st.view, std::move(e), seq, tenant);
      continue;
    }
    projections::apply_in_place(st.view, e, seq, tenant);
    if (auto frame = projections::render_frame(st.view, e, seq))
      late.push_back(std::move(*frame));
  }
  st.published += st.sent.size();
  st.sent.clear();
  if (!fb->durable && fb->last_position > st.log->durable_position())
    st.unsynced_through = fb->last_position;
  if (!anyone_late)
    return;
  const auto& frames = fb->frames.empty() ? late : fb->frames;
  for (auto& sub : st.subs) {
    if (sub.id < fb->first_late_sub)
      continue;
    // One that resumed live after a frame it already had gets none twice.
    std::vector<projections::stream_frame> due;
    std::copy_if(frames.begin(), frames.end(), std::back_inserter(due),
                 [&](const projections::stream_frame& f) { return f.seq > sub.after; });
    if (!sub.live)
      sub.buffer.insert(sub.buffer.end(), due.begin(), due.end());
    else if (!due.empty())
      sub.sink->push_all(due);
  }
}

} // namespace

void want_notice(response_actor* self) {
  auto& st = self->state;
  int expected = fast_batch::in_flight;
  if (!st.fast->state.compare_exchange_strong(expected, fast_batch::wanted,
                                              std::memory_order_acq_rel) &&
      expected == fast_batch::stored)
    settle_fast(self);
}

namespace {

// Deltas only, every subscriber live (or a blocking create's creation,
// with nobody to publish to): the writer stores the batch and publishes its
// frames itself, the actor hears only if it asks.
void submit_fast(response_actor* self, ev::append_request req) {
  auto& st = self->state;
  auto fb = std::make_shared<fast_batch>();
  fb->number = ++st.fast_batches;
  fb->first_late_sub = st.next_sub;
  fb->durable = req.durable;
  if (!st.subs.empty()) {
    // A delta's frame from the text just written for the log.
    auto seq = req.expected_version;
    for (std::size_t i = 0; i < st.sent.size(); ++i)
      if (auto frame = projections::render_frame(
              st.view, st.sent[i], ++seq,
              i < req.events.size() ? std::string_view{req.events[i].text} : std::string_view{}))
        fb->frames.push_back(std::move(*frame));
    for (const auto& sub : st.subs)
      fb->sinks.push_back(sub.sink);
  }
  st.fast = fb;
  caf::actor me = self;
  st.svc->writer->submit(st.log, std::move(req), [me, fb](ev::result<std::vector<ev::envelope>> r) {
    if (!r) {
      fb->state.store(fast_batch::failed, std::memory_order_release);
      caf::anon_send(me, published_atom::value, fb->number, append_done{std::move(r)});
      return;
    }
    // Stored before anyone sees it: a client that reacts to a frame finds
    // it in the actor's view. Later pushes to these sinks come from later
    // jobs of this same thread, so the order holds.
    if (!r->empty())
      fb->last_position = r->back().global_position;
    if (fb->state.exchange(fast_batch::stored, std::memory_order_acq_rel) == fast_batch::wanted)
      caf::anon_send(me, published_atom::value, fb->number, append_done{std::move(r)});
    for (const auto& sink : fb->sinks)
      sink->push_all(fb->frames);
  });
}

// A finished response's snapshots: its view, and its chain context.
// Every checkpoint_every-th response of a chain stores its whole context;
// the others store their own items and their parent, so a turn writes what
// it added, and a rebuild walks back at most to the last checkpoint.
// A conversation's turn stores its own items and the conversation, whose
// log says what came before the turn (never the whole conversation per turn).
std::vector<std::pair<std::string, ev::snapshot>>
snapshots_of(const response_data& st, const projections::response_state& view,
             const projections::chain_segment& context) {
  auto version = static_cast<std::uint64_t>(view.version);
  bool in_conversation = !st.cmd.conversation_id.empty();
  bool checkpoint = !st.turn.parent || (!in_conversation && st.depth % checkpoint_every == 1);
  auto ctx = projections::to_chain_snapshot(
      context, checkpoint, in_conversation ? st.cmd.conversation_id : st.cmd.previous_response_id);
  return {{ev::context_key(st.id), {version, std::move(ctx)}},
          {ev::response_stream(st.id), {version, projections::to_snapshot(view)}}};
}

// The response as a batch that ends it will leave it (the fold is
// deterministic), or nothing if the batch does not end it.
std::optional<projections::response_state> fold_ahead(const response_data& st,
                                                      const ev::append_request& req) {
  // Only for someone: snapshots the log writes with the events, or a waiter.
  bool wanted = (!st.private_log && st.log->snapshots_with_appends()) || !st.waiters.empty();
  if (!wanted || st.foreign || st.view.terminal() ||
      std::none_of(st.sent.begin(), st.sent.end(), ends_response))
    return std::nullopt;
  auto view = st.view;
  auto seq = req.expected_version;
  for (std::size_t i = 0; i < st.sent.size(); ++i)
    projections::apply_in_place(view, st.sent[i], ++seq, req.events[i].tenant);
  if (!view.terminal())
    return std::nullopt;
  return view;
}

// A batch that ends a stored response carries the snapshots it leaves and
// the removal of its in-flight marker, where the log writes them with the
// events: one write, and no store thread to wake after the outcome.
void attach_snapshots(response_data& st, ev::append_request& req,
                      const projections::response_state& view) {
  if (st.private_log || !st.log->snapshots_with_appends() || !view.params.value("store", true))
    return;
  auto context = chain_context_of(st, view);
  req.snapshots = snapshots_of(st, view, *context);
  req.unmark = ev::marker_ref{st.svc->inflight_ns, st.id};
  req.durable = true;
  st.snapshots_sent = true;
  st.context_ahead = std::move(context);
}

// Whoever waits for the Response when a batch that ends it is sent hears it
// from the thread that stored the batch, the moment it is stored (a
// waiter's reply is sent once: the actor's own answer later is a no-op).
struct early_answer {
  std::vector<reply_to> waiters;
  ev::result<json> reply;
  std::function<void()> timed;
  std::shared_ptr<store_steps> steps; // the writer's, for the timing
  // Runs on the writer or a store thread, after the actor was told: nothing
  // may throw out of it (a reply answers once and never throws; the timing
  // is only a metric).
  void operator()() const noexcept {
    try {
      if (timed)
        timed();
    } catch (...) {
    }
    for (const auto& w : waiters)
      w(reply);
  }
};

std::shared_ptr<const early_answer> answer_ahead(response_data& st,
                                                 const projections::response_state& view) {
  if (st.waiters.empty())
    return nullptr;
  // Serialized here, once, straight from the view: the writer thread only
  // hands the bytes over.
  ev::result<json> reply = view.status == "failed"
                               ? blocking_reply(view)
                               : serialized_json(projections::render_text(view));
  auto steps = std::make_shared<store_steps>();
  auto early = std::make_shared<early_answer>(
      early_answer{st.waiters, std::move(reply), phase_timer(st, steps), steps});
  st.answered_ahead = st.waiters.size();
  return early;
}

} // namespace

void flush(response_actor* self) {
  auto& st = self->state;
  if (hold_for_conversation(self))
    return;
  if (st.in_flight && st.fast && !st.pending.empty())
    want_notice(self);
  if (st.in_flight || st.pending.empty() || st.broken)
    return;
  std::vector<ev::new_event> batch;
  auto now = now_micros();
  batch.reserve(st.pending.size());
  for (const auto& e : st.pending)
    batch.push_back(ev::make_new_event(e, writing_tenant(st), now));
  st.sent = std::move(st.pending);
  st.pending.clear();
  st.in_flight = true;
  auto log = st.log;
  auto expected = st.view.version; // -1 (no_stream) for the first batch
  ev::append_request req;
  req.stream = ev::response_stream(st.id);
  req.expected_version = expected;
  req.events = std::move(batch);
  req.echo_data = false; // the actor keeps what it sent
  req.durable = !may_wait_for_outcome(st);
  st.sent_durable = req.durable;
  // Marked no later than the write that opens the stream, so no crash can
  // leave an unmarked, unfinished response behind.
  if (expected == ev::no_stream)
    req.markers.push_back({st.svc->inflight_ns, st.id});
  // The items it stores are found by id (item_reference) from the same write.
  if (!st.private_log)
    index_items(st, now, req.markers);
  std::shared_ptr<const early_answer> early;
  st.view_ahead = fold_ahead(st, req);
  if (st.view_ahead) {
    attach_snapshots(st, req, *st.view_ahead);
    early = answer_ahead(st, *st.view_ahead);
  }
  caf::actor me = self;
  // The actor hears first: a read the answer prompts finds the batch
  // before it in the actor's mailbox.
  auto done = [me, early](ev::result<std::vector<ev::envelope>> stored) {
    bool answer = early && stored;
    caf::anon_send(me, appended_atom::value, append_done{std::move(stored)}, false);
    if (answer)
      (*early)();
  };
  if (st.svc->writer != nullptr && log->group_commits()) {
    // Deltas to live subscribers, or a blocking create's creation (written
    // without a sync: nobody subscribes or reads it yet): the actor hears of
    // it only when it asks, or folds it in with the backend's first update.
    bool fast = expected == ev::no_stream
                    ? !req.durable
                    : std::all_of(st.sent.begin(), st.sent.end(), is_delta) &&
                          std::all_of(st.subs.begin(), st.subs.end(), [&](const subscription& s) {
                            return s.live && s.after <= expected;
                          });
    if (fast) {
      submit_fast(self, std::move(req));
      return;
    }
    std::shared_ptr<append_writer::commit_steps> steps;
    if (early) {
      early->steps->handed = std::chrono::steady_clock::now();
      // The writer's part of them, kept alive by the whole.
      steps = std::shared_ptr<append_writer::commit_steps>(early->steps, &early->steps->commit);
    }
    st.svc->writer->submit(log, std::move(req), done, std::move(steps));
    return;
  }
  auto stats = st.svc->stats;
  auto store_kind = st.svc->store_kind;
  st.svc->store_pool->post(
      [=] {
        auto t0 = std::chrono::steady_clock::now();
        auto stored = std::move(log->append_many({req}).front());
        if (stats)
          stats->event_append(
              store_kind,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
              req.events.size(), stored.has_value());
        done(std::move(stored));
      },
      [=](const std::string& what) { done(ev::make_error(riposte_errc::store_error, what)); });
}

void enqueue(response_actor* self, std::vector<ev::event> evs) {
  auto& st = self->state;
  // Another replica runs it: this process never writes to it.
  if (st.foreign)
    return;
  // An end waiting for its conversation turn is the response's last event
  // (a fault or a keep-alive after it must not land before or after it).
  if (!st.held.empty())
    return;
  for (auto& e : evs)
    st.pending.push_back(std::move(e));
  flush(self);
}

void settle(response_actor* self) {
  auto& st = self->state;
  if (st.fast && st.fast->state.load(std::memory_order_acquire) == fast_batch::stored) {
    settle_fast(self);
    flush(self);
  }
}

void on_appended(response_actor* self, append_done& done, bool snapshot) {
  auto& st = self->state;
  st.in_flight = false;
  if (snapshot) {
    // A failed snapshot costs speed, not data: the events are stored.
    flush(self);
    schedule_passivation(self, st.svc->cfg.passivate_after);
    return;
  }
  if (!done.stored)
    return append_failed(self, done.stored.error());
  // Only a batch written without a sync asks the log how far it is durable
  // (a lock on the log): a synced one is.
  if (!st.sent_durable && !done.stored->empty() &&
      st.log->durable_position() < done.stored->back().global_position)
    st.unsynced_through = done.stored->back().global_position;
  else
    release_durable_waiters(self);
  bool was_created = st.view.exists();
  bool was_terminal = st.view.terminal();
  bool was_deleted = st.view.deleted;
  apply_stored(self, *done.stored, &st.sent);
  st.sent.clear();
  if (!was_created && st.view.exists() && !st.started) {
    if (st.turn.cancel_requested) {
      enqueue(self, {*st.turn.cancel_event});
    } else {
      // A background response answers at once, then waits in the pool. The
      // pool hears of it first: the client's next job, sent once this one
      // is answered, then always queues behind it (a tenant's work runs in
      // the order it was accepted, however this thread is scheduled).
      std::optional<json> queued;
      if (st.view.status == "queued")
        queued = projections::render(st.view);
      start_generation(self);
      if (queued) {
        for (auto& w : st.waiters)
          w(*queued);
        st.waiters.clear();
      }
    }
  }
  if (!was_deleted && st.view.deleted) {
    for (auto& w : st.delete_waiters)
      w(deleted_object{st.id});
    st.delete_waiters.clear();
  }
  if (!was_terminal && st.view.terminal())
    return on_terminal(self);
  flush(self);
}

// A fast batch is in (the writer published it) and this actor asked to hear,
// or it failed. A stored batch was folded in by settle() already; only a
// failure is left to handle here.
void on_published(response_actor* self, std::uint64_t number, append_done& done) {
  auto& st = self->state;
  if (!st.fast || st.fast->number != number || done.stored)
    return;
  st.fast.reset();
  st.in_flight = false;
  append_failed(self, done.stored.error());
}

namespace {

void ask_for_sync(response_actor* self) {
  auto& st = self->state;
  release_durable_waiters(self);
  if (st.durable_waiters.empty() || st.sync_asked)
    return;
  st.sync_asked = true;
  caf::actor me = self;
  st.svc->writer->sync(st.log, [me](ev::result<std::vector<ev::envelope>> r) {
    caf::anon_send(me, synced_atom::value, append_done{std::move(r)});
  });
}

} // namespace

void when_durable(response_actor* self, std::function<void()> read) {
  auto& st = self->state;
  if (st.unsynced_through == 0)
    return read();
  st.durable_waiters.push_back(std::move(read));
  ask_for_sync(self);
}

// A failed sync leaves the reads waiting for the outcome's write (synced),
// or for the failure that breaks the response.
void on_synced(response_actor* self, append_done& done) {
  auto& st = self->state;
  st.sync_asked = false;
  if (done.stored)
    ask_for_sync(self); // a batch stored meanwhile may need another
}

void write_snapshots(response_actor* self) {
  auto& st = self->state;
  auto log = st.log;
  auto snaps = snapshots_of(st, st.view, *st.context);
  caf::actor me = self;
  st.in_flight = true;
  ev::marker_ref unmark{st.svc->inflight_ns, st.id};
  st.svc->store_pool->post(
      [=] {
        // The marker's removal is lazy: a crash that loses it leaves a
        // marker on a finished response, which start-up then just removes.
        auto put = log->put_snapshots(snaps, unmark);
        ev::result<std::vector<ev::envelope>> r = std::vector<ev::envelope>{};
        if (!put)
          r = put.error();
        caf::anon_send(me, appended_atom::value, append_done{std::move(r)}, true);
      },
      [=](const std::string& what) {
        caf::anon_send(me, appended_atom::value,
                       append_done{ev::make_error(riposte_errc::store_error, what)}, true);
      });
}

void load(response_actor* self) {
  auto& st = self->state;
  auto log = st.log;
  auto id = st.id;
  auto seal = st.svc->reasoning_sealer;
  auto inflight_ns = st.svc->inflight_ns;
  caf::actor me = self;
  st.svc->store_pool->post(
      [=] {
        load_done out;
        out.state = projections::read_response(*log, id);
        if (!out.state) {
          caf::anon_send(me, loaded_atom::value, std::move(out));
          return;
        }
        if (out.state->exists() && !out.state->terminal()) {
          auto marked = log->has_marker(inflight_ns, id);
          out.ours = marked && *marked;
        }
        auto ctx = log->get_snapshot(ev::context_key(id));
        // Its owner writes it just after answering, maybe on another
        // replica: a follow-up that came that fast waits for it briefly. (A
        // crash can lose it; then it is rebuilt below.)
        bool rooted = out.state->params.value("previous_response_id", json()).is_null() &&
                      out.state->params.value("conversation", json()).is_null();
        for (int wait = 0; wait < 20 && ctx && !*ctx && out.state->terminal() && !rooted; ++wait) {
          std::this_thread::sleep_for(std::chrono::milliseconds(25));
          ctx = log->get_snapshot(ev::context_key(id));
        }
        if (ctx && *ctx) {
          auto stored = projections::from_chain_snapshot((*ctx)->payload);
          out.context = std::move(stored.segment);
          out.context_parent = std::move(stored.parent_id);
        } else if (ctx && out.state->terminal() && !rooted) {
          // Lost (a crash right after the answer): its own items after its
          // parent's context, as its owner would have stored them. Depth 0:
          // the parent's depth, once known, says.
          out.context = std::make_shared<const projections::chain_segment>(
              nullptr, projections::own_items(*out.state), 0);
          auto conv = out.state->params.value("conversation", json());
          out.context_parent = conv.is_object()
                                   ? conv.value("id", std::string{})
                                   : out.state->params.value("previous_response_id", std::string{});
        }
        // A conversation's turn: what the conversation held before it.
        if (out.context && out.context_parent.rfind("conv_", 0) == 0) {
          auto before = projections::items_before_turn(*log, out.context_parent, id);
          if (before)
            before = unsealed_items(seal.get(), out.state->tenant, std::move(*before));
          auto seg = *out.context;
          seg.parent = before ? std::make_shared<const projections::chain_segment>(
                                    nullptr, std::move(*before), 1)
                              : nullptr;
          seg.depth = 2;
          out.context =
              before ? std::make_shared<const projections::chain_segment>(std::move(seg)) : nullptr;
          out.context_parent.clear();
        }
        caf::anon_send(me, loaded_atom::value, std::move(out));
      },
      [=](const std::string& what) {
        load_done out;
        out.state = ev::make_error(riposte_errc::store_error, what);
        caf::anon_send(me, loaded_atom::value, std::move(out));
      });
}

namespace {

// After a restart: a background response that never left the queue is
// queued again (its events are all there); one that was generating cannot be
// resumed and ends failed, rather than stay in_progress forever.
// What a crash (of this process, of the response's actor, of a replica whose
// lease ran out) left unfinished, now this process's own. Returns true when
// it runs again.
bool take_over_unfinished(response_actor* self) {
  auto& st = self->state;
  if (st.view.exists() && !st.view.terminal()) {
    st.cmd.tenant = st.view.tenant;
    if (st.view.status == "queued" && st.view.params.value("background", false)) {
      st.requeued = true;
      st.cmd.response_id = st.id;
      st.cmd.model = st.view.model;
      st.cmd.params = st.view.params;
      st.cmd.input = st.view.input;
      auto prev = st.view.params.value("previous_response_id", json());
      st.cmd.previous_response_id = prev.is_string() ? prev.get<std::string>() : "";
      auto conv = st.view.params.value("conversation", json());
      st.cmd.conversation_id = conv.is_object() ? conv.value("id", "") : "";
      check_model(self);
      return true;
    }
    enqueue(self, {ev::response_failed{ev::failure_code::server_restarted,
                                       "riposte restarted while this response was being "
                                       "generated",
                                       json()}});
  } else if (st.view.terminal()) {
    // Finished, but the (lazy) removal of its in-flight marker was lost.
    auto log = st.log;
    auto id = st.id;
    auto inflight_ns = st.svc->inflight_ns;
    st.svc->store_pool->post(
        [=] { (void)log->delete_marker(inflight_ns, id, ev::event_log::write_mode::lazy); });
  }
  return false;
}

void finish_loading(response_actor* self) {
  auto& st = self->state;
  self->set_default_handler(caf::print_and_drop);
  self->become(main_behavior(self));
  if (st.view.exists() && !st.view.terminal() && !st.recovering) {
    // Another replica runs it (what this process left unfinished it finds
    // through its markers): read it, never close or run it.
    st.foreign = true;
  } else if (st.recovering && take_over_unfinished(self)) {
    return;
  }
  // An id that was never stored leaves memory at once: lookups of unknown
  // ids must not pile up actors. Nor does a foreign one stay: its next read
  // is read from the log again.
  schedule_passivation(self, st.view.exists() && !st.foreign ? st.svc->cfg.passivate_after
                                                             : std::chrono::milliseconds(0));
}

} // namespace

// Drops what the view already holds (a read that raced another one).
std::vector<ev::envelope>& fresh_only(const response_data& st, std::vector<ev::envelope>& read) {
  read.erase(std::remove_if(read.begin(), read.end(),
                            [&](const ev::envelope& e) {
                              return static_cast<std::int64_t>(e.seq) <= st.view.version;
                            }),
             read.end());
  return read;
}

// Reads what the log holds after the view; the answer comes back to the
// actor as (atom, append_done).
template <class Atom>
void read_newer(response_actor* self, Atom atom) {
  auto& st = self->state;
  auto log = st.log;
  auto stream = ev::response_stream(st.id);
  auto from = static_cast<std::uint64_t>(st.view.version + 1);
  caf::actor me = self;
  st.svc->store_pool->post(
      [=] { caf::anon_send(me, atom, append_done{log->read(stream, from, 100000)}); },
      [=](const std::string& what) {
        caf::anon_send(me, atom, append_done{ev::make_error(riposte_errc::store_error, what)});
      });
}

namespace {

bool watched(const response_data& st) {
  return anyone_waits(st) || !st.subs.empty() || !st.cancel_waiters.empty();
}

} // namespace

// A foreign response is read again when its owner's news comes, and every
// follow_period besides (news may be lost); one read at a time.
void follow(response_actor* self) {
  auto& st = self->state;
  if (!st.foreign || st.view.terminal() || !watched(st)) {
    st.following = false;
    return schedule_passivation(self, std::chrono::milliseconds(0));
  }
  st.following = true;
  if (st.follow_reading) {
    st.follow_again = true;
    return;
  }
  st.follow_reading = true;
  st.follow_again = false;
  ++st.follow_tick; // a tick already on its way is stale now
  read_newer(self, follow_atom::value);
}

void on_follow_tick(response_actor* self, std::uint64_t tick) {
  auto& st = self->state;
  if (tick != st.follow_tick || !st.following)
    return;
  follow(self);
}

void on_news(response_actor* self, std::uint64_t seq) {
  auto& st = self->state;
  ++st.handled;
  if (st.following && st.foreign && !st.recovering &&
      (seq == 0 || static_cast<std::int64_t>(seq) > st.view.version))
    follow(self);
  else
    let_go_if_idle(self);
}

// A response another replica ended while this actor read it: its waiters
// are answered, then it is read again whole, for the chain context its
// owner's snapshots carry (a follow-up needs the whole chain).
void reload_ended(response_actor* self) {
  auto& st = self->state;
  answer_waiters(self);
  st.foreign = false;
  st.context = nullptr;
  load(self);
  self->become(loading_behavior(self));
}

// Until the owner ends it: each read's events are folded and streamed like
// the owner's own, and the waiters are answered once it has ended.
void on_followed(response_actor* self, append_done& done) {
  auto& st = self->state;
  st.follow_reading = false;
  if (!st.foreign || st.recovering)
    return; // being taken over (on_recover reads it)
  if (done.stored && !fresh_only(st, *done.stored).empty()) {
    apply_stored(self, *done.stored, nullptr);
    if (st.view.terminal()) {
      // Ended by its owner.
      st.following = false;
      return reload_ended(self);
    }
  }
  // The owner may not have heard a cancel (news may be lost): it is asked
  // again every follow period, however often news comes.
  if (!st.cancel_waiters.empty() &&
      std::chrono::steady_clock::now() - st.cancel_told_at >= st.svc->follow_period)
    ask_owner_to_cancel(self);
  if (st.follow_again)
    return follow(self);
  self->delayed_send(self, st.svc->follow_period, follow_atom::value, st.follow_tick);
}

// The registry: this response is this process's now (its owner's lease ran
// out). A reading actor reads what the owner appended last, then closes it
// or runs it again like any it took over.
void on_recover(response_actor* self) {
  auto& st = self->state;
  ++st.handled;
  if (!st.foreign || st.recovering) {
    // Already its own (rebuilt as taken over, or running here), or being
    // taken over. An idle one may have had a passivation refused for this
    // message: it asks again.
    if (!st.foreign && idle(st))
      schedule_passivation(self, st.svc->cfg.passivate_after);
    return;
  }
  // Still foreign (never written to) until the owner's last events are in.
  st.recovering = true;
  read_newer(self, recover_atom::value);
}

void on_recover_read(response_actor* self, append_done& done) {
  auto& st = self->state;
  if (!done.stored) {
    // Read again at the next reconcile (the marker is this process's now);
    // meanwhile it is followed as before.
    st.recovering = false;
    st.following = false;
    return follow(self);
  }
  apply_stored(self, fresh_only(st, *done.stored), nullptr);
  st.foreign = false;
  st.following = false;
  if (st.view.terminal()) {
    // Its owner ended it: its marker removed too.
    take_over_unfinished(self);
    st.recovering = false;
    return reload_ended(self);
  }
  if (!take_over_unfinished(self))
    schedule_passivation(self, st.svc->cfg.passivate_after);
  else if (!st.cancel_waiters.empty()) // queued again here: the cancel asked for holds
    cancel_generation(self, "client_cancelled");
}

void on_loaded(response_actor* self, load_done& done) {
  auto& st = self->state;
  if (!done.state) {
    st.broken = done.state.error().code != riposte_errc::not_found;
    if (!st.broken) { // a marker whose stream never got written
      auto log = st.log;
      auto id = st.id;
      auto inflight_ns = st.svc->inflight_ns;
      st.svc->store_pool->post([=] { (void)log->delete_marker(inflight_ns, id); });
    }
    return finish_loading(self);
  }
  st.view = std::move(*done.state);
  st.context = std::move(done.context);
  st.recovering = st.recovering || done.ours;
  // A root response's context is its own items: rebuildable even when its
  // context snapshot was lost (a crash right after the last event).
  if (!st.context && st.view.terminal() &&
      st.view.params.value("previous_response_id", json()).is_null() &&
      st.view.params.value("conversation", json()).is_null())
    st.context = std::make_shared<const projections::chain_segment>(
        projections::chain_segment{nullptr, projections::own_items(st.view), 1});
  if (st.context)
    st.depth = st.context->depth;
  if (done.context_parent.empty())
    return finish_loading(self);
  // Only our own items are stored: the rest is the parent's context.
  caf::actor me = self;
  self->send(registry_of(st), context_atom::value, done.context_parent, st.view.tenant, me);
}

void on_loaded_parent(response_actor* self, context_reply& parent) {
  auto& st = self->state;
  if (parent.context && *parent.context) {
    auto seg = *st.context; // the stored fields, on the parent's chain
    seg.parent = *parent.context;
    if (seg.depth == 0) { // rebuilt from the log
      seg.depth = seg.parent->depth + 1;
      st.depth = seg.depth;
    }
    st.context = std::make_shared<const projections::chain_segment>(std::move(seg));
  } else {
    st.context = nullptr; // children will hear that this context is unavailable
  }
  finish_loading(self);
}

} // namespace riposte::actors::response
