// The response actor. Write path: decide, append with the expected version
// (on the store executor), apply, then reply and publish. While an append is
// in flight, new backend events wait and go out together (group commit).
#include "actors/response_actor.hpp"

#include "actors/context_plan.hpp"
#include "actors/guard.hpp"
#include "actors/inputs.hpp"
#include "actors/json_schema.hpp"
#include "actors/messages.hpp"
#include "actors/prompts.hpp"
#include "events/event.hpp"
#include "events/faults.hpp"
#include "events/ids.hpp"
#include "events/json_safe.hpp"
#include "projections/stream_events.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iterator>
#include <optional>
#include <set>

namespace riposte::actors {

namespace {

namespace ev = events;
using json = nlohmann::json;
using ev::riposte_errc;

// An SSE session (or any sink) following this response.
// Counts a subscriber in riposte_streams_active for as long as it is held.
class active_stream {
public:
  explicit active_stream(metrics* stats)
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
  metrics* stats_;
};

struct subscription {
  std::uint64_t id = 0;
  std::shared_ptr<event_sink> sink;
  bool live = false;                             // false while catching up from the log
  std::int64_t after = -1;                       // catching up: events after this seq
  std::vector<projections::stream_frame> buffer; // published while catching up
  std::shared_ptr<active_stream> counted;
};

// A batch of deltas whose frames the writer thread publishes itself, right
// after the append, to the subscribers the actor had when it flushed. The
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
};

struct response_data {
  std::shared_ptr<const services> svc;
  caf::actor registry;
  std::string id;
  ev::event_log* log = nullptr;
  std::shared_ptr<ev::event_log> private_log; // `store: false`: dropped with the actor
  projections::response_state view;
  create_command cmd;
  context_ptr parent_context; // shared with the parent and its ancestors
  std::int64_t depth = 1;     // responses in the chain, this one included
  context_ptr context;        // the parent's, then this response's items; once terminal
  std::vector<ev::event> pending;
  std::vector<ev::event> sent; // the batch being appended, typed
  bool in_flight = false;
  std::shared_ptr<fast_batch> fast; // `sent`, when the writer publishes it
  std::uint64_t fast_batches = 0;
  bool broken = false; // an append failed: the actor answers from what it has
  std::vector<reply_to> waiters;
  std::vector<reply_to> delete_waiters;
  std::uint64_t ticket = 0;
  bool generating = false;
  bool started = false; // the generation was asked for (it may be over already)
  bool cancel_requested = false;
  bool requeued = false;         // rebuilt from the store while queued: generate, record nothing
  bool recovering = false;       // start-up found it marked in flight
  model_info model;              // capabilities, family, window: from the backend
  std::size_t dropped_items = 0; // truncation "auto" left these out of the context
  // context_management compaction: the item this response opens its output
  // with, and the conversation it stands for (user messages, then it).
  nlohmann::json compaction_item;
  context_ptr compacted_history;
  bool compaction_tried = false;
  // Hosted web_search: the calls the running generation made (their
  // output_item_added), what the searches gave the model, the usage of the
  // generations before the running one, and citations' sources.
  std::vector<std::pair<std::int64_t, nlohmann::json>> search_calls;
  nlohmann::json search_items = nlohmann::json::array();
  nlohmann::json earlier_usage;
  std::vector<search_result> sources;
  std::int64_t next_output_index = 0;
  int search_rounds = 0;
  std::string answer_text;       // message text so far, for text.format checks
  nlohmann::json resolved_input; // input with file references resolved (null: none)
  std::string cancel_reason;
  // How a cancelled generation ends: cancelled, or failed when the job timed out.
  std::optional<ev::event> cancel_event;
  std::vector<subscription> subs;
  std::uint64_t next_sub = 1;
  std::uint64_t published = 0; // events pushed so far; a keep-alive tick compares
  bool keepalive_armed = false;
  std::vector<reply_to> cancel_waiters;
  std::uint64_t handled = 0; // registry-forwarded messages handled so far
  int faults = 0;            // exceptions contained in this actor's handlers
  std::uint64_t epoch = 0;   // bumps on activity; a stale passivation tick is ignored
};

using response_actor = caf::stateful_actor<response_data>;

// The registry as it is now (a restart swaps it), or the one that spawned us.
caf::actor registry_of(const response_data& st) {
  if (auto r = st.svc->registry())
    return r;
  return st.registry;
}

void on_fault(response_actor* self, const std::string& what);

// How often a chain stores its whole conversation (see on_terminal).
constexpr std::int64_t checkpoint_every = 32;

// Pushes stream events to every subscriber, in seq order, each live one
// getting them at once; those still catching up from the log keep them until
// their replay is out.
void publish_all(response_data& st, const std::vector<projections::stream_frame>& events) {
  if (events.empty())
    return;
  st.published += events.size();
  for (auto& sub : st.subs) {
    if (sub.live)
      sub.sink->push_all(events);
    else
      sub.buffer.insert(sub.buffer.end(), events.begin(), events.end());
  }
}

void close_live_subscribers(response_data& st) {
  for (auto& sub : st.subs)
    if (sub.live)
      sub.sink->close();
  std::erase_if(st.subs, [](const subscription& s) { return s.live; });
}

void want_notice(response_actor* self);

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

ev::error_info not_found(const std::string& id, std::string param = {}) {
  return ev::make_error(riposte_errc::not_found, "No response found with id '" + id + "'.",
                        std::move(param));
}

bool visible_to(const response_data& st, const std::string& tenant) {
  return st.view.exists() && !st.view.deleted && st.view.tenant == tenant &&
         st.view.params.value("store", true);
}

// Created by this actor and on its way into the log (the creation is not
// stored yet): an idempotent replay may already wait for it.
bool creating_for(const response_data& st, const std::string& tenant) {
  return !st.view.exists() && !st.cmd.response_id.empty() && st.cmd.store &&
         st.cmd.tenant == tenant && !st.broken;
}

bool idle(const response_data& st) {
  return !st.in_flight && !st.generating && st.pending.empty() && st.waiters.empty() &&
         st.delete_waiters.empty() && st.subs.empty() &&
         (!st.view.exists() || st.view.terminal() || st.broken);
}

void schedule_passivation(response_actor* self, std::chrono::milliseconds after) {
  auto epoch = ++self->state.epoch;
  self->delayed_send(self, after, passivate_atom::value, epoch);
}

ev::result<json> compaction_reply(const response_data& st);

// A failed response answers a blocking create with the error it ended with.
ev::result<json> blocking_reply(const response_data& st) {
  const auto& v = st.view;
  if (v.status != "failed")
    return st.cmd.compact ? compaction_reply(st) : projections::render(v);
  auto code = v.error.value("code", "server_error");
  auto message = v.error.value("message", "the response failed");
  if (code == "backend_unavailable")
    return ev::make_error(riposte_errc::backend_unavailable, message);
  if (code == "backend_timeout" || code == "job_timeout")
    return ev::make_error(riposte_errc::backend_timeout, message);
  if (code == "model_not_found")
    return ev::make_error(riposte_errc::invalid_request, message, "model");
  if (code == "output_schema_violation")
    return ev::make_error(riposte_errc::output_invalid, message, "text.format");
  return ev::make_error(riposte_errc::internal, message);
}

void enqueue(response_actor* self, std::vector<ev::event> evs);

void fail_create(response_actor* self, const ev::error_info& err) {
  auto& st = self->state;
  if (st.requeued) { // already stored: it ends failed instead of staying queued
    enqueue(self, {ev::response_failed{"server_error", err.message, json()}});
    return;
  }
  for (auto& w : st.waiters)
    w(err);
  st.waiters.clear();
  for (auto& sub : st.subs)
    sub.sink->fail(err);
  st.subs.clear();
  schedule_passivation(self, std::chrono::milliseconds(0));
}

void flush(response_actor* self);

void answer_waiters(response_actor* self) {
  auto& st = self->state;
  auto reply = blocking_reply(st);
  for (auto& w : st.waiters)
    w(reply);
  st.waiters.clear();
  for (auto& w : st.cancel_waiters)
    w(projections::render(st.view));
  st.cancel_waiters.clear();
  schedule_passivation(self, st.view.params.value("store", true) ? st.svc->cfg.passivate_after
                                                                 : std::chrono::milliseconds(0));
}

// Two usage objects added up (either may be null).
json add_usage(const json& a, const json& b) {
  if (!a.is_object())
    return b;
  if (!b.is_object())
    return a;
  auto sum = [&](const char* k) {
    return a.value(k, std::int64_t{0}) + b.value(k, std::int64_t{0});
  };
  auto input = sum("input_tokens"), output = sum("output_tokens");
  return {
      {"input_tokens", input},
      {"input_tokens_details",
       {{"cached_tokens", a["input_tokens_details"].value("cached_tokens", std::int64_t{0}) +
                              b["input_tokens_details"].value("cached_tokens", std::int64_t{0})}}},
      {"output_tokens", output},
      {"output_tokens_details",
       {{"reasoning_tokens",
         a["output_tokens_details"].value("reasoning_tokens", std::int64_t{0}) +
             b["output_tokens_details"].value("reasoning_tokens", std::int64_t{0})}}},
      {"total_tokens", input + output}};
}

// url_citation annotations on an output_text part for every source URL its
// text contains (indices are byte offsets into the text).
void cite(json& part, const std::vector<search_result>& sources) {
  if (!part.is_object() || part.value("type", "") != "output_text" ||
      !part.value("text", json()).is_string())
    return;
  const auto& text = part["text"].get_ref<const std::string&>();
  json annotations = part.value("annotations", json::array());
  std::set<std::string> seen;
  for (const auto& s : sources) {
    if (s.url.empty() || !seen.insert(s.url).second)
      continue;
    for (auto at = text.find(s.url); at != std::string::npos; at = text.find(s.url, at + 1))
      annotations.push_back({{"type", "url_citation"},
                             {"start_index", at},
                             {"end_index", at + s.url.size()},
                             {"url", s.url},
                             {"title", s.title}});
  }
  part["annotations"] = std::move(annotations);
}

// A stable fingerprint of a turn's instructions (FNV-1a of their JSON).
std::string fingerprint_of(const json& instructions) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : ev::dump_json(instructions)) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

// What a follow-up's prompt shares with this turn in the backend's KV cache:
// this turn's prompt, and its answer unless the answer began with reasoning
// (a new turn's prompt leaves finished reasoning out, so it diverges there).
std::int64_t cacheable_prefix(const projections::response_state& view) {
  if (!view.usage.is_object())
    return 0;
  auto prompt = view.usage.value("input_tokens", std::int64_t{0});
  bool reasoned = false;
  for (const auto& item : view.output)
    reasoned = reasoned || item.value("type", "") == "reasoning";
  return reasoned ? prompt : prompt + view.usage.value("output_tokens", std::int64_t{0});
}

// The text of the message items of an output.
std::string output_text(const json& output) {
  std::string text;
  for (const auto& item : output)
    if (item.value("type", "") == "message")
      for (const auto& part : item.value("content", json::array()))
        if (part.value("type", "") == "output_text")
          text += part.value("text", "");
  return text;
}

// POST /v1/responses/compact's answer: every user message of the
// conversation, then one compaction item holding the model's summary sealed
// for this tenant (the client sends them back as the next request's input).
ev::result<json> compaction_reply(const response_data& st) {
  auto summary = output_text(st.view.output);
  if (summary.empty())
    return ev::make_error(riposte_errc::internal,
                          "The model returned no summary for the compaction.");
  if (!st.svc->reasoning_sealer)
    return ev::make_error(riposte_errc::internal, "riposte has no key to seal compactions with.");
  json output = json::array();
  std::vector<const json*> items;
  if (st.parent_context)
    items = chain_items(st.parent_context);
  const auto& input = st.resolved_input.is_null() ? st.cmd.input : st.resolved_input;
  for (const auto& item : input)
    items.push_back(&item);
  for (const auto* item : items)
    if (item->value("type", "message") == "message" && item->value("role", "") == "user")
      output.push_back(*item);
  output.push_back({{"id", ev::make_id("cmp_")},
                    {"type", "compaction"},
                    {"encrypted_content",
                     st.svc->reasoning_sealer->seal(
                         st.cmd.tenant, json{{"summary", summary}, {"model", st.view.model}})}});
  return json{{"id", st.id},
              {"object", "response.compaction"},
              {"created_at", st.view.created_at},
              {"output", std::move(output)},
              {"usage", st.view.usage}};
}

json unsealed_items(const response_data& st, json items);

// The response ended: write its snapshots (stored responses), then answer.
void on_terminal(response_actor* self) {
  auto& st = self->state;
  if (st.svc->stats)
    st.svc->stats->response_finished(st.view.model,
                                     st.view.params.value("background", false) ? "background"
                                     : st.cmd.stream                           ? "stream"
                                                                               : "blocking",
                                     st.view.status);
  // Follow-ups see what the model saw: files and images by reference as
  // they were resolved for this turn (the stored input keeps the references).
  auto own = projections::own_items(st.view);
  if (!st.resolved_input.is_null()) {
    own = st.resolved_input;
    for (const auto& item : st.view.output)
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
  context_segment seg{st.parent_context, unsealed_items(st, std::move(own)), st.depth};
  seg.model = st.view.model;
  seg.instructions_fp = fingerprint_of(st.view.params.value("instructions", json()));
  seg.prefix_tokens = cacheable_prefix(st.view);
  st.context = std::make_shared<const context_segment>(std::move(seg));
  if (!st.view.params.value("store", true)) {
    answer_waiters(self);
    return;
  }
  // Snapshots are a cache of the fold: the view for reads, the context for
  // follow-ups (so a child costs one read at any chain depth).
  auto log = st.log;
  auto id = st.id;
  auto version = static_cast<std::uint64_t>(st.view.version);
  auto view = projections::to_snapshot(st.view);
  // Every checkpoint_every-th response of a chain stores the whole
  // conversation; the others store their own items and their parent, so a
  // turn writes what it added, and a rebuild walks back at most to the last
  // checkpoint.
  bool checkpoint = !st.parent_context || st.depth % checkpoint_every == 1;
  std::string ctx = "{\"depth\":" + std::to_string(st.depth) +
                    ",\"model\":" + ev::dump_json(json(st.context->model)) +
                    ",\"instructions_fp\":" + ev::dump_json(json(st.context->instructions_fp)) +
                    ",\"prefix_tokens\":" + std::to_string(st.context->prefix_tokens);
  if (!checkpoint)
    ctx += ",\"parent\":" + ev::dump_json(json(st.cmd.previous_response_id));
  ctx += ",\"items\":[";
  bool first = true;
  std::vector<const json*> items;
  if (checkpoint)
    items = chain_items(st.context);
  else
    for (const auto& item : st.context->items)
      items.push_back(&item);
  for (const auto* item : items) {
    if (!first)
      ctx += ',';
    first = false;
    ctx += ev::dump_json(*item);
  }
  ctx += "]}";
  caf::actor me = self;
  st.in_flight = true;
  st.svc->executor->post(
      [=] {
        auto a = log->put_snapshot(ev::context_key(id), {version, ctx});
        auto b = log->put_snapshot(ev::response_stream(id), {version, view});
        // Lazy: a crash that loses it leaves a marker on a finished response,
        // which start-up then just removes.
        auto c = log->delete_marker(inflight_markers, id, ev::event_log::write_mode::lazy);
        ev::result<std::vector<ev::envelope>> r = std::vector<ev::envelope>{};
        if (!a)
          r = a.error();
        else if (!b)
          r = b.error();
        else if (!c)
          r = c.error();
        caf::anon_send(me, appended_atom::value, append_done{std::move(r)}, true);
      },
      [=](const std::string& what) {
        caf::anon_send(me, appended_atom::value,
                       append_done{ev::make_error(riposte_errc::store_error, what)}, true);
      });
  // The answer does not wait for the snapshots: they are a cache of events
  // that are already stored, and this actor serves reads until they are in.
  answer_waiters(self);
}

// Folds freshly stored events into the view and publishes each one: only
// now, after the append returned, may a client see it.
// `sent`: the typed events this actor appended (then nothing is decoded).
void apply_stored(response_actor* self, std::vector<ev::envelope>& stored,
                  std::vector<ev::event>* sent = nullptr) {
  auto& st = self->state;
  if (sent != nullptr && sent->size() != stored.size())
    sent = nullptr;
  std::vector<projections::stream_frame> frames;
  frames.reserve(stored.size());
  for (std::size_t i = 0; i < stored.size(); ++i) {
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
    projections::apply_in_place(st.view, *decoded, seq, env.tenant);
    // Rendered only for someone: a lifecycle frame carries the whole Response.
    if (!st.subs.empty())
      if (auto event = projections::render_frame(st.view, *decoded, seq))
        frames.push_back(std::move(*event));
  }
  publish_all(st, frames);
  if (st.view.terminal())
    close_live_subscribers(st);
}

// Stops generating: the backend request is aborted, and `response_cancelled`
// follows once the backend's last update is in.
void cancel_generation(response_actor* self, std::string reason) {
  auto& st = self->state;
  if (st.cancel_requested || st.view.terminal())
    return;
  st.cancel_requested = true;
  st.cancel_reason = reason;
  if (!st.cancel_event)
    st.cancel_event = ev::response_cancelled{std::move(reason)};
  if (st.generating && st.ticket != 0)
    self->send(st.svc->backend_pool(), cancel_atom::value, st.ticket);
}

bool is_delta(const ev::event& e) {
  return std::holds_alternative<ev::output_text_delta>(e) ||
         std::holds_alternative<ev::reasoning_delta>(e) ||
         std::holds_alternative<ev::function_call_arguments_delta>(e) ||
         std::holds_alternative<ev::custom_tool_call_input_delta>(e);
}

// Folds a fast batch the writer stored (and published) into the view, and
// gives its frames to the subscribers that joined after the flush.
void settle_fast(response_actor* self) {
  auto& st = self->state;
  auto fb = std::move(st.fast);
  st.in_flight = false;
  auto seq = st.view.version;
  std::vector<projections::stream_frame> late;
  bool anyone_late = std::any_of(st.subs.begin(), st.subs.end(),
                                 [&](const subscription& s) { return s.id >= fb->first_late_sub; });
  for (const auto& e : st.sent) {
    ++seq;
    projections::apply_in_place(st.view, e, seq, st.view.tenant);
    if (anyone_late && fb->frames.empty())
      if (auto frame = projections::render_frame(st.view, e, seq))
        late.push_back(std::move(*frame));
  }
  st.published += st.sent.size();
  st.sent.clear();
  if (anyone_late) {
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
}

// An append failed: the actor stops generating and answers from what it has.
void append_failed(response_actor* self, const ev::error_info& err) {
  auto& st = self->state;
  st.broken = true;
  st.sent.clear();
  if (st.generating)
    self->send(st.svc->backend_pool(), cancel_atom::value, st.ticket);
  for (auto& w : st.waiters)
    w(err);
  st.waiters.clear();
  for (auto& w : st.delete_waiters)
    w(err);
  st.delete_waiters.clear();
  for (auto& sub : st.subs) // they would otherwise get keep-alives forever
    sub.sink->fail(err);
  st.subs.clear();
  schedule_passivation(self, std::chrono::milliseconds(0));
}

// First thing in every handler: a fast batch the writer has stored is
// folded in, so the actor never answers from a view behind its own log.
void settle(response_actor* self) {
  auto& st = self->state;
  if (st.fast && st.fast->state.load(std::memory_order_acquire) == fast_batch::stored) {
    settle_fast(self);
    flush(self);
  }
}

// Asks the writer to say when the fast batch is in (more waits to be
// appended, or someone joined who needs its frames); it may be in already.
void want_notice(response_actor* self) {
  auto& st = self->state;
  int expected = fast_batch::in_flight;
  if (!st.fast->state.compare_exchange_strong(expected, fast_batch::wanted,
                                              std::memory_order_acq_rel) &&
      expected == fast_batch::stored)
    settle_fast(self);
}

void flush(response_actor* self) {
  auto& st = self->state;
  if (st.in_flight && st.fast && !st.pending.empty())
    want_notice(self);
  if (st.in_flight || st.pending.empty() || st.broken)
    return;
  std::vector<ev::new_event> batch;
  auto now = now_micros();
  batch.reserve(st.pending.size());
  for (const auto& e : st.pending)
    batch.push_back(
        ev::make_new_event(e, st.cmd.tenant.empty() ? st.view.tenant : st.cmd.tenant, now));
  st.sent = std::move(st.pending);
  st.pending.clear();
  st.in_flight = true;
  auto log = st.log;
  auto stream = ev::response_stream(st.id);
  auto expected = st.view.version; // -1 (no_stream) for the first batch
  caf::actor me = self;
  auto stats = st.svc->stats;
  auto store_kind = st.svc->store_kind;
  ev::append_request req;
  req.stream = stream;
  req.expected_version = expected;
  req.events = std::move(batch);
  req.echo_data = false; // the actor keeps what it sent
  // Marked no later than the write that opens the stream, so no crash can
  // leave an unmarked, unfinished response behind.
  if (expected == ev::no_stream) {
    req.marker_ns = inflight_markers;
    req.marker_key = st.id;
  }
  auto done = [me](ev::result<std::vector<ev::envelope>> stored) {
    caf::anon_send(me, appended_atom::value, append_done{std::move(stored)}, false);
  };
  if (st.svc->writer != nullptr && log->group_commits()) {
    bool fast =
        expected != ev::no_stream && std::all_of(st.sent.begin(), st.sent.end(), is_delta) &&
        std::all_of(st.subs.begin(), st.subs.end(), [](const subscription& s) { return s.live; });
    if (!fast) {
      st.svc->writer->submit(log, std::move(req), done);
      return;
    }
    auto fb = std::make_shared<fast_batch>();
    fb->number = ++st.fast_batches;
    fb->first_late_sub = st.next_sub;
    if (!st.subs.empty()) {
      auto seq = expected;
      for (const auto& e : st.sent)
        if (auto frame = projections::render_frame(st.view, e, ++seq))
          fb->frames.push_back(std::move(*frame));
      for (const auto& sub : st.subs)
        fb->sinks.push_back(sub.sink);
    }
    st.fast = fb;
    st.svc->writer->submit(log, std::move(req), [me, fb](ev::result<std::vector<ev::envelope>> r) {
      if (!r) {
        fb->state.store(fast_batch::failed, std::memory_order_release);
        caf::anon_send(me, published_atom::value, fb->number, append_done{std::move(r)});
        return;
      }
      // Stored before anyone sees it: a client that reacts to a frame finds
      // it in the actor's view. Later pushes to these sinks come from later
      // jobs of this same thread, so the order holds.
      if (fb->state.exchange(fast_batch::stored, std::memory_order_acq_rel) == fast_batch::wanted)
        caf::anon_send(me, published_atom::value, fb->number, append_done{std::move(r)});
      for (const auto& sink : fb->sinks)
        sink->push_all(fb->frames);
    });
    return;
  }
  st.svc->executor->post(
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
  for (auto& e : evs)
    st.pending.push_back(std::move(e));
  flush(self);
}

// An output item of a tool riposte runs itself.
bool is_hosted_call(const json& item) {
  auto type = item.value("type", "");
  return type == "web_search_call" || type == "image_generation_call";
}

// A response calls riposte's own tools in at most this many rounds before it
// must answer.
constexpr int max_search_rounds = 3;

// What the model is asked to do when it compacts a conversation.
constexpr const char* compaction_instructions =
    "You are compacting a conversation so that it can continue in a smaller context. Write a "
    "summary of everything above that someone continuing the conversation needs: the user's "
    "goals and constraints, what was decided, what was done (tool calls and their results), "
    "facts and names that matter, and what is still open. Be complete but concise. Write only "
    "the summary.";

// The generation this response asks for, as planned (window, truncation).
generation_request make_request(const response_data& st) {
  generation_request req;
  req.response_id = st.id;
  req.tenant = st.cmd.tenant;
  req.model = st.cmd.model;
  req.instructions = st.cmd.params.value("instructions", json());
  req.history = st.parent_context;
  req.items = unsealed_items(st, st.resolved_input.is_null() ? st.cmd.input : st.resolved_input);
  req.params = st.cmd.params;
  req.capabilities = st.model.capabilities;
  req.family = st.model.family;
  req.context_window = context_window(st.svc->cfg, st.model);
  req.dropped_items = st.dropped_items;
  if (st.svc->web_search.provider && st.search_rounds < max_search_rounds)
    req.params["x_riposte_web_search"] = true;
  if (st.svc->images.provider && st.search_rounds < max_search_rounds)
    req.params["x_riposte_image_generation"] = true;
  if (st.search_rounds > 0) {
    // Later generations of a response that searched: what the earlier ones
    // said and the searches' results come after the input.
    for (const auto& item : st.view.output)
      if (!is_hosted_call(item))
        req.items.push_back(item);
    for (const auto& item : st.search_items)
      req.items.push_back(item);
    req.first_output_index = st.next_output_index;
  }
  if (st.compacted_history) { // context_management compacted what came before
    req.history = st.compacted_history;
    req.first_output_index = std::max<std::int64_t>(req.first_output_index, 1);
  }
  if (st.cmd.compact) {
    // The model writes the summary: no tools, no format, plain text.
    req.instructions = compaction_instructions;
    req.items.push_back({{"type", "message"},
                         {"role", "user"},
                         {"content", "Write the summary of the conversation above now."}});
    for (const char* name : {"tools", "tool_choice", "text", "max_tool_calls"})
      req.params.erase(name);
    req.params["reasoning"] = {{"effort", "none"}};
  }
  return req;
}

void start_generation(response_actor* self) {
  auto& st = self->state;
  st.started = true;
  if (st.compaction_item.is_object() && st.view.output.empty()) // opens the output
    enqueue(self, {ev::output_item_added{0, st.compaction_item},
                   ev::output_item_done{0, st.compaction_item}});
  auto req = make_request(st);
  // Only a blocking create nobody streams can take the answer whole.
  req.stream = !st.subs.empty() || st.cmd.params.value("background", false) || st.waiters.empty();
  for (const char* name : {"temperature", "top_p"}) {
    req.params.erase(name);
    if (st.cmd.sampling.contains(name))
      req.params[name] = st.cmd.sampling[name];
  }
  st.generating = true;
  caf::actor me = self;
  auto fault = [self](const std::string& what) { on_fault(self, what); };
  self->request(st.svc->backend_pool(), caf::infinite, generate_atom::value, std::move(req), me)
      .then(guard_fn(self, fault,
                     [self](std::uint64_t ticket) {
                       self->state.ticket = ticket;
                       if (self->state.cancel_requested)
                         self->send(self->state.svc->backend_pool(), cancel_atom::value, ticket);
                     }),
            [self](caf::error& err) {
              // The pool went away before taking the work: this generation
              // never runs.
              on_fault(self, "backend pool unreachable: " + caf::to_string(err));
            });
}

void record_creation(response_actor* self) {
  auto& st = self->state;
  auto created_at = now_micros() / 1'000'000;
  std::vector<ev::event> first{
      ev::response_created{st.id, st.cmd.model, created_at, st.cmd.params, st.cmd.input}};
  // Background work waits for the pool to admit it; the rest starts at once.
  if (st.cmd.params.value("background", false))
    first.emplace_back(ev::response_queued{});
  else
    first.emplace_back(ev::response_in_progress{});
  enqueue(self, std::move(first));
  if (st.svc->cfg.job_timeout.count() > 0)
    self->delayed_send(self, st.svc->cfg.job_timeout, deadline_atom::value);
  // A foreground response asks the backend while its creation is being
  // stored: the fsync and the backend's first token overlap. Its events are
  // appended after the creation all the same (the actor appends in order),
  // and nobody sees anything before it is stored.
  if (!st.cmd.params.value("background", false))
    start_generation(self);
}

caf::behavior main_behavior(response_actor* self);

// Loads the snapshot and the events after it, on the store executor.
void load(response_actor* self) {
  auto& st = self->state;
  auto log = st.log;
  auto id = st.id;
  caf::actor me = self;
  st.svc->executor->post(
      [=] {
        load_done out;
        auto stream = ev::response_stream(id);
        projections::response_state state;
        auto snap = log->get_snapshot(stream);
        if (!snap) {
          out.state = snap.error();
        } else {
          if (*snap) {
            auto restored = projections::from_snapshot((*snap)->payload);
            if (!restored) {
              out.state = restored.error();
              caf::anon_send(me, loaded_atom::value, std::move(out));
              return;
            }
            state = std::move(*restored);
          }
          auto events = log->read(stream, static_cast<std::uint64_t>(state.version + 1), 1u << 20);
          if (!events && events.error().code != riposte_errc::not_found) {
            out.state = events.error();
          } else {
            bool ok = true;
            if (events)
              for (const auto& env : *events) {
                auto next = projections::apply(std::move(state), env);
                if (!next) {
                  out.state = next.error();
                  ok = false;
                  break;
                }
                state = std::move(*next);
              }
            if (ok)
              out.state = std::move(state);
          }
          auto ctx = log->get_snapshot(ev::context_key(id));
          if (ctx && *ctx) {
            auto j = ev::parse_stored((*ctx)->payload);
            if (j.is_object()) {
              context_segment seg{nullptr, j.value("items", json::array()),
                                  j.value("depth", std::int64_t{1})};
              seg.model = j.value("model", "");
              seg.instructions_fp = j.value("instructions_fp", "");
              seg.prefix_tokens = j.value("prefix_tokens", std::int64_t{0});
              out.context = std::make_shared<const context_segment>(std::move(seg));
              if (j.contains("parent") && j["parent"].is_string())
                out.context_parent = j["parent"].get<std::string>();
            }
          }
        }
        caf::anon_send(me, loaded_atom::value, std::move(out));
      },
      [=](const std::string& what) {
        load_done out;
        out.state = ev::make_error(riposte_errc::store_error, what);
        caf::anon_send(me, loaded_atom::value, std::move(out));
      });
}

void check_model(response_actor* self);

// After a restart: a background response that never left the queue is
// queued again (its events are all there); one that was generating cannot be
// resumed and ends failed, rather than stay in_progress forever.
void finish_loading(response_actor* self) {
  auto& st = self->state;
  self->set_default_handler(caf::print_and_drop);
  self->become(main_behavior(self));
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
      check_model(self);
      return;
    }
    enqueue(self, {ev::response_failed{"server_restarted",
                                       "riposte restarted while this response was being "
                                       "generated",
                                       json()}});
  } else if (st.recovering && st.view.terminal()) {
    // Finished, but the (lazy) removal of its in-flight marker was lost.
    auto log = st.log;
    auto id = st.id;
    st.svc->executor->post(
        [=] { (void)log->delete_marker(inflight_markers, id, ev::event_log::write_mode::lazy); });
  }
  // An id that was never stored leaves memory at once: lookups of unknown
  // ids must not pile up actors.
  schedule_passivation(self, st.view.exists() ? st.svc->cfg.passivate_after
                                              : std::chrono::milliseconds(0));
}

caf::behavior loading_behavior(response_actor* self) {
  self->set_default_handler(caf::skip); // everything else waits for the state
  // A rebuild that throws stops the actor: what waits is answered with a
  // server_error as it is dropped, and the next message rebuilds afresh.
  auto fault = [self](const std::string& what) {
    ev::report_fault("response", what, self->state.id);
    self->quit(caf::exit_reason::unhandled_exception);
  };
  return guarded(
      self, fault,
      [=](loaded_atom, load_done& done) {
        auto& st = self->state;
        if (!done.state) {
          st.broken = done.state.error().code != riposte_errc::not_found;
          if (!st.broken) { // a marker whose stream never got written
            auto log = st.log;
            auto id = st.id;
            st.svc->executor->post([=] { (void)log->delete_marker(inflight_markers, id); });
          }
          return finish_loading(self);
        }
        st.view = std::move(*done.state);
        st.context = std::move(done.context);
        // A root response's context is its own items: rebuildable even when
        // its context snapshot was lost (a crash right after the last event).
        if (!st.context && st.view.terminal() &&
            st.view.params.value("previous_response_id", json()).is_null())
          st.context = std::make_shared<const context_segment>(
              context_segment{nullptr, projections::own_items(st.view), 1});
        if (st.context)
          st.depth = st.context->depth;
        if (done.context_parent.empty())
          return finish_loading(self);
        // Only our own items are stored: the rest is the parent's context.
        caf::actor me = self;
        self->send(registry_of(st), context_atom::value, done.context_parent, st.view.tenant, me);
      },
      [=](context_atom, context_reply& parent) {
        auto& st = self->state;
        if (parent.context && *parent.context) {
          auto seg = *st.context; // the stored fields, on the parent's chain
          seg.parent = *parent.context;
          st.context = std::make_shared<const context_segment>(std::move(seg));
        } else
          st.context = nullptr; // children will hear that this context is unavailable
        finish_loading(self);
      });
}

json input_items_page(const response_data& st, const list_query& q, ev::error_info& err) {
  const auto& items = st.view.input;
  std::vector<std::size_t> order(items.size());
  for (std::size_t i = 0; i < items.size(); ++i)
    order[i] = q.ascending ? i : items.size() - 1 - i;
  std::size_t begin = 0, end = order.size();
  auto find = [&](const std::string& item_id) -> std::optional<std::size_t> {
    for (std::size_t i = 0; i < order.size(); ++i)
      if (items[order[i]].value("id", "") == item_id)
        return i;
    return std::nullopt;
  };
  if (!q.after.empty()) {
    auto at = find(q.after);
    if (!at) {
      err = ev::make_error(riposte_errc::invalid_request,
                           "No input item found with id '" + q.after + "'.", "after");
      return {};
    }
    begin = *at + 1;
  }
  if (!q.before.empty()) {
    auto at = find(q.before);
    if (!at) {
      err = ev::make_error(riposte_errc::invalid_request,
                           "No input item found with id '" + q.before + "'.", "before");
      return {};
    }
    end = *at;
  }
  json data = json::array();
  for (auto i = begin; i < end && data.size() < static_cast<std::size_t>(q.limit); ++i)
    data.push_back(items[order[i]]);
  bool has_more = begin + data.size() < end;
  return {{"object", "list"},
          {"data", data},
          {"first_id", data.empty() ? json() : data.front()["id"]},
          {"last_id", data.empty() ? json() : data.back()["id"]},
          {"has_more", has_more}};
}

// Creation, step 3: claim the Idempotency-Key (if any), then record.
void claim_key(response_actor* self) {
  auto& st = self->state;
  if (st.cmd.idempotency_key.empty()) {
    record_creation(self);
    return;
  }
  auto log = st.log;
  auto tenant = st.cmd.tenant;
  auto key = st.cmd.idempotency_key;
  ev::idempotency_record rec{st.cmd.request_hash, st.id};
  caf::actor me = self;
  st.in_flight = true;
  st.svc->executor->post(
      [=] {
        auto claimed = log->claim_idempotency(tenant, key, rec, now_micros());
        ev::result<json> out = json();
        if (!claimed)
          out = claimed.error();
        else
          out =
              json{{"response_id", claimed->response_id}, {"request_hash", claimed->request_hash}};
        caf::anon_send(me, loaded_atom::value, std::move(out));
      },
      [=](const std::string& what) {
        caf::anon_send(me, loaded_atom::value,
                       ev::result<json>{ev::make_error(riposte_errc::store_error, what)});
      });
}

void start_generation(response_actor* self);

// POST /v1/responses/input_tokens: the planned context's size; nothing was
// stored, and the actor goes.
void answer_count(response_actor* self, std::int64_t tokens) {
  auto& st = self->state;
  for (auto& w : st.waiters)
    w(json{{"object", "response.input_tokens"}, {"input_tokens", tokens}});
  st.waiters.clear();
  schedule_passivation(self, std::chrono::milliseconds(0));
}

// context_management [{type: "compaction", compact_threshold}]: the token
// count over which the conversation so far is compacted first (0: never).
std::int64_t compact_threshold(const response_data& st) {
  for (const auto& entry : st.cmd.params.value("context_management", json::array()))
    if (entry.value("type", "") == "compaction") {
      auto t = entry.value("compact_threshold", json());
      if (t.is_number_integer())
        return t.get<std::int64_t>();
      return context_window(st.svc->cfg, st.model) * 3 / 4; // none given: most of the window
    }
  return 0;
}

// Server-side compaction: a compact-mode response of the same chain (the
// model summarizes it through the backend, nothing stored), then this turn
// runs on its result.
void start_compaction(response_actor* self) {
  auto& st = self->state;
  st.compaction_tried = true;
  create_command c;
  c.response_id = ev::make_id("resp_");
  c.tenant = st.cmd.tenant;
  c.model = st.cmd.model;
  c.params = {{"store", false}, {"truncation", "auto"}, {"instructions", nullptr}};
  c.input = json::array();
  c.previous_response_id = st.cmd.previous_response_id;
  c.store = false;
  c.compact = true;
  caf::actor me = self;
  reply_to back{reply_to::fn_type(
      [me](ev::result<json> r) { caf::anon_send(me, compacted_atom::value, std::move(r)); })};
  self->send(registry_of(st), create_atom::value, std::move(c), std::move(back));
}

// Creation, step 2b: the context must fit the model's window. A re-queued
// response plans again (it fitted when it was created).
void after_parent(response_actor* self) {
  auto& st = self->state;
  if (auto threshold = compact_threshold(st);
      threshold > 0 && !st.compaction_tried && !st.requeued && !st.cmd.compact &&
      !st.cmd.count_only && st.parent_context && st.svc->count_tokens &&
      st.svc->count_tokens(make_request(st)) > threshold) {
    start_compaction(self);
    return;
  }
  auto plan = plan_context(st.cmd, make_request(st), st.svc->count_tokens);
  if (st.cmd.count_only && !plan && plan.error().code == riposte_errc::context_too_long) {
    // A count answers even when the request would not fit: that is what
    // the client is asking.
    auto req = make_request(st);
    answer_count(self, st.svc->count_tokens(req));
    return;
  }
  if (!plan && !st.requeued) {
    fail_create(self, plan.error());
    return;
  }
  if (plan) {
    st.dropped_items = plan->dropped_items;
    if (plan->dropped_items > 0)
      st.cmd.params["truncation_details"] = plan->details;
  }
  if (st.cmd.count_only) {
    answer_count(self, plan ? plan->input_tokens : 0);
    return;
  }
  if (st.requeued)
    start_generation(self);
  else
    claim_key(self);
}

// Creation, step 2: the parent's conversation, one message whatever its depth.
void resolve_parent(response_actor* self) {
  auto& st = self->state;
  if (st.cmd.previous_response_id.empty()) {
    after_parent(self);
    return;
  }
  caf::actor me = self;
  self->send(registry_of(st), context_atom::value, st.cmd.previous_response_id, st.cmd.tenant, me);
}

bool includes(const json& params, const char* what);

// Notes the web_search calls in a generation's events. When the generation
// ends having made some, its terminal event is held back (its usage kept):
// true, and the searches run next.
bool note_search_calls(response_data& st, std::vector<ev::event>& events) {
  for (const auto& e : events)
    if (const auto* added = std::get_if<ev::output_item_added>(&e)) {
      st.next_output_index = std::max(st.next_output_index, added->output_index + 1);
      if (is_hosted_call(added->item))
        st.search_calls.emplace_back(added->output_index, added->item);
    }
  if (st.search_calls.empty())
    return false;
  auto end = std::find_if(events.begin(), events.end(), [](const ev::event& e) {
    return std::holds_alternative<ev::response_completed>(e) ||
           std::holds_alternative<ev::response_incomplete>(e);
  });
  if (end == events.end())
    return false;
  std::visit(
      [&](const auto& x) {
        if constexpr (requires { x.usage; })
          st.earlier_usage = add_usage(st.earlier_usage, x.usage);
      },
      *end);
  events.erase(end);
  return true;
}

// One image through the provider (blocking): the answer for on_searched.
json generate_image(const image_generation_settings& cfg, const json& tool,
                    const std::string& prompt) {
  if (!cfg.provider)
    return {{"error", "no image provider is configured"}};
  auto size = image_size(tool, cfg, "size");
  if (!size)
    return {{"error", size.error().message}};
  image_request req{prompt, size->first, size->second, tool.value("quality", "auto")};
  events::result<generated_image> made = ev::make_error(riposte_errc::internal, "");
  try { // a provider's answer is untrusted JSON: nothing it holds may end riposte
    made = cfg.provider->generate(req);
  } catch (const std::exception& e) {
    made =
        ev::make_error(riposte_errc::backend_unavailable,
                       std::string{"the image provider's answer did not make sense: "} + e.what());
  }
  if (!made)
    return {{"error", made.error().message}};
  return {{"image",
           {{"result", made->base64},
            {"output_format", made->format},
            {"revised_prompt", made->revised_prompt},
            {"size", std::to_string(req.width) + "x" + std::to_string(req.height)},
            {"quality", req.quality}}}};
}

// Runs the pending searches off the actor (the provider blocks), each call
// stepping through in_progress and searching on the stream first.
void run_searches(response_actor* self) {
  auto& st = self->state;
  std::vector<ev::event> progress;
  std::vector<json> calls;
  for (const auto& [index, item] : st.search_calls) {
    auto id = item.value("id", "");
    bool image = item.value("type", "") == "image_generation_call";
    auto tool = image ? "image_generation" : "web_search";
    progress.emplace_back(ev::hosted_tool_progressed{id, index, tool, "in_progress"});
    progress.emplace_back(
        ev::hosted_tool_progressed{id, index, tool, image ? "generating" : "searching"});
    calls.push_back(item);
  }
  enqueue(self, std::move(progress));
  json tool = json::object();       // the request's web_search tool (its filters)
  json image_tool = json::object(); // its image_generation tool (size, quality)
  for (const auto& t : st.cmd.params.value("tools", json::array())) {
    if (t.is_object() && t.value("type", "").rfind("web_search", 0) == 0)
      tool = t;
    if (t.is_object() && t.value("type", "") == "image_generation")
      image_tool = t;
  }
  auto cfg = st.svc->web_search;
  auto images = st.svc->images;
  caf::actor me = self;
  st.svc->executor->post(
      [=] {
        json answers = json::array();
        for (const auto& call : calls) {
          if (call.value("type", "") == "image_generation_call") {
            answers.push_back(generate_image(images, image_tool, call.value("revised_prompt", "")));
            continue;
          }
          if (!cfg.provider) {
            answers.push_back({{"error", "no web search provider is configured"}});
            continue;
          }
          events::result<std::vector<search_result>> found = std::vector<search_result>{};
          try { // a provider's answer is untrusted JSON: nothing it holds may end riposte
            found = cfg.provider->search(call["action"].value("query", ""));
          } catch (const std::exception& e) {
            found = ev::make_error(
                riposte_errc::backend_unavailable,
                std::string{"the search provider's answer did not make sense: "} + e.what());
          }
          if (!found) {
            answers.push_back({{"error", found.error().message}});
            continue;
          }
          json results = json::array();
          for (const auto& r : filter_results(std::move(*found), tool, cfg))
            results.push_back({{"url", r.url}, {"title", r.title}, {"snippet", r.snippet}});
          answers.push_back({{"results", results}});
        }
        caf::anon_send(me, searched_atom::value, ev::result<json>{std::move(answers)});
      },
      [=](const std::string& what) {
        caf::anon_send(me, searched_atom::value,
                       ev::result<json>{ev::make_error(riposte_errc::internal, what)});
      });
}

// The searches answered: each call's item is done (completed, or failed with
// the provider's error), the model gets the results as the tool's output, and
// generates again.
void on_searched(response_actor* self, const json& answers) {
  auto& st = self->state;
  std::vector<ev::event> done;
  for (std::size_t i = 0; i < st.search_calls.size(); ++i) {
    auto [index, item] = st.search_calls[i];
    const auto& answer = i < answers.size() ? answers[i] : json::object();
    auto call_id = "call_" + item.value("id", "");
    if (item.value("type", "") == "image_generation_call") {
      std::string output;
      if (answer.contains("image")) {
        for (const auto& [k, v] : answer["image"].items())
          item[k] = v;
        item["status"] = "completed";
        output = "The image was generated and is shown to the user.";
        done.emplace_back(ev::hosted_tool_progressed{item.value("id", ""), index,
                                                     "image_generation", "completed"});
      } else {
        item["status"] = "failed";
        output = "The image could not be generated: " + answer.value("error", std::string{});
      }
      done.emplace_back(ev::output_item_done{index, item});
      st.search_items.push_back(
          {{"type", "function_call"},
           {"call_id", call_id},
           {"name", "image_generation"},
           {"arguments", ev::dump_json(json{{"prompt", item.value("revised_prompt", "")}})}});
      st.search_items.push_back(
          {{"type", "function_call_output"}, {"call_id", call_id}, {"output", output}});
      continue;
    }
    auto query = item["action"].value("query", "");
    std::string output;
    if (answer.contains("error")) {
      item["status"] = "failed";
      output = "The web search failed: " + answer["error"].get<std::string>();
    } else {
      item["status"] = "completed";
      json sources = json::array();
      int n = 0;
      for (const auto& r : answer["results"]) {
        sources.push_back({{"type", "url"}, {"url", r["url"]}});
        st.sources.push_back({r["url"], r["title"], r["snippet"]});
        output += "[" + std::to_string(++n) + "] " + r["title"].get<std::string>() + "\n" +
                  r["url"].get<std::string>() + "\n" + r["snippet"].get<std::string>() + "\n\n";
      }
      if (n == 0)
        output = "The web search found nothing for this query.";
      if (includes(st.cmd.params, "web_search_call.action.sources"))
        item["action"]["sources"] = std::move(sources);
      done.emplace_back(
          ev::hosted_tool_progressed{item.value("id", ""), index, "web_search", "completed"});
    }
    done.emplace_back(ev::output_item_done{index, item});
    st.search_items.push_back({{"type", "function_call"},
                               {"call_id", call_id},
                               {"name", "web_search"},
                               {"arguments", ev::dump_json(json{{"query", query}})}});
    st.search_items.push_back(
        {{"type", "function_call_output"}, {"call_id", call_id}, {"output", output}});
  }
  st.search_calls.clear();
  ++st.search_rounds;
  enqueue(self, std::move(done));
  if (st.cancel_requested) {
    enqueue(self, {*st.cancel_event});
    return;
  }
  start_generation(self);
}

// The end of a response that searched: its usage counts every generation,
// and its answer cites the results it mentions (url_citation annotations).
void finish_searching(response_data& st, std::vector<ev::event>& events) {
  if (st.search_rounds == 0)
    return;
  for (auto& e : events) {
    std::visit(
        [&](auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, ev::response_completed> ||
                        std::is_same_v<T, ev::response_incomplete> ||
                        std::is_same_v<T, ev::response_failed>) {
            x.usage = add_usage(st.earlier_usage, x.usage);
          } else if constexpr (std::is_same_v<T, ev::output_item_done>) {
            if (x.item.value("type", "") == "message")
              for (auto& part : x.item["content"])
                cite(part, st.sources);
          } else if constexpr (std::is_same_v<T, ev::content_part_done>) {
            cite(x.part, st.sources);
          }
        },
        e);
  }
}

// Structured outputs: the text of the answer must be what text.format asked
// for. A completion that is not is turned into a failure saying why (the
// output items stay, for the client to inspect).
void check_output_format(response_data& st, std::vector<ev::event>& events) {
  const auto& format = st.cmd.params.value("text", json::object()).value("format", json());
  if (!format.is_object() || format.value("type", "text") == "text")
    return;
  for (auto& e : events) {
    if (const auto* done = std::get_if<ev::output_item_done>(&e)) {
      if (done->item.value("type", "") == "message")
        for (const auto& part : done->item.value("content", json::array()))
          if (part.value("type", "") == "output_text")
            st.answer_text += part.value("text", "");
      continue;
    }
    const auto* completed = std::get_if<ev::response_completed>(&e);
    if (completed == nullptr)
      continue;
    std::optional<json_schema> schema;
    if (format.value("type", "") == "json_schema") {
      auto compiled = json_schema::compile(format.value("schema", json::object()));
      if (compiled)
        schema = std::move(*compiled);
    }
    auto why = check_structured_output(format, schema ? &*schema : nullptr, st.answer_text);
    if (!why.empty())
      e = ev::response_failed{"output_schema_violation", why, completed->usage};
  }
}

// usage.input_tokens_details.cached_tokens: the prefix this turn shares with
// its parent's on the same model (what Ollama's KV cache can reuse when it
// still holds the parent's turn). Accounting, not control: a changed model or
// instructions, or a truncated context, shares nothing.
void account_cached_tokens(const response_data& st, std::vector<ev::event>& events) {
  const auto* parent = st.parent_context.get();
  if (parent == nullptr || parent->prefix_tokens <= 0 || st.dropped_items > 0 ||
      parent->model != st.cmd.model ||
      parent->instructions_fp != fingerprint_of(st.cmd.params.value("instructions", json())))
    return;
  for (auto& e : events)
    std::visit(
        [&](auto& x) {
          if constexpr (requires { x.usage; }) {
            if (!x.usage.is_object() || !x.usage.contains("input_tokens"))
              return;
            auto input = x.usage.value("input_tokens", std::int64_t{0});
            x.usage["input_tokens_details"]["cached_tokens"] =
                std::min(parent->prefix_tokens, input);
          }
        },
        e);
}

bool includes(const json& params, const char* what) {
  for (const auto& i : params.value("include", json::array()))
    if (i == what)
      return true;
  return false;
}

// include ["reasoning.encrypted_content"]: finished reasoning items carry
// their text sealed for this tenant, so a stateless client can hand it back.
void seal_reasoning(response_data& st, std::vector<ev::event>& events) {
  if (!st.svc->reasoning_sealer || !includes(st.cmd.params, "reasoning.encrypted_content"))
    return;
  for (auto& e : events) {
    auto* done = std::get_if<ev::output_item_done>(&e);
    if (done == nullptr || done->item.value("type", "") != "reasoning")
      continue;
    std::string text;
    for (const auto& part : done->item.value("content", json::array()))
      text += part.value("text", "");
    done->item["encrypted_content"] = st.svc->reasoning_sealer->seal(
        st.cmd.tenant, json{{"text", text}, {"model", st.cmd.model}});
  }
}

// Replayed reasoning items: their sealed text goes back to the model (the
// stored input keeps them exactly as the client sent them).
json unsealed_items(const response_data& st, json items) {
  if (!st.svc->reasoning_sealer)
    return items;
  for (auto& item : items) {
    if (!item.is_object() || !item.value("encrypted_content", json()).is_string())
      continue;
    if (item.value("type", "") == "compaction") {
      auto payload = st.svc->reasoning_sealer->open(st.cmd.tenant,
                                                    item["encrypted_content"].get<std::string>());
      if (payload && payload->value("summary", json()).is_string())
        item["content"] = json::array({{{"type", "output_text"}, {"text", (*payload)["summary"]}}});
      continue;
    }
    if (item.value("type", "") != "reasoning")
      continue;
    auto payload = st.svc->reasoning_sealer->open(st.cmd.tenant, // set for new and re-queued alike
                                                  item["encrypted_content"].get<std::string>());
    if (payload && payload->value("text", json()).is_string())
      item["content"] = json::array({{{"type", "reasoning_text"}, {"text", (*payload)["text"]}}});
  }
  return items;
}

// The first tool output whose call is nowhere in the chain. Tool loops answer
// the latest response, so the walk goes from the newest segment back and
// stops as soon as every call is found.
std::optional<std::pair<std::string, std::string>>
first_unanswered(const context_ptr& chain,
                 const std::vector<std::pair<std::string, std::string>>& open) {
  if (open.empty())
    return std::nullopt;
  std::set<std::string> wanted;
  for (const auto& o : open)
    wanted.insert(o.first);
  for (auto* seg = chain.get(); seg != nullptr && !wanted.empty(); seg = seg->parent.get())
    for (const auto& item : seg->items) {
      auto type = item.value("type", "");
      if (type == "function_call" || type == "custom_tool_call")
        wanted.erase(item.value("call_id", ""));
    }
  for (const auto& o : open)
    if (wanted.count(o.first))
      return o;
  return std::nullopt;
}

// Creation, step 2 answered: the parent's context, or why there is none.
void on_parent(response_actor* self, context_reply& parent) {
  auto& s = self->state;
  if (!parent.context) {
    auto err = parent.context.error();
    err.param = "previous_response_id";
    fail_create(self, err);
    return;
  }
  auto parent_depth = (*parent.context)->depth;
  if (parent_depth + 1 > s.svc->cfg.max_chain_depth) {
    fail_create(self, ev::make_error(riposte_errc::invalid_request,
                                     "previous_response_id chain is deeper than " +
                                         std::to_string(s.svc->cfg.max_chain_depth) + " responses",
                                     "previous_response_id"));
    return;
  }
  if (auto unanswered = first_unanswered(*parent.context, s.cmd.open_call_ids)) {
    fail_create(self, no_tool_call(*unanswered));
    return;
  }
  s.parent_context = std::move(*parent.context);
  s.depth = parent_depth + 1;
  after_parent(self);
}

bool has(const std::vector<std::string>& caps, const char* cap) {
  return std::find(caps.begin(), caps.end(), cap) != caps.end();
}

// Where the first image part is ("input[i].content[j]"), or empty.
std::string first_image(const json& input) {
  for (std::size_t i = 0; i < input.size(); ++i) {
    const auto& item = input[i];
    if (item.is_object() && item.contains("content") && item["content"].is_array())
      for (std::size_t j = 0; j < item["content"].size(); ++j)
        if (item["content"][j].is_object() && item["content"][j].value("type", "") == "input_image")
          return "input[" + std::to_string(i) + "].content[" + std::to_string(j) + "]";
  }
  return {};
}

// Creation, step 1b: files and images by reference become what the model
// reads (a store job), before anything is stored; a bad reference is a 400.
void resolve_references(response_actor* self) {
  auto& st = self->state;
  if (!has_references(st.cmd.input)) {
    resolve_parent(self);
    return;
  }
  auto log = st.log == st.private_log.get() ? st.svc->log : st.log; // files live in the store
  auto input = st.cmd.input;
  auto tenant = st.cmd.tenant;
  auto limits = st.svc->inputs;
  caf::actor me = self;
  st.svc->executor->post(
      [=] {
        auto resolved = resolve_inputs(input, tenant, *log, limits);
        caf::anon_send(me, resolved_atom::value, std::move(resolved));
      },
      [=](const std::string& what) {
        caf::anon_send(me, resolved_atom::value,
                       ev::result<json>{ev::make_error(riposte_errc::internal, what)});
      });
}

// Creation, step 0: a prompt template (a store read) becomes the
// instructions and the first input messages, before anything is checked.
void resolve_prompt_ref(response_actor* self) {
  auto& st = self->state;
  auto ref = st.cmd.params.value("prompt", json());
  if (!ref.is_object()) {
    check_model(self);
    return;
  }
  auto log = st.log == st.private_log.get() ? st.svc->log : st.log; // prompts live in the store
  auto tenant = st.cmd.tenant;
  caf::actor me = self;
  st.svc->executor->post(
      [=] {
        auto rendered = resolve_prompt(*log, tenant, ref);
        ev::result<json> out = json();
        if (rendered)
          out = json{{"instructions", rendered->instructions}, {"input", rendered->input}};
        else
          out = rendered.error();
        caf::anon_send(me, prompted_atom::value, std::move(out));
      },
      [=](const std::string& what) {
        caf::anon_send(me, prompted_atom::value,
                       ev::result<json>{ev::make_error(riposte_errc::internal, what)});
      });
}

// The prompt's instructions come first (the request's own follow them), its
// messages before the request's input.
void apply_prompt(response_data& st, json& rendered) {
  auto& instructions = rendered["instructions"];
  const auto& own = st.cmd.params.value("instructions", json());
  if (instructions.is_string() && own.is_string())
    st.cmd.params["instructions"] =
        instructions.get<std::string>() + "\n\n" + own.get<std::string>();
  else if (instructions.is_string())
    st.cmd.params["instructions"] = instructions;
  json input = json::array();
  for (auto& item : rendered["input"]) {
    item["id"] = ev::make_id("msg_");
    item["status"] = "completed";
    input.push_back(std::move(item));
  }
  for (auto& item : st.cmd.input)
    input.push_back(std::move(item));
  st.cmd.input = std::move(input);
}

// Creation, step 1: the model must be one the backend serves, able to do what
// the request asks (images, reasoning) before anything is stored.
void check_model(response_actor* self) {
  auto& st = self->state;
  auto fault = [self](const std::string& what) { on_fault(self, what); };
  self->request(st.svc->backend_pool(), st.svc->cfg.model_request_timeout, model_atom::value,
                st.cmd.model)
      .then(guard_fn(
                self, fault,
                [self](ev::result<model_info>& info) {
                  auto& s = self->state;
                  if (!info) {
                    fail_create(self, info.error());
                    return;
                  }
                  if (auto image = first_image(s.cmd.input);
                      !image.empty() && !has(info->capabilities, "vision")) {
                    fail_create(
                        self, ev::make_error(riposte_errc::model_capability,
                                             "Model '" + s.cmd.model +
                                                 "' does not accept image inputs (it has no vision "
                                                 "capability).",
                                             image));
                    return;
                  }
                  auto effort =
                      s.cmd.params.value("reasoning", json::object()).value("effort", json());
                  if (effort.is_string() && effort != "none" && effort != "minimal" &&
                      !has(info->capabilities, "thinking")) {
                    fail_create(
                        self, ev::make_error(riposte_errc::unsupported_parameter,
                                             "Unsupported parameter: 'reasoning.effort' is not "
                                             "supported with model '" +
                                                 s.cmd.model + "' (it has no thinking capability).",
                                             "reasoning.effort"));
                    return;
                  }
                  // An image riposte would generate must fit the operator's cap.
                  if (s.svc->images.provider) {
                    const auto& tools = s.cmd.params.value("tools", json::array());
                    for (std::size_t i = 0; i < tools.size(); ++i)
                      if (tools[i].is_object() && tools[i].value("type", "") == "image_generation")
                        if (auto size = image_size(tools[i], s.svc->images,
                                                   "tools[" + std::to_string(i) + "].size");
                            !size) {
                          fail_create(self, size.error());
                          return;
                        }
                  }
                  s.model = std::move(*info);
                  resolve_references(self);
                }),
            [self](caf::error& err) {
              fail_create(self, ev::make_error(riposte_errc::backend_unavailable,
                                               "The model's capabilities could not be read: " +
                                                   caf::to_string(err) + "."));
            });
}

// An exception was contained in one of this actor's handlers (its message's
// requester has its error already). The response must not hang: a running
// generation is stopped and the response ends failed; if the actor faults
// again while repairing itself, it stops, and the registry rebuilds it from
// the log on its next message (which closes the response the same way).
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
  // the stored creation's first step (see appended_atom).
  st.cancel_event = ev::response_failed{
      "server_error", "The server had an error while processing this response.", json()};
  if (st.generating) {
    st.cancel_requested = false; // cancel_generation sets it again
    cancel_generation(self, "server_error");
    return;
  }
  st.cancel_requested = true;
  if (st.view.exists())
    enqueue(self, {*st.cancel_event});
}

caf::behavior main_behavior(response_actor* self) {
  return guarded(
      self, [self](const std::string& what) { on_fault(self, what); },
      // A new response: check the model, claim the idempotency key, resolve the
      // parent, then record the creation and start generating.
      [=](create_atom, create_command& cmd, reply_to& r) {
        settle(self);
        auto& st = self->state;
        ++st.handled;
        ++st.epoch;
        st.cmd = std::move(cmd);
        st.waiters.push_back(std::move(r));
        if (!st.cmd.store) {
          st.private_log = st.svc->make_ephemeral_log();
          st.log = st.private_log.get();
        }
        resolve_prompt_ref(self);
      },
      // The idempotency claim returned: ours, a replay, or a conflicting reuse.
      [=](loaded_atom, ev::result<json>& claim) {
        settle(self);
        auto& st = self->state;
        st.in_flight = false;
        if (!claim) {
          fail_create(self, claim.error());
          return;
        }
        auto winner = (*claim)["response_id"].get<std::string>();
        if (winner == st.id) {
          record_creation(self);
          return;
        }
        if ((*claim)["request_hash"] != st.cmd.request_hash) {
          fail_create(self, ev::make_error(riposte_errc::idempotency_conflict,
                                           "Idempotency-Key '" + st.cmd.idempotency_key +
                                               "' was already used with a different request body.",
                                           "Idempotency-Key"));
          return;
        }
        // The same request again: answer with the response the key created.
        if (st.svc->stats)
          st.svc->stats->idempotent_replay();
        for (auto& w : st.waiters)
          self->send(registry_of(st), await_atom::value, winner, st.cmd.tenant, w);
        st.waiters.clear();
        for (auto& sub : st.subs) {
          sub.sink->retarget(winner);
          self->send(registry_of(st), subscribe_atom::value, winner, st.cmd.tenant,
                     std::int64_t{-1}, sink_handle{sub.sink});
        }
        st.subs.clear();
        schedule_passivation(self, std::chrono::milliseconds(0));
      },
      [=](appended_atom, append_done& done, bool snapshot) {
        settle(self);
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
        bool was_created = st.view.exists();
        bool was_terminal = st.view.terminal();
        bool was_deleted = st.view.deleted;
        apply_stored(self, *done.stored, &st.sent);
        st.sent.clear();
        if (!was_created && st.view.exists() && !st.started) {
          if (st.cancel_requested) {
            enqueue(self, {*st.cancel_event});
          } else if (st.view.status == "queued") {
            // A background response answers at once, then waits in the pool.
            for (auto& w : st.waiters)
              w(projections::render(st.view));
            st.waiters.clear();
            start_generation(self);
          } else {
            start_generation(self);
          }
        }
        if (!was_deleted && st.view.deleted) {
          for (auto& w : st.delete_waiters)
            w(json{{"id", st.id}, {"object", "response.deleted"}, {"deleted", true}});
          st.delete_waiters.clear();
        }
        if (!was_terminal && st.view.terminal()) {
          on_terminal(self);
          return;
        }
        flush(self);
      },
      // A fast batch is in (the writer published it) and this actor asked to
      // hear, or it failed.
      [=](published_atom, std::uint64_t number, append_done& done) {
        settle(self);
        auto& st = self->state;
        // A stored batch was folded in by settle() above; only a failure is
        // left to handle here.
        if (!st.fast || st.fast->number != number || done.stored)
          return;
        st.fast.reset();
        st.in_flight = false;
        append_failed(self, done.stored.error());
      },
      // Events from the backend, in order.
      [=](update_atom, generation_update& u) {
        settle(self);
        auto& st = self->state;
        if (u.finished)
          st.generating = false;
        if (st.broken || st.view.terminal()) {
          if (u.finished) // a broken actor waited for its generation to end
            schedule_passivation(self, std::chrono::milliseconds(0));
          return;
        }
        bool ends = false;
        for (const auto& e : u.events)
          ends = ends || std::holds_alternative<ev::response_completed>(e) ||
                 std::holds_alternative<ev::response_incomplete>(e) ||
                 std::holds_alternative<ev::response_failed>(e);
        if (u.finished && !ends && st.cancel_requested)
          u.events.emplace_back(*st.cancel_event);
        if (note_search_calls(st, u.events)) {
          // The model asked for web searches: riposte runs them, then the
          // model goes on in the same response.
          enqueue(self, std::move(u.events));
          run_searches(self);
          return;
        }
        // Deltas (nearly every update) need no checks: only finished items
        // and the end do.
        bool notable = std::any_of(u.events.begin(), u.events.end(), [](const ev::event& e) {
          return std::holds_alternative<ev::output_item_done>(e) ||
                 std::holds_alternative<ev::response_completed>(e) ||
                 std::holds_alternative<ev::response_incomplete>(e) ||
                 std::holds_alternative<ev::response_failed>(e);
        });
        if (notable) {
          finish_searching(st, u.events);
          check_output_format(st, u.events);
          account_cached_tokens(st, u.events);
          seal_reasoning(st, u.events);
        }
        enqueue(self, std::move(u.events));
      },
      // A streaming create: the same steps, with a subscriber instead of a waiter.
      [=](create_atom, create_command& cmd, sink_handle& h) {
        settle(self);
        auto& st = self->state;
        ++st.handled;
        ++st.epoch;
        add_subscriber(self, std::move(h.sink), true, -1);
        st.cmd = std::move(cmd);
        if (!st.cmd.store) {
          st.private_log = st.svc->make_ephemeral_log();
          st.log = st.private_log.get();
        }
        resolve_prompt_ref(self);
      },
      // Stream a response: replay the log after `after`, then go on live.
      [=](subscribe_atom, const std::string& tenant, std::int64_t after, sink_handle& h) {
        settle(self);
        auto& st = self->state;
        ++st.handled;
        if (!visible_to(st, tenant) && !creating_for(st, tenant))
          return h.sink->fail(not_found(st.id));
        if (after >= st.view.version) {
          if (st.view.terminal())
            return h.sink->close();
          add_subscriber(self, std::move(h.sink), true, after);
          return;
        }
        add_subscriber(self, std::move(h.sink), false, after);
        auto sub_id = st.subs.back().id;
        auto log = st.log;
        auto stream = ev::response_stream(st.id);
        auto upto = st.view.version; // later events reach the subscriber's buffer
        caf::actor me = self;
        st.svc->executor->post(
            [=] {
              auto events = log->read(stream, 0, static_cast<std::size_t>(upto + 1));
              ev::result<std::vector<projections::stream_frame>> out =
                  std::vector<projections::stream_frame>{};
              if (!events)
                out = events.error();
              else
                out = projections::replay_stream(*events, after);
              caf::anon_send(me, replayed_atom::value, sub_id, std::move(out));
            },
            [=](const std::string& what) {
              caf::anon_send(me, replayed_atom::value, sub_id,
                             ev::result<std::vector<projections::stream_frame>>{
                                 ev::make_error(riposte_errc::store_error, what)});
            });
      },
      [=](replayed_atom, std::uint64_t sub_id,
          ev::result<std::vector<projections::stream_frame>>& replay) {
        settle(self);
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
        it->sink->push_all(*replay);
        it->sink->push_all(it->buffer);
        it->buffer.clear();
        it->live = true;
        if (st.view.terminal()) {
          it->sink->close();
          st.subs.erase(it);
        }
        schedule_passivation(self, st.svc->cfg.passivate_after);
      },
      // The raw event log, for debugging: envelopes after seq `after`.
      [=](events_atom, const std::string& tenant, list_query& q, reply_to& r) {
        settle(self);
        auto& st = self->state;
        ++st.handled;
        if (!visible_to(st, tenant))
          return r(not_found(st.id));
        std::uint64_t from = 0;
        if (!q.after.empty()) {
          if (q.after.find_first_not_of("0123456789") != std::string::npos || q.after.size() > 18)
            return r(ev::make_error(riposte_errc::invalid_value,
                                    "Invalid value for 'after': expected a sequence number.",
                                    "after"));
          from = std::stoull(q.after) + 1;
        }
        auto log = st.log;
        auto stream = ev::response_stream(st.id);
        auto limit = static_cast<std::size_t>(q.limit);
        auto upto = st.view.version; // only what this actor has applied
        st.svc->executor->post([=] {
          auto events = log->read(stream, from, limit + 1);
          if (!events)
            return r(events.error());
          json data = json::array();
          bool more = false;
          for (const auto& env : *events) {
            if (static_cast<std::int64_t>(env.seq) > upto)
              break;
            if (data.size() == limit) {
              more = true;
              break;
            }
            data.push_back(ev::to_json(env));
          }
          r(json{{"object", "list"}, {"data", data}, {"has_more", more}});
        });
      },
      // The job timeout passed: stop, and end failed with a clear code.
      [=](deadline_atom) {
        settle(self);
        auto& st = self->state;
        if (st.view.terminal() || st.cancel_requested)
          return;
        st.cancel_event = ev::response_failed{"job_timeout",
                                              "The response did not finish within " +
                                                  std::to_string(st.svc->cfg.job_timeout.count()) +
                                                  " ms (--job-timeout-ms).",
                                              json()};
        cancel_generation(self, "job_timeout");
      },
      // The pool admitted our generation: a queued response is now running.
      [=](admitted_atom) {
        settle(self);
        auto& st = self->state;
        if (st.view.status == "queued" && !st.cancel_requested)
          enqueue(self, {ev::response_in_progress{}});
      },
      // Streams silent for a whole interval get a comment frame.
      [=](keepalive_atom, std::uint64_t published_then) {
        settle(self);
        auto& st = self->state;
        st.keepalive_armed = false;
        if (st.view.terminal() || st.subs.empty())
          return;
        if (published_then == st.published)
          for (auto& sub : st.subs)
            if (sub.live)
              sub.sink->keep_alive();
        st.keepalive_armed = true;
        self->delayed_send(self, st.svc->cfg.keepalive, keepalive_atom::value, st.published);
      },
      // POST /v1/responses/{id}/cancel: background responses only, as in the
      // API; a finished one is returned unchanged.
      [=](cancel_atom, const std::string& tenant, reply_to& r) {
        settle(self);
        auto& st = self->state;
        ++st.handled;
        if (!visible_to(st, tenant))
          return r(not_found(st.id));
        if (!st.cmd.params.value("background", st.view.params.value("background", false)))
          return r(ev::make_error(riposte_errc::invalid_request,
                                  "Only responses created with background=true can be cancelled.",
                                  "response_id"));
        if (st.view.terminal())
          return r(projections::render(st.view));
        st.cancel_waiters.push_back(std::move(r));
        cancel_generation(self, "client_cancelled");
      },
      // A subscriber left. The last one leaving a foreground response cancels
      // it: no GPU time for an answer no one reads.
      [=](gone_atom, std::uint64_t sub_id) {
        settle(self);
        auto& st = self->state;
        std::erase_if(st.subs, [&](const subscription& s) { return s.id == sub_id; });
        if (st.svc->stats)
          st.svc->stats->subscriber_dropped();
        if (st.subs.empty() && st.waiters.empty() && !st.view.terminal() &&
            !st.cmd.params.value("background", false))
          cancel_generation(self, "client_disconnected");
        if (st.subs.empty())
          schedule_passivation(self, st.svc->cfg.passivate_after);
      },
      [=](fetch_atom, const std::string& tenant, reply_to& r) {
        settle(self);
        auto& st = self->state;
        ++st.handled;
        if (!visible_to(st, tenant))
          return r(not_found(st.id));
        r(projections::render(st.view));
      },
      [=](remove_atom, const std::string& tenant, reply_to& r) {
        settle(self);
        auto& st = self->state;
        ++st.handled;
        ++st.epoch;
        if (!visible_to(st, tenant))
          return r(not_found(st.id));
        if (!st.view.terminal())
          return r(ev::make_error(riposte_errc::invalid_request,
                                  "Response '" + st.id +
                                      "' is still in progress; it can be deleted once it ends."));
        st.delete_waiters.push_back(std::move(r));
        st.cmd.tenant = st.view.tenant;
        enqueue(self, {ev::response_deleted{}});
      },
      [=](items_atom, const std::string& tenant, list_query& q, reply_to& r) {
        settle(self);
        auto& st = self->state;
        ++st.handled;
        if (!visible_to(st, tenant))
          return r(not_found(st.id));
        ev::error_info err;
        auto page = input_items_page(st, q, err);
        if (page.is_null())
          return r(err);
        r(std::move(page));
      },
      // A child asks for this response's conversation.
      [=](context_atom, const std::string& tenant, caf::actor& child) {
        settle(self);
        auto& st = self->state;
        ++st.handled;
        context_reply out;
        if (!visible_to(st, tenant))
          out.context = not_found(st.id, "previous_response_id");
        else if (!st.view.terminal())
          out.context = ev::make_error(riposte_errc::invalid_request,
                                       "Previous response '" + st.id +
                                           "' has not finished yet; wait for it before continuing.",
                                       "previous_response_id");
        else if (!st.context)
          out.context = ev::make_error(riposte_errc::store_error,
                                       "The conversation of '" + st.id +
                                           "' cannot be rebuilt from the store.",
                                       "previous_response_id");
        else
          out.context = st.context;
        self->send(child, context_atom::value, std::move(out));
      },
      // Our parent's answer (creation, step 2).
      [=](context_atom, context_reply& parent) {
        settle(self);
        on_parent(self, parent);
      },
      // The conversation so far came back compacted: plan this turn on it.
      [=](searched_atom, ev::result<json>& answers) {
        settle(self);
        if (!answers)
          return on_fault(self, answers.error().message);
        on_searched(self, *answers);
      },
      [=](compacted_atom, ev::result<json>& compacted) {
        settle(self);
        auto& st = self->state;
        if (!compacted) {
          auto err = compacted.error();
          err.message = "Compacting the conversation failed: " + err.message;
          return fail_create(self, err);
        }
        auto output = (*compacted)["output"];
        st.compaction_item = output.back();
        st.compacted_history =
            std::make_shared<const context_segment>(nullptr, unsealed_items(st, output), 1);
        after_parent(self);
      },
      [=](prompted_atom, ev::result<json>& rendered) {
        settle(self);
        if (!rendered)
          return fail_create(self, rendered.error());
        apply_prompt(self->state, *rendered);
        check_model(self);
      },
      [=](resolved_atom, ev::result<json>& resolved) {
        settle(self);
        if (!resolved)
          return fail_create(self, resolved.error());
        self->state.resolved_input = std::move(*resolved);
        resolve_parent(self);
      },
      // A passivation tick: ask the registry whether nothing is on its way.
      [=](passivate_atom, std::uint64_t epoch) {
        settle(self);
        auto& st = self->state;
        if (epoch != st.epoch || !idle(st))
          return;
        self->send(registry_of(st), passivate_atom::value, st.id, st.handled);
      },
      // The registry forgot us: nothing more can arrive.
      [=](passivate_atom) { self->quit(); },
      // A blocking create's answer: the response once it ends (an idempotent
      // replay of a create still running waits for it, as its creator does).
      [=](await_atom, const std::string& tenant, reply_to& r) {
        settle(self);
        auto& st = self->state;
        ++st.handled;
        if (!visible_to(st, tenant) && !creating_for(st, tenant))
          return r(not_found(st.id));
        if (st.view.terminal() || st.broken)
          return r(blocking_reply(st));
        st.waiters.push_back(std::move(r));
      },
      // Test hook (RIPOSTE_TEST_FAULTS): an exception inside this actor.
      [=](fault_atom, const std::string& mode, reply_to& r) {
        settle(self);
        ++self->state.handled;
        if (mode == "kill")
          return self->quit(caf::exit_reason::kill);
        r(json{{"id", self->state.id}, {"status", self->state.view.status}});
        throw std::runtime_error("injected fault (response " + self->state.id + ")");
      });
}

caf::behavior response_behavior(response_actor* self, std::shared_ptr<const services> svc,
                                caf::actor registry, std::string id, bool rebuild,
                                bool recovering) {
  auto& st = self->state;
  st.recovering = recovering;
  st.svc = std::move(svc);
  st.registry = std::move(registry);
  st.id = std::move(id);
  st.log = st.svc->log;
  if (!rebuild)
    return main_behavior(self);
  load(self);
  return loading_behavior(self);
}

} // namespace

caf::actor spawn_response_actor(caf::local_actor* parent, std::shared_ptr<const services> svc,
                                caf::actor registry, std::string id, bool rebuild,
                                bool recovering) {
  return parent->spawn(response_behavior, std::move(svc), std::move(registry), std::move(id),
                       rebuild, recovering);
}

} // namespace riposte::actors
