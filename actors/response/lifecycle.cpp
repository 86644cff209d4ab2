// The end of a response and of its actor: the chain context a follow-up
// continues from, the snapshots, the answers to whoever waits, passivation
// when nothing more can come, and repair after a contained fault.
#include "actors/response/state.hpp"
#include "events/faults.hpp"

#include <algorithm>
#include <stdexcept>

namespace riposte::actors::response {

namespace ev = events;
using json = nlohmann::json;

registry_actor registry_of(const response_data& st) {
  if (auto r = st.svc->registry())
    return r;
  return st.registry;
}

bool anyone_waits(const response_data& st) {
  return !st.waiters.empty() || !st.count_waiters.empty() || !st.compaction_waiters.empty();
}

void fail_waiters(response_data& st, const ev::error_info& err) {
  for (auto& w : st.waiters)
    w(err);
  st.waiters.clear();
  st.answered_ahead = 0;
  for (auto& w : st.count_waiters)
    w(err);
  st.count_waiters.clear();
  for (auto& w : st.compaction_waiters)
    w(err);
  st.compaction_waiters.clear();
  for (auto& w : st.cancel_waiters)
    w(err);
  st.cancel_waiters.clear();
}

// Where a blocking create's wall time went, once it is answered: from
// http/ to the actor, preparing it (references, context, the creation
// handed to the writer), the backend until its first update and until its
// last, then storing the end and answering.
std::function<void()> phase_timer(const response_data& st,
                                  std::shared_ptr<const store_steps> store) {
  const auto& c = st.clock;
  using tp = std::chrono::steady_clock::time_point;
  if (!st.svc->stats || st.cmd.accepted_at == tp{} || c.sent == tp{} || c.finished == tp{})
    return nullptr;
  auto seconds = [](tp from, tp to) { return std::chrono::duration<double>(to - from).count(); };
  return [stats = st.svc->stats, seconds, accepted = st.cmd.accepted_at, c, store] {
    auto now = std::chrono::steady_clock::now();
    stats->create_phases({seconds(accepted, c.started), seconds(c.started, c.sent),
                          seconds(c.sent, c.first), seconds(c.first, c.finished),
                          seconds(c.finished, now)});
    // Its store_and_answer phase, step by step, where the writer answered.
    if (store) {
      const auto& w = store->commit;
      if (c.finished <= store->handed && store->handed <= w.taken && w.taken <= w.written &&
          w.written <= now)
        stats->store_waits({seconds(c.finished, store->handed), seconds(store->handed, w.taken),
                            seconds(w.taken, w.written), seconds(w.written, now)});
    }
    // Its backend's steps split the first update's wait where they lie
    // within it, in order (the first update was the call's last).
    if (!c.backend)
      return;
    const auto& b = *c.backend;
    if (c.sent <= b.taken && b.taken <= b.sent && b.sent <= b.first_byte &&
        b.first_byte <= b.done && b.done <= c.first)
      stats->backend_waits({seconds(c.sent, b.taken), seconds(b.taken, b.sent),
                            seconds(b.sent, b.first_byte), seconds(b.first_byte, b.done),
                            seconds(b.done, c.first)});
  };
}

void answer_waiters(response_actor* self) {
  auto& st = self->state;
  // Those answered as the batch that ended it was stored are answered.
  auto ahead = std::min(st.answered_ahead, st.waiters.size());
  st.answered_ahead = 0;
  if (ahead == 0 && !st.waiters.empty())
    if (auto timed = phase_timer(st))
      timed();
  if (st.waiters.size() > ahead) {
    auto reply = blocking_reply(st.view);
    for (auto w = st.waiters.begin() + static_cast<std::ptrdiff_t>(ahead); w != st.waiters.end();
         ++w)
      (*w)(reply);
  }
  st.waiters.clear();
  if (!st.compaction_waiters.empty()) {
    auto reply =
        st.view.status == "failed"
            ? ev::result<compaction>{blocking_reply(st.view).error()}
            : compaction_reply(st.view, st.cmd, st.turn,
                               st.resolved_input.is_null() ? st.cmd.input : st.resolved_input);
    for (auto& w : st.compaction_waiters)
      w(reply);
    st.compaction_waiters.clear();
  }
  for (auto& w : st.cancel_waiters)
    w(projections::render(st.view));
  st.cancel_waiters.clear();
  schedule_passivation(self, st.view.params.value("store", true) ? st.svc->cfg.passivate_after
                                                                 : std::chrono::milliseconds(0));
}

// The chain context a follow-up of this response continues from: what the
// model saw (files and images by reference as they were resolved for this
// turn, the stored input keeping the references), then what it said.
projections::chain_ptr chain_context_of(const response_data& st,
                                        const projections::response_state& view) {
  auto own = projections::own_items(view);
  if (!st.resolved_input.is_null()) {
    own = st.resolved_input;
    for (const auto& item : view.output)
      own.push_back(item);
  }
  // A compaction made for this turn stands before its input, as the model
  // saw it: it replaces what came before this turn, not this turn's input.
  if (st.compaction_item.is_object()) {
    json ordered = json::array({st.compaction_item});
    for (auto& item : own)
      if (item.value("id", json()) != st.compaction_item["id"])
        ordered.push_back(std::move(item));
    own = std::move(ordered);
  }
  projections::chain_segment seg{
      st.turn.parent, unsealed_items(st.turn.seal, st.cmd.tenant, std::move(own)), st.depth};
  seg.model = view.model;
  seg.instructions_fp = projections::fingerprint_of(view.params.value("instructions", json()));
  seg.prefix_tokens = projections::cacheable_prefix(view);
  return std::make_shared<const projections::chain_segment>(std::move(seg));
}

projections::chain_ptr chain_context_of(const response_data& st) {
  return chain_context_of(st, st.view);
}

void on_terminal(response_actor* self) {
  auto& st = self->state;
  if (st.svc->stats)
    st.svc->stats->response_finished(st.view.model,
                                     st.view.params.value("background", false) ? "background"
                                     : st.cmd.stream                           ? "stream"
                                                                               : "blocking",
                                     st.view.status);
  release_conversation(self);
  if (!st.context) // set as the stream closed, when someone streamed
    st.context = chain_context_of(st);
  // Snapshots are a cache of the fold: the view for reads, the chain context
  // for follow-ups (so a child costs one read at any chain depth). Where the
  // log can, the batch that ended the response carried them (see flush);
  // otherwise the answer does not wait for them: the events are stored, and
  // this actor serves reads until the snapshots are in.
  if (st.view.params.value("store", true) && !st.snapshots_sent)
    write_snapshots(self);
  answer_waiters(self);
  shed_creation(st);
}

// What only the create and its generation read. An ended response keeps its
// view and chain context for reads and follow-ups (up to 10,000 of them idle
// by default): what it held besides would be most of its memory, and a
// response loaded from the store never had it.
void shed_creation(response_data& st) {
  st.cmd.params = json::object();
  st.cmd.input = json::array();
  st.cmd.sampling = json::object();
  st.cmd.parent_context = nullptr;
  st.cmd.open_call_ids = {};
  st.resolved_input = json();
  st.compaction_item = json();
  st.compacted_history = nullptr;
  st.exact_plan = nullptr;
  st.turn.hosted_calls = {};
  st.turn.hosted_items = json::array();
  st.turn.sources = {};
  st.turn.answer_text = {};
  st.pending.shrink_to_fit();
  st.sent.shrink_to_fit();
  st.held = {};
  st.waiters = {};
}

void append_failed(response_actor* self, const ev::error_info& err) {
  auto& st = self->state;
  st.broken = true;
  st.sent.clear();
  release_conversation(self);
  if (st.generating)
    self->send(st.svc->backend_pool(), cancel_atom::value, st.ticket);
  fail_waiters(st, err);
  for (auto& w : st.delete_waiters)
    w(err);
  st.delete_waiters.clear();
  // Reads waiting for the disk: dropped, each is answered a server error.
  st.durable_waiters.clear();
  for (auto& sub : st.subs) // they would otherwise get keep-alives forever
    sub.sink->fail(err);
  st.subs.clear();
  schedule_passivation(self, std::chrono::milliseconds(0));
}

bool idle(const response_data& st) {
  return !st.in_flight && !st.generating && st.pending.empty() && !anyone_waits(st) &&
         st.delete_waiters.empty() && st.cancel_waiters.empty() && st.subs.empty() &&
         st.durable_waiters.empty() &&
         (!st.view.exists() || st.view.terminal() || st.broken || st.foreign);
}

void let_go_if_idle(response_actor* self) {
  auto& st = self->state;
  if (idle(st))
    schedule_passivation(self,
                         st.foreign ? std::chrono::milliseconds(0) : st.svc->cfg.passivate_after);
}

// At once: a message to itself. After passivate_after: the registry's one
// sweep timer asks it again (no clock timer per response).
void schedule_passivation(response_actor* self, std::chrono::milliseconds after) {
  auto& st = self->state;
  auto epoch = ++st.epoch;
  if (after.count() <= 0)
    self->send(self, passivate_atom::value, epoch);
  else if (after == st.svc->cfg.passivate_after)
    self->send(registry_of(st), idle_atom::value, st.id, epoch);
  else
    self->delayed_send(self, after, passivate_atom::value, epoch);
}

// A passivation tick: ask the registry whether nothing is on its way.
void on_passivate_tick(response_actor* self, std::uint64_t epoch) {
  auto& st = self->state;
  if (epoch != st.epoch || !idle(st))
    return;
  self->send(registry_of(st), passivate_atom::value, st.id, st.handled);
}

// The message's requester has its error already. The response must not hang:
// a running generation is stopped and the response ends failed; if the actor
// faults again while repairing itself, it stops, and the registry rebuilds it
// from the log on its next message (which closes the response the same way).
void on_fault(response_actor* self, const std::string& what) {
  auto& st = self->state;
  ev::report_fault("response", what, st.id);
  if (++st.faults > 1)
    throw std::runtime_error("a second fault while repairing: " + what);
  if (!st.view.exists() && !st.in_flight) {
    // Nothing stored yet: the create fails like any rejected one.
    fail_create(self, ev::server_fault());
    return;
  }
  if (st.broken || st.view.terminal() || st.view.deleted) {
    schedule_passivation(self, std::chrono::milliseconds(0));
    return;
  }
  // The response ends failed: after the generation's last update if one
  // runs, at once if it is stored, or (its creation still being stored) as
  // the stored creation's first step (see on_appended).
  st.turn.cancel_event = faulted();
  if (st.generating) {
    st.turn.cancel_requested = false; // cancel_generation sets it again
    cancel_generation(self, "server_error");
    return;
  }
  st.turn.cancel_requested = true;
  if (st.view.exists())
    enqueue(self, {*st.turn.cancel_event});
}

} // namespace riposte::actors::response
