// The wire form of what the actors answer besides a Response: list pages,
// deletions, files and prompts, shaped like the OpenAI SDK's resources.
#pragma once

#include "events/file_events.hpp"
#include "events/prompt_events.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace riposte::http {

// {"object": "list", data, first_id, last_id, has_more}; the ids are each
// item's `id_key` (null for an empty page).
nlohmann::json list_object(nlohmann::json data, bool has_more, const char* id_key = "id");

// A conversation actor's page ({data, has_more}) as the API lists it: its
// items with first_id and last_id, or its raw events without.
nlohmann::json conversation_items_list(const nlohmann::json& page);
nlohmann::json conversation_events_list(const nlohmann::json& page);

// {"id", "object": `object`, "deleted": true}.
nlohmann::json deletion_object(const std::string& id, const char* object);

// A File object (status is always processed: a file is stored whole).
nlohmann::json file_object(const events::file_uploaded& f);

// A prompt version, with the {{variables}} it uses.
nlohmann::json prompt_object(const events::prompt_version_created& v);

} // namespace riposte::http
