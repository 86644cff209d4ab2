#include "projections/conversation.hpp"

#include "events/json_safe.hpp"

#include <type_traits>
#include <variant>

namespace riposte::projections {

namespace {

using json = nlohmann::json;
namespace ev = events;

// A turn's end, however it ends, frees the conversation.
void release(conversation_state& state) {
  state.turn_response.clear();
  state.turn_holder.clear();
}

} // namespace

ev::result<conversation_state> apply(conversation_state state, const ev::envelope& env) {
  auto decoded = ev::decode(env);
  if (!decoded)
    return decoded.error();
  auto corrupt = [&](const std::string& why) {
    return ev::make_error(ev::riposte_errc::corrupt_event,
                          "conversation stream '" + env.stream + "' event " +
                              std::to_string(env.seq) + ": " + why);
  };
  std::optional<ev::error_info> err;
  std::visit(
      [&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, ev::conversation_created>) {
          if (state.exists())
            err = corrupt("created twice");
          state.id = e.conversation_id;
          state.tenant = env.tenant;
          state.created_at = e.created_at;
          state.metadata = e.metadata.is_object() ? e.metadata : json::object();
        } else if constexpr (std::is_same_v<T, ev::conversation_items_added>) {
          for (const auto& item : e.items)
            state.items.push_back(item);
          if (!e.response_id.empty() && e.response_id == state.turn_response)
            release(state);
        } else if constexpr (std::is_same_v<T, ev::conversation_item_deleted>) {
          json kept = json::array();
          for (auto& item : state.items)
            if (!item.is_object() || item.value("id", json()) != e.item_id)
              kept.push_back(std::move(item));
          state.items = std::move(kept);
        } else if constexpr (std::is_same_v<T, ev::conversation_updated>) {
          state.metadata = e.metadata.is_object() ? e.metadata : json::object();
        } else if constexpr (std::is_same_v<T, ev::conversation_deleted>) {
          state.deleted = true;
        } else if constexpr (std::is_same_v<T, ev::conversation_turn_began>) {
          state.turn_response = e.response_id;
          state.turn_holder = e.holder;
        } else if constexpr (std::is_same_v<T, ev::conversation_turn_ended>) {
          if (e.response_id == state.turn_response)
            release(state);
        } else {
          err = corrupt(std::string{"a '"} + std::string{T::type} +
                        "' event is not a conversation's");
        }
      },
      *decoded);
  if (err)
    return *err;
  if (!state.exists())
    return corrupt("an event before its creation");
  state.version = static_cast<std::int64_t>(env.seq);
  return state;
}

ev::result<conversation_state> catch_up(ev::event_log& log, const std::string& id,
                                        conversation_state state,
                                        const std::function<void(const ev::envelope&)>& seen) {
  constexpr std::size_t page = 1024;
  for (;;) {
    auto from = static_cast<std::uint64_t>(state.version + 1);
    auto events = log.read(id, from, page);
    if (!events) {
      if (events.error().code == ev::riposte_errc::not_found && state.exists())
        return state;
      return events.error();
    }
    for (const auto& env : *events) {
      auto next = apply(std::move(state), env);
      if (!next)
        return next.error();
      state = std::move(*next);
      if (seen)
        seen(env);
    }
    if (events->size() < page)
      break;
  }
  if (!state.exists())
    return ev::make_error(ev::riposte_errc::not_found, "no conversation '" + id + "'");
  return state;
}

namespace {

constexpr int snapshot_format = 1;

} // namespace

ev::result<conversation_state> read_conversation(ev::event_log& log, const std::string& id) {
  auto snap = log.get_snapshot(id);
  if (!snap)
    return snap.error();
  if (snap->has_value())
    if (auto state = conversation_from_snapshot(**snap); state && state->id == id)
      return catch_up(log, id, std::move(*state));
  return catch_up(log, id, {});
}

std::string to_conversation_snapshot(const conversation_state& c) {
  // Written field by field: the items are serialized where they are.
  auto dump = [](const json& j) { return events::dump_json(j); };
  json head{{"format", snapshot_format},  {"id", c.id},           {"tenant", c.tenant},
            {"created_at", c.created_at}, {"deleted", c.deleted}, {"version", c.version},
            {"metadata", c.metadata}};
  if (!c.turn_response.empty())
    head["turn"] = {{"response_id", c.turn_response}, {"holder", c.turn_holder}};
  auto out = dump(head);
  out.pop_back(); // the closing brace
  out += ",\"items\":";
  out += dump(c.items);
  out += '}';
  return out;
}

std::optional<conversation_state> conversation_from_snapshot(const ev::snapshot& snap) {
  auto j = json::parse(snap.payload, nullptr, false);
  if (!j.is_object())
    return std::nullopt;
  // Looked up in place: the items of a long conversation are never copied.
  auto field = [&](const char* name) -> json* {
    auto it = j.find(name);
    return it == j.end() ? nullptr : &*it;
  };
  auto* format = field("format");
  auto* id = field("id");
  auto* tenant = field("tenant");
  auto* created = field("created_at");
  auto* metadata = field("metadata");
  auto* items = field("items");
  auto* deleted = field("deleted");
  auto* version = field("version");
  if (format == nullptr || *format != snapshot_format || id == nullptr || !id->is_string() ||
      id->get_ref<const std::string&>().empty() || tenant == nullptr || !tenant->is_string() ||
      created == nullptr || !created->is_number_integer() || metadata == nullptr ||
      !metadata->is_object() || items == nullptr || !items->is_array() || deleted == nullptr ||
      !deleted->is_boolean() || version == nullptr || !version->is_number_integer() ||
      version->get<std::int64_t>() != static_cast<std::int64_t>(snap.seq))
    return std::nullopt;
  conversation_state c;
  c.id = id->get<std::string>();
  c.tenant = tenant->get<std::string>();
  c.created_at = created->get<std::int64_t>();
  c.metadata = std::move(*metadata);
  c.items = std::move(*items);
  c.deleted = deleted->get<bool>();
  c.version = version->get<std::int64_t>();
  c.snapshot_version = c.version;
  // A turn's lock (absent from snapshots of stores no replicas share).
  if (auto* turn = field("turn"); turn != nullptr && turn->is_object()) {
    auto response = turn->value("response_id", json());
    auto holder = turn->value("holder", json());
    if (!response.is_string() || !holder.is_string())
      return std::nullopt;
    c.turn_response = response.get<std::string>();
    c.turn_holder = holder.get<std::string>();
  }
  return c;
}

ev::result<json> items_before_turn(ev::event_log& log, const std::string& id,
                                   const std::string& response_id) {
  conversation_state state;
  constexpr std::size_t page = 1024;
  for (;;) {
    auto events = log.read(id, static_cast<std::uint64_t>(state.version + 1), page);
    if (!events)
      return events.error();
    for (const auto& env : *events) {
      if (env.type == ev::conversation_items_added::type && env.data.is_object() &&
          env.data.value("response_id", json()) == response_id)
        return state.items;
      auto next = apply(std::move(state), env);
      if (!next)
        return next.error();
      state = std::move(*next);
    }
    if (events->size() < page)
      return state.items;
  }
}

const json* find_item(const conversation_state& c, const std::string& item_id) {
  for (const auto& item : c.items)
    if (item.is_object() && item.value("id", json()) == item_id)
      return &item;
  return nullptr;
}

json conversation_object(const conversation_state& c) {
  return {{"id", c.id},
          {"object", "conversation"},
          {"created_at", c.created_at},
          {"metadata", c.metadata}};
}

ev::result<items_page> page_conversation_items(const conversation_state& c, const items_query& q) {
  auto page = page_items(c.items, q);
  if (!page && page.error().param == "after")
    return ev::make_error(ev::riposte_errc::item_not_found,
                          "No item found with id '" + q.after + "'", "after");
  if (!page && page.error().param == "before")
    return ev::make_error(ev::riposte_errc::item_not_found,
                          "No item found with id '" + q.before + "'", "before");
  return page;
}

} // namespace riposte::projections
