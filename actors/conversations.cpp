// Conversations: a directory of actors, one per conversation, each a serial
// owner of its stream.
#include "actors/conversations.hpp"

#include "actors/guard.hpp"
#include "actors/response/decide.hpp"
#include "actors/response/inputs.hpp"
#include "actors/runtime/directory.hpp"
#include "events/event.hpp"
#include "events/faults.hpp"
#include "events/ids.hpp"
#include "events/item_index.hpp"
#include "events/json_safe.hpp"
#include "projections/conversation.hpp"
#include "projections/response_view.hpp"

#include <deque>
#include <optional>
#include <unordered_map>

namespace riposte::actors {

struct conversations_memory : child_directory {};

std::shared_ptr<conversations_memory> make_conversations_memory() {
  return std::make_shared<conversations_memory>();
}

bool plausible_conversation_id(const std::string& id) {
  return id.rfind("conv_", 0) == 0 && id.size() > 5 && id.size() <= 128 &&
         id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_", 5) == std::string::npos;
}

namespace {

using json = nlohmann::json;
namespace ev = events;
using ev::riposte_errc;
using kind = conversation_op::kind;

ev::error_info no_such_conversation(const std::string& id) {
  return ev::make_error(riposte_errc::item_not_found,
                        "Conversation with id '" + ev::excerpt(id) + "' not found.");
}

ev::error_info no_such_item(const std::string& id) {
  return ev::make_error(riposte_errc::item_not_found,
                        "No item found with id '" + ev::excerpt(id) + "'.", "item_id");
}

// What a conversation's actor keeps between its operations. Only the one
// store job running at a time touches it.
struct cell {
  bool loaded = false;
  std::optional<projections::conversation_state> state; // none: no such stream
  std::string locked_by; // the response whose turn runs (none: unlocked)
  // Its items as a chain context, one segment per batch added since it was
  // built (null: build it from the items when a turn asks).
  projections::chain_ptr chain;
};

// How many batches a conversation's chain context keeps as segments of
// their own: enough that a turn reuses what was made of the earlier ones,
// few enough that a chained child stays far below the chain depth limit and
// dropping a chain never recurses deep.
constexpr std::int64_t max_segments = 64;

// Items as a turn's context sees them: sealed compactions and reasoning
// opened for the conversation's tenant (the stored items stay sealed).
json opened(const services& svc, const std::string& tenant, json items) {
  return response::unsealed_items(svc.reasoning_sealer.get(), tenant, std::move(items));
}

projections::chain_ptr chain_of(const services& svc, cell& c) {
  if (!c.chain)
    c.chain = std::make_shared<const projections::chain_segment>(
        nullptr, opened(svc, c.state->tenant, c.state->items), 1);
  return c.chain;
}

// What an event stored in the conversation makes of its chain context: a
// batch of items is one more segment (up to max_segments, then the chain is
// rebuilt as one), a turn's lock changes nothing, anything else rebuilds it.
void extend_chain(const services& svc, cell& c, const std::string& tenant, const ev::event& e) {
  if (std::holds_alternative<ev::conversation_turn_began>(e) ||
      std::holds_alternative<ev::conversation_turn_ended>(e))
    return;
  const auto* added = std::get_if<ev::conversation_items_added>(&e);
  if (added == nullptr || !c.chain || c.chain->depth >= max_segments)
    c.chain = nullptr;
  else
    c.chain = std::make_shared<const projections::chain_segment>(
        c.chain, opened(svc, tenant, added->items), c.chain->depth + 1);
}

// On a store replicas share, another replica may have appended since the
// cell was read: what it stored is folded in first (a failure drops the
// cell, so it is read again whole).
void refresh(const services& svc, cell& c, const std::string& id) {
  if (!c.loaded || !c.state) {
    c.loaded = false;
    return;
  }
  auto tenant = c.state->tenant;
  auto fresh =
      projections::catch_up(*svc.log, id, std::move(*c.state), [&](const ev::envelope& env) {
        auto e = ev::decode(env);
        if (e)
          extend_chain(svc, c, tenant, *e);
        else
          c.chain = nullptr;
      });
  c.state.reset();
  if (fresh)
    c.state = std::move(*fresh);
  else {
    c.loaded = false;
    c.chain = nullptr;
  }
}

// Appends `events` after the version the cell holds and folds what was
// stored in. A conflict (another writer: a second replica, a rebuilt actor)
// or a failure drops the cell, so the next operation reads the log again.
ev::status commit(const services& svc, cell& c, const std::string& id, const std::string& tenant,
                  const std::vector<ev::event>& events, std::vector<ev::marker_ref> markers = {}) {
  auto& log = *svc.log;
  auto now = now_micros();
  ev::append_request req;
  req.stream = id;
  req.expected_version = c.state ? c.state->version : ev::no_stream;
  for (const auto& e : events)
    req.events.push_back(ev::make_new_event(e, tenant, now));
  req.markers = std::move(markers);
  auto stored = std::move(log.append_many({std::move(req)}).front());
  if (!stored) {
    c.loaded = false;
    c.chain = nullptr;
    if (stored.error().code == riposte_errc::version_conflict)
      return ev::make_error(riposte_errc::version_conflict,
                            "Conversation '" + id + "' was changed at the same time; retry.");
    return stored.error();
  }
  auto state = c.state ? std::move(*c.state) : projections::conversation_state{};
  c.state.reset();
  for (const auto& e : events)
    extend_chain(svc, c, tenant, e);
  for (const auto& env : *stored) {
    auto next = projections::apply(std::move(state), env);
    if (!next) {
      c.loaded = false;
      return next.error();
    }
    state = std::move(*next);
  }
  c.state = std::move(state);
  if (svc.stats)
    for (const auto& e : events)
      svc.stats->conversation_event(std::string{ev::type_of(e)});
  return ev::ok();
}

// Every snapshot_every events a snapshot, so that a cold read (after
// passivation, a restart, or on another replica) folds only the newest.
// Called once the operation has answered: its client never waits for it.
void snapshot_if_due(const services& svc, cell& c, const std::string& id) {
  if (!c.loaded || !c.state ||
      c.state->version - c.state->snapshot_version < projections::snapshot_every)
    return;
  auto version = static_cast<std::uint64_t>(c.state->version);
  if (svc.log->put_snapshot(id, {version, projections::to_conversation_snapshot(*c.state)}))
    c.state->snapshot_version = c.state->version;
}

// The items a request adds, as they will be stored: an id the tenant's
// responses or conversations already hold brings the stored item (the body's
// content is ignored, as OpenAI does); an item_reference to nothing is a 404.
ev::result<json> resolve(ev::event_log& log, const projections::conversation_state* existing,
                         const std::string& tenant, const json& items) {
  item_finder finder{log, tenant};
  json out = json::array();
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& item = items[i];
    auto id = ev::string_or(item, "id");
    if (existing != nullptr && projections::find_item(*existing, id) != nullptr)
      return ev::make_error(riposte_errc::already_in_conversation, "Item already in conversation",
                            "items");
    bool reference = item.value("type", json()) == "item_reference";
    if (ev::indexable_item_id(id)) {
      auto found = finder.find(id);
      if (!found)
        return found.error();
      if (*found != nullptr) {
        out.push_back(**found);
        continue;
      }
    }
    if (reference)
      return ev::make_error(riposte_errc::item_not_found,
                            "Item with id '" + ev::excerpt(id) + "' not found.",
                            "items[" + std::to_string(i) + "]");
    out.push_back(item);
  }
  return out;
}

std::vector<ev::marker_ref> index_of(const std::string& tenant, const std::string& id,
                                     const json& items) {
  std::vector<ev::marker_ref> markers;
  auto now = now_micros();
  for (const auto& item : items) {
    auto item_id = ev::string_or(item, "id");
    if (ev::indexable_item_id(item_id))
      markers.push_back(ev::item_marker(tenant, item_id, now, id));
  }
  return markers;
}

json page_of(const projections::items_page& page) {
  return {{"data", page.data}, {"has_more", page.has_more}};
}

// How often an operation runs again after another replica appended to the
// conversation first.
constexpr int max_attempts = 4;

// The cell as the log holds it now: read whole when it is not loaded, and
// on a store replicas share caught up with what others appended.
ev::status load(const services& svc, cell& c, const std::string& id, bool shared) {
  if (shared)
    refresh(svc, c, id);
  if (c.loaded)
    return ev::ok();
  auto read = projections::read_conversation(*svc.log, id);
  c.chain = nullptr;
  if (read)
    c.state = std::move(*read);
  else if (read.error().code == riposte_errc::not_found)
    c.state.reset();
  else
    return read.error();
  c.loaded = true;
  return ev::ok();
}

// On a store replicas share, the end of a turn that added nothing is
// written where the others look, so they stop refusing turns (tried again
// over their appends). Should the store fail, the turn still ends with this
// replica's lease, or at its next turn on the conversation here.
ev::status release_in_log(const services& svc, cell& c, const std::string& id,
                          const std::string& response_id) {
  auto written = ev::ok();
  for (int attempt = 0; attempt < max_attempts; ++attempt) {
    if (auto loaded = load(svc, c, id, true); !loaded)
      return loaded;
    if (!c.state || c.state->turn_response != response_id)
      return ev::ok();
    written = commit(svc, c, id, c.state->tenant, {ev::conversation_turn_ended{response_id}});
    if (written || written.error().code != riposte_errc::version_conflict)
      return written;
  }
  return written;
}

// A turn ended without adding anything: this response holds the
// conversation no longer, here or (on a shared store) anywhere.
void end_turn(const services& svc, cell& c, const std::string& id, const std::string& response_id,
              bool shared, const reply_to& r) {
  if (c.locked_by == response_id) {
    c.locked_by.clear();
    if (svc.stats)
      svc.stats->conversation_turn("released");
  }
  if (shared)
    if (auto s = release_in_log(svc, c, id, response_id); !s)
      return r(s.error());
  r(json::object());
}

// Whether response `id`'s last stored event ends it (false: not stored, or
// not yet ended).
bool response_ended(ev::event_log& log, const std::string& id) {
  auto version = log.version(id);
  if (!version || *version < 0)
    return false;
  auto last = log.read(id, static_cast<std::uint64_t>(*version), 1);
  if (!last || last->empty())
    return false;
  const auto& type = last->back().type;
  return !projections::ending_status(type).empty() || type == ev::response_deleted::type;
}

// Whether another response's turn holds the conversation: one this actor
// runs, or on a store replicas share one written in the stream by a replica
// whose lease still holds and whose response has not ended (a turn this
// replica wrote and no longer runs is over).
ev::result<bool> held_by_another(ev::event_log& log, const cell& c, const std::string& me) {
  if (!c.locked_by.empty() && c.locked_by != me)
    return true;
  const auto& s = *c.state;
  if (s.turn_response.empty() || s.turn_response == me || s.turn_holder == log.lease_holder())
    return false;
  auto live = log.lease_held(s.turn_holder);
  if (!live || !*live)
    return live;
  return !response_ended(log, s.turn_response);
}

// One operation, on a store thread, answering through `r` or `context`.
// `shared`: replicas share the store; `last`: no retry follows a version
// conflict.
void run_once(const services& svc, cell& c, const std::string& id, const conversation_op& op,
              const reply_to& r, const reply_for<context_reply>& context, bool shared, bool last) {
  auto& log = *svc.log;
  auto turn = [&](const char* result) {
    if (svc.stats)
      svc.stats->conversation_turn(result);
  };
  if (!c.loaded && op.what == kind::create) {
    c.loaded = true; // a new id: nothing to read
  } else if (op.what != kind::create) {
    if (auto loaded = load(svc, c, id, shared); !loaded) {
      context(loaded.error()); // whichever of the two the op answers with
      return r(loaded.error());
    }
  }
  if (op.what == kind::create) {
    if (c.state)
      return r(ev::server_fault());
    auto items = resolve(log, nullptr, op.tenant, op.items);
    if (!items)
      return r(items.error());
    std::vector<ev::event> events{
        ev::conversation_created{id, op.metadata, now_micros() / 1'000'000}};
    if (!items->empty())
      events.emplace_back(ev::conversation_items_added{*items, ""});
    if (auto s = commit(svc, c, id, op.tenant, events, index_of(op.tenant, id, *items)); !s)
      return r(s.error());
    return r(projections::conversation_object(*c.state));
  }
  if (!c.state || c.state->tenant != op.tenant || c.state->deleted) {
    if (op.what == kind::finish_turn && c.locked_by == op.item_id)
      c.locked_by.clear();
    if (op.what == kind::begin_turn || op.what == kind::read_turn)
      return context(context_reply{no_such_conversation(id)});
    return r(no_such_conversation(id));
  }
  auto& state = *c.state;
  switch (op.what) {
    case kind::get: return r(projections::conversation_object(state));
    case kind::update: {
      auto metadata = op.metadata.is_object() ? op.metadata : json::object();
      if (auto s = commit(svc, c, id, op.tenant, {ev::conversation_updated{metadata}}); !s)
        return r(s.error());
      return r(projections::conversation_object(*c.state));
    }
    case kind::remove: {
      if (auto s = commit(svc, c, id, op.tenant, {ev::conversation_deleted{}}); !s)
        return r(s.error());
      return r(json{{"id", id}});
    }
    case kind::add_items: {
      auto items = resolve(log, &state, op.tenant, op.items);
      if (!items)
        return r(items.error());
      auto markers = index_of(op.tenant, id, *items);
      if (auto s = commit(svc, c, id, op.tenant, {ev::conversation_items_added{*items, ""}},
                          std::move(markers));
          !s)
        return r(s.error());
      return r(page_of({*items, false}));
    }
    case kind::list_items: {
      auto page = projections::page_conversation_items(state, op.query);
      if (!page)
        return r(page.error());
      return r(page_of(*page));
    }
    case kind::events: {
      std::uint64_t from = 0;
      const auto& after = op.query.after;
      if (!after.empty()) {
        if (after.size() > 18 || after.find_first_not_of("0123456789") != std::string::npos)
          return r(ev::make_error(riposte_errc::invalid_value,
                                  "Invalid value for 'after': expected a sequence number.",
                                  "after"));
        from = std::stoull(after) + 1;
      }
      auto limit = static_cast<std::size_t>(op.query.limit);
      auto read = log.read(id, from, limit + 1);
      if (!read && read.error().code != riposte_errc::not_found)
        return r(read.error());
      json data = json::array();
      bool more = false;
      if (read)
        for (const auto& env : *read) {
          if (static_cast<std::int64_t>(env.seq) > state.version)
            break; // only what this actor has folded in
          if (data.size() == limit) {
            more = true;
            break;
          }
          data.push_back(ev::to_json(env));
        }
      return r(json{{"data", std::move(data)}, {"has_more", more}});
    }
    case kind::get_item: {
      const auto* item = projections::find_item(state, op.item_id);
      if (item == nullptr)
        return r(no_such_item(op.item_id));
      return r(*item);
    }
    case kind::delete_item: {
      if (projections::find_item(state, op.item_id) == nullptr)
        return r(no_such_item(op.item_id));
      if (auto s = commit(svc, c, id, op.tenant, {ev::conversation_item_deleted{op.item_id}}); !s)
        return r(s.error());
      return r(projections::conversation_object(*c.state));
    }
    case kind::begin_turn: {
      auto held = held_by_another(log, c, op.item_id);
      if (!held)
        return context(context_reply{held.error()});
      if (*held) {
        turn("locked");
        return context(
            context_reply{ev::make_error(riposte_errc::conversation_locked,
                                         "Another process is currently operating on this "
                                         "conversation. Please retry in a few seconds.",
                                         "conversation")});
      }
      // Written down where other replicas look before they take a turn.
      if (shared && state.turn_response != op.item_id)
        if (auto s = commit(svc, c, id, op.tenant,
                            {ev::conversation_turn_began{op.item_id, log.lease_holder()}});
            !s)
          return context(context_reply{s.error()});
      c.locked_by = op.item_id;
      return context(context_reply{chain_of(svc, c)});
    }
    case kind::read_turn: return context(context_reply{chain_of(svc, c)});
    case kind::finish_turn: {
      // Never, but where replicas took this one's turn for over (its lease
      // ended while it ran).
      if (c.locked_by != op.item_id || (shared && state.turn_response != op.item_id)) {
        if (c.locked_by == op.item_id)
          c.locked_by.clear();
        return r(ev::make_error(riposte_errc::conversation_locked,
                                "This response no longer holds the conversation's lock.",
                                "conversation"));
      }
      auto markers = index_of(op.tenant, id, op.items);
      auto s = commit(svc, c, id, op.tenant, {ev::conversation_items_added{op.items, op.item_id}},
                      std::move(markers));
      if (s || last || s.error().code != riposte_errc::version_conflict)
        c.locked_by.clear(); // a conflict is tried again, still holding it
      if (!s)
        return r(s.error());
      turn("appended");
      return r(projections::conversation_object(*c.state));
    }
    case kind::create:
    case kind::end_turn: break;
  }
  r(ev::server_fault());
}

// One operation, on a store thread. On a store replicas share, a version
// conflict means another replica appended first: the operation runs again
// (its checks too) on what is stored now.
void run(const services& svc, cell& c, const std::string& id, const conversation_op& op,
         const reply_to& r) {
  bool shared = !svc.log->lease_holder().empty();
  if (op.what == kind::end_turn)
    return end_turn(svc, c, id, op.item_id, shared, r);
  bool failed = false;
  for (int attempt = 1;; ++attempt) {
    bool last = !shared || attempt == max_attempts;
    bool again = false;
    auto conflicted = [&](const ev::error_info& e) {
      if (last || e.code != riposte_errc::version_conflict)
        return false;
      again = true;
      return true;
    };
    reply_to answer{reply_to::fn_type([&](ev::result<json> x) {
      if (x || !conflicted(x.error())) {
        failed = !x;
        r(std::move(x));
      }
    })};
    reply_for<context_reply> context{
        reply_for<context_reply>::fn_type([&](ev::result<context_reply> x) {
          if (!x || x->context || !conflicted(x->context.error()))
            op.context(std::move(x));
        })};
    run_once(svc, c, id, op, answer, context, shared, last);
    if (!again)
      break;
  }
  // A turn whose items could not be added holds the conversation no longer
  // (its response fails).
  if (op.what == kind::finish_turn && failed) {
    if (c.locked_by == op.item_id)
      c.locked_by.clear();
    if (shared)
      (void)release_in_log(svc, c, id, op.item_id);
  }
}

// A conversation's actor.
struct conversation_data {
  std::shared_ptr<const services> svc;
  conversations_actor directory;
  std::string id;
  std::shared_ptr<cell> c = std::make_shared<cell>();
  std::deque<std::pair<conversation_op, reply_to>> waiting;
  bool busy = false;
  std::uint64_t handled = 0; // ops received, for the directory's passivation check
  std::uint64_t epoch = 0;   // bumped by every op: a stale idle tick is ignored
  // Responses that asked for a turn, watched: one that dies unlocks.
  std::unordered_map<caf::actor_addr, std::string> holders;
};
using conversation_self = caf::stateful_actor<conversation_data>*;

void pump(conversation_self self) {
  auto& st = self->state;
  if (st.busy)
    return;
  if (st.waiting.empty()) {
    self->delayed_send(self, st.svc->cfg.passivate_after, passivate_atom::value, st.epoch);
    return;
  }
  auto [op, r] = std::move(st.waiting.front());
  st.waiting.pop_front();
  st.busy = true;
  // The actor hears that the job ended, whether it answered, failed or threw.
  struct finished {
    explicit finished(caf::actor a)
      : me(std::move(a)) {}
    finished(const finished&) = delete;
    finished& operator=(const finished&) = delete;
    ~finished() { caf::anon_send(me, conversation_done_atom::value); }
    caf::actor me;
  };
  auto done = std::make_shared<finished>(caf::actor_cast<caf::actor>(self));
  st.svc->store_pool->post(
      [svc = st.svc, c = st.c, id = st.id, op = std::move(op), r = std::move(r), done] {
        try {
          run(*svc, *c, id, op, r);
          snapshot_if_due(*svc, *c, id);
        } catch (...) {
          c->loaded = false;
          throw;
        }
      });
}

caf::behavior conversation(conversation_self self, std::shared_ptr<const services> svc,
                           conversations_actor directory, std::string id) {
  self->state.svc = std::move(svc);
  self->state.directory = std::move(directory);
  self->state.id = std::move(id);
  // A response that held a turn died without ending it: its lock goes.
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    auto it = st.holders.find(msg.source);
    if (it == st.holders.end())
      return;
    conversation_op op;
    op.what = kind::end_turn;
    op.item_id = it->second;
    st.holders.erase(it);
    st.waiting.emplace_back(std::move(op), reply_to{});
    pump(self);
  });
  // A fault in a handler touches no state a store job may be using.
  auto on_fault = [](const std::string& what) { events::report_fault("conversation", what); };
  return guarded(
      self, on_fault,
      [=](conversation_atom, conversation_op& op, reply_to& r) {
        auto& st = self->state;
        ++st.handled;
        ++st.epoch;
        if (op.holder) {
          auto addr = op.holder.address();
          if (op.what == kind::begin_turn && st.holders.emplace(addr, op.item_id).second)
            self->monitor(op.holder);
          if (op.what == kind::finish_turn || op.what == kind::end_turn) {
            self->demonitor(op.holder);
            st.holders.erase(addr);
          }
          op.holder = caf::actor{};
        }
        st.waiting.emplace_back(std::move(op), std::move(r));
        pump(self);
      },
      [=](conversation_done_atom) {
        self->state.busy = false;
        pump(self);
      },
      [=](passivate_atom, std::uint64_t epoch) {
        auto& st = self->state;
        // The directory as it is now (a restart swaps it), or the one that
        // spawned this actor.
        auto directory = st.svc->conversations() ? st.svc->conversations() : st.directory;
        if (epoch == st.epoch && !st.busy && st.waiting.empty() && st.holders.empty())
          self->send(directory, passivate_atom::value, st.id, st.handled);
      },
      [=](passivate_atom) { self->quit(); },
      [=](fault_atom, const std::string&, reply_to&) {
        ++self->state.handled;
        throw std::runtime_error("injected fault (conversation)");
      });
}

struct directory_data {
  std::shared_ptr<const services> svc;
  std::shared_ptr<conversations_memory> dir;
};
using directory_self = conversations_actor::stateful_pointer<directory_data>;

caf::actor& route(directory_self self, const std::string& id) {
  auto& dir = *self->state.dir;
  auto it = dir.actors.find(id);
  auto& e = it != dir.actors.end()
                ? it->second
                : dir.hold(self, id,
                           self->spawn(conversation, self->state.svc,
                                       caf::actor_cast<conversations_actor>(self), id),
                           0);
  ++e.forwarded;
  return e.actor;
}

conversations_actor::behavior_type directory(directory_self self,
                                             std::shared_ptr<const services> svc,
                                             std::shared_ptr<conversations_memory> memory) {
  self->state.svc = std::move(svc);
  self->state.dir = memory ? std::move(memory) : make_conversations_memory();
  self->set_exit_handler([=](caf::exit_msg& msg) { self->state.dir->on_exit(self, msg); });
  // A conversation's actor died: the next operation rebuilds it.
  self->set_down_handler([=](caf::down_msg& msg) { self->state.dir->on_down(msg); });
  self->state.dir->watch_all(self);
  auto on_fault = [](const std::string& what) { events::report_fault("conversations", what); };
  return guarded_typed<conversations_actor::behavior_type>(
      self, on_fault,
      [=](conversation_atom, conversation_op& op, reply_to& r) {
        if (op.what == kind::create)
          op.conversation_id = ev::make_id("conv_");
        else if (!plausible_conversation_id(op.conversation_id)) {
          op.context(context_reply{no_such_conversation(op.conversation_id)}); // a turn's
          return r(no_such_conversation(op.conversation_id));
        }
        auto id = op.conversation_id;
        caf::anon_send(route(self, id), conversation_atom::value, std::move(op), std::move(r));
      },
      [=](passivate_atom, const std::string& id, std::uint64_t handled) {
        self->state.dir->passivate(self, id, handled, passivate_atom::value);
      },
      // A conversation's id: fail inside its actor; anything else: here.
      [=](fault_atom, const std::string& target, reply_to& r) {
        if (!plausible_conversation_id(target))
          throw std::runtime_error("injected fault (conversations)");
        caf::anon_send(route(self, target), fault_atom::value, std::string{}, std::move(r));
      });
}

} // namespace

caf::actor spawn_conversations(caf::actor_system& sys, std::shared_ptr<const services> svc,
                               std::shared_ptr<conversations_memory> memory) {
  return caf::actor_cast<caf::actor>(sys.spawn(directory, std::move(svc), std::move(memory)));
}

} // namespace riposte::actors
