#include "projections/conversation.hpp"

#include <type_traits>
#include <variant>

namespace riposte::projections {

namespace {

using json = nlohmann::json;
namespace ev = events;

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

ev::result<conversation_state> read_conversation(ev::event_log& log, const std::string& id) {
  conversation_state state;
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
    }
    if (events->size() < page)
      break;
  }
  if (!state.exists())
    return ev::make_error(ev::riposte_errc::not_found, "no conversation '" + id + "'");
  return state;
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
