// Subscribers: SSE sessions (or any sink) following a response. A new one
// catches up from the log (a store read) while what is published meanwhile
// waits in its buffer; live ones get every frame as it is stored; silent
// streams get keep-alives; the last one leaving a foreground response stops it.
#include "actors/response/state.hpp"
#include "events/ids.hpp"

#include <algorithm>

namespace riposte::actors::response {

namespace ev = events;

void publish_all(response_data& st, const std::vector<projections::stream_frame>& frames) {
  if (frames.empty())
    return;
  st.published += frames.size();
  for (auto& sub : st.subs) {
    if (!sub.live) {
      sub.buffer.insert(sub.buffer.end(), frames.begin(), frames.end());
    } else if (frames.front().seq > sub.after) {
      sub.sink->push_all(frames);
    } else {
      // Resumed after an event not stored when it subscribed
      // (`starting_after` ahead of the log): nothing up to it.
      std::vector<projections::stream_frame> due;
      std::copy_if(frames.begin(), frames.end(), std::back_inserter(due),
                   [&](const projections::stream_frame& f) { return f.seq > sub.after; });
      if (!due.empty())
        sub.sink->push_all(due);
    }
  }
}

void close_live_subscribers(response_data& st) {
  for (auto& sub : st.subs)
    if (sub.live)
      sub.sink->close();
  std::erase_if(st.subs, [](const subscription& s) { return s.live; });
}

void add_subscriber(response_actor* self, std::shared_ptr<event_sink> sink, bool live,
                    std::int64_t after) {
  auto& st = self->state;
  auto id = st.next_sub++;
  caf::actor me = self;
  sink->on_gone([me, id] { caf::anon_send(me, gone_atom::value, id); });
  st.subs.push_back(subscription{
      id, std::move(sink), live, after, {}, std::make_shared<active_stream>(st.svc->stats.get())});
  if (st.fast)
    want_notice(self); // the batch in flight is not published to this one
  if (!st.keepalive_armed && !st.view.terminal()) {
    st.keepalive_armed = true;
    self->delayed_send(self, st.svc->cfg.keepalive, keepalive_atom::value, st.published);
  }
}

// Stream a response: replay the log after `after`, then go on live.
void on_subscribe(response_actor* self, const std::string& tenant, std::int64_t after,
                  sink_handle& h) {
  auto& st = self->state;
  ++st.handled;
  if (!visible_to(st, tenant) && !creating_for(st, tenant))
    return h.sink->fail(not_found(st.id));
  if (after >= st.view.version) {
    if (st.view.terminal())
      return h.sink->close();
    add_subscriber(self, std::move(h.sink), true, after);
    if (st.foreign && !st.following)
      follow(self);
    return;
  }
  add_subscriber(self, std::move(h.sink), false, after);
  if (st.foreign && !st.following)
    follow(self);
  auto sub_id = st.subs.back().id;
  auto log = st.log;
  auto stream = ev::response_stream(st.id);
  auto upto = st.view.version; // later events reach the subscriber's buffer
  caf::actor me = self;
  using replay_result = ev::result<std::vector<projections::stream_frame>>;
  st.svc->store_pool->post(
      [=] {
        auto events = log->read(stream, 0, static_cast<std::size_t>(upto + 1));
        replay_result out = std::vector<projections::stream_frame>{};
        if (!events)
          out = events.error();
        else
          out = projections::replay_stream(*events, after);
        caf::anon_send(me, replayed_atom::value, sub_id, std::move(out));
      },
      [=](const std::string& what) {
        caf::anon_send(me, replayed_atom::value, sub_id,
                       replay_result{ev::make_error(ev::riposte_errc::store_error, what)});
      });
}

// A catch-up read returned: the replay, then what was buffered, then live.
void on_replayed(response_actor* self, std::uint64_t sub_id,
                 ev::result<std::vector<projections::stream_frame>>& replay) {
  auto& st = self->state;
  auto it = std::find_if(st.subs.begin(), st.subs.end(),
                         [&](const subscription& s) { return s.id == sub_id; });
  if (it == st.subs.end())
    return; // gone meanwhile
  if (!replay) {
    it->sink->fail(replay.error());
    st.subs.erase(it);
    return;
  }
  // The buffer holds what was published since the subscription; the read
  // may already hold some of it (a batch stored meanwhile, or settled while
  // the subscription was added): each frame goes out once, in order.
  auto last = replay->empty() ? it->after : std::max(it->after, replay->back().seq);
  std::erase_if(it->buffer, [&](const projections::stream_frame& f) { return f.seq <= last; });
  it->sink->push_all(*replay);
  it->sink->push_all(it->buffer);
  it->buffer.clear();
  it->live = true;
  if (st.view.terminal()) {
    it->sink->close();
    st.subs.erase(it);
  }
  schedule_passivation(self, st.svc->cfg.passivate_after);
}

// Streams silent for a whole interval get a comment frame.
void on_keepalive(response_actor* self, std::uint64_t published_then) {
  auto& st = self->state;
  st.keepalive_armed = false;
  if (st.view.terminal() || st.subs.empty())
    return;
  if (published_then == st.published) {
    // Before the first output item a silence is the model reading its
    // prompt: a subscriber that needs events to stay gets a stored
    // response.in_progress again (every subscriber then sees it).
    // Nothing may be on its way to the log either: an end being stored
    // must stay the last event.
    bool prefill = st.view.status == "in_progress" && st.view.output.empty() &&
                   !st.turn.cancel_requested && !st.broken && st.pending.empty() &&
                   st.sent.empty() && !st.in_flight && st.held.empty();
    bool logged = prefill && std::any_of(st.subs.begin(), st.subs.end(), [](const subscription& s) {
                    return s.live && s.sink->wants_logged_keepalive();
                  });
    if (logged)
      enqueue(self, {ev::response_in_progress{}});
    else
      for (auto& sub : st.subs)
        if (sub.live)
          sub.sink->keep_alive();
  }
  st.keepalive_armed = true;
  self->delayed_send(self, st.svc->cfg.keepalive, keepalive_atom::value, st.published);
}

// A subscriber left. The last one leaving a foreground response cancels it:
// no GPU time for an answer no one reads.
void on_gone(response_actor* self, std::uint64_t sub_id) {
  auto& st = self->state;
  std::erase_if(st.subs, [&](const subscription& s) { return s.id == sub_id; });
  if (st.svc->stats)
    st.svc->stats->subscriber_dropped();
  if (st.subs.empty() && !anyone_waits(st) && !st.view.terminal() &&
      !st.cmd.params.value("background", false))
    cancel_generation(self, "client_disconnected");
  if (st.subs.empty())
    schedule_passivation(self, st.svc->cfg.passivate_after);
}

} // namespace riposte::actors::response
