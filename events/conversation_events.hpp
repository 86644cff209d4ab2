// Facts about conversations (stream `conv_<id>`): created once, items added
// in batches (through the API, or a response's turn), items deleted one by
// one, metadata replaced, and the conversation deleted (its items stay
// findable by reference, as the API documents). On a store that replicas
// share, a response's turn also writes the conversation's lock into it.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace riposte::events {

struct conversation_created {
  static constexpr std::string_view type = "conversation_created";
  static constexpr int version = 1;
  std::string conversation_id;
  nlohmann::json metadata = nlohmann::json::object();
  std::int64_t created_at = 0; // seconds
};

// Items appended in this order, each complete (id, status, content). A
// response's turn names the response; items added through the API do not.
struct conversation_items_added {
  static constexpr std::string_view type = "conversation_items_added";
  static constexpr int version = 1;
  nlohmann::json items = nlohmann::json::array();
  std::string response_id;
};

struct conversation_item_deleted {
  static constexpr std::string_view type = "conversation_item_deleted";
  static constexpr int version = 1;
  std::string item_id;
};

struct conversation_updated {
  static constexpr std::string_view type = "conversation_updated";
  static constexpr int version = 1;
  nlohmann::json metadata = nlohmann::json::object(); // replaces the old as a whole
};

// A response's turn holds the conversation (stores that replicas share):
// until its items are added (a batch naming the response), the turn ends
// (conversation_turn_ended), or the replica lease it was taken under ends,
// no other response may run on it. `holder` is that lease ("id/epoch").
struct conversation_turn_began {
  static constexpr std::string_view type = "conversation_turn_began";
  static constexpr int version = 1;
  std::string response_id;
  std::string holder;
};

// The turn ended without adding items (failed, cancelled, refused).
struct conversation_turn_ended {
  static constexpr std::string_view type = "conversation_turn_ended";
  static constexpr int version = 1;
  std::string response_id;
};

struct conversation_deleted {
  static constexpr std::string_view type = "conversation_deleted";
  static constexpr int version = 1;
};

} // namespace riposte::events
