// Facts about prompt templates (stream `pmpt_<id>`): each version is
// created once and never changes; deleting the prompt ends them all.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace riposte::events {

struct prompt_version_created {
  static constexpr std::string_view type = "prompt_version_created";
  static constexpr int version = 1;
  std::string prompt_id;
  std::int64_t prompt_version = 1; // 1, 2, ... in the order they were made
  std::string name;
  nlohmann::json instructions; // string with {{variables}}, or null
  nlohmann::json input;        // message items with {{variables}}
  nlohmann::json metadata;
  std::int64_t created_at = 0;
};

struct prompt_deleted {
  static constexpr std::string_view type = "prompt_deleted";
  static constexpr int version = 1;
  std::string prompt_id;
};

} // namespace riposte::events
