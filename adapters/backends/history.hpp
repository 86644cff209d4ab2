// Reading Responses items the way every chat backend needs them: the text and
// images of a message's content, a reasoning item's text, and the items a
// turn really sends after truncation and compaction.
#pragma once

#include "actors/ports/backend.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace riposte::adapters::backends {

// Appends `paragraph` to `text`, a blank line between them.
void append_paragraph(std::string& text, const std::string& paragraph);

// A system or developer message joins the one system text every chat
// backend gets (`system`); true if `item` was one.
bool merge_system(const nlohmann::json& item, std::string& system);

// Text of a message's content: a string, or parts of type input_text,
// output_text, text or refusal.
std::string content_text(const nlohmann::json& content);

// URLs of a message's input_image parts, in order.
std::vector<std::string> content_image_urls(const nlohmann::json& content);

// The base64 payload of a data: URL; empty for any other URL.
std::string data_url_payload(const std::string& url);

// A reasoning item's text: its content, else its summary.
std::string reasoning_text(const nlohmann::json& item);

bool is_compaction(const nlohmann::json& item);

// A compaction item stands for everything before it but the user's own
// messages (the shape /v1/responses/compact returns: every user message, then
// the compaction). Returns the items the model sees, in order.
std::vector<const nlohmann::json*> after_compaction(std::vector<const nlohmann::json*> items);

// Is the chain item at `index` one truncation left out? The oldest
// `dropped` conversation items go; system and developer messages stay.
struct drop_filter {
  std::size_t dropped = 0;
  std::size_t seen = 0;
  bool skip(const nlohmann::json& item);
};

// Every item one generation sends, oldest first: the history's (less what
// truncation dropped), then this turn's, after compaction.
std::vector<const nlohmann::json*> turn_items(const actors::generation_request& req);

// What compaction left of the earlier conversation, as the user message the
// model reads it in ("" for a sealed compaction riposte could not open).
std::string compaction_summary(const nlohmann::json& item);

} // namespace riposte::adapters::backends
