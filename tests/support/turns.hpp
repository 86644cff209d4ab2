// Long turns for context tests, and what a backend was sent.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace riposte::tests {

// "Turn N:" and 30 words: about 45 tokens, so windows fill in few turns.
inline std::string words(int turn) {
  std::string s = "Turn " + std::to_string(turn) + ":";
  for (int i = 0; i < 30; ++i) {
    s += " word";
    s += std::to_string(i);
  }
  return s;
}

// Does a message with `role` (any role when empty) contain `text`?
inline bool says(const nlohmann::json& messages, const std::string& role, const std::string& text) {
  for (const auto& m : messages)
    if ((role.empty() || m.value("role", "") == role) &&
        m.value("content", "").find(text) != std::string::npos)
      return true;
  return false;
}

// A scripted backend's script: a compaction request is answered with `summary`.
inline nlohmann::json summarizing_script(const std::string& summary) {
  return {{"rules",
           {{{"match", {{"contains", "Write the summary of the conversation above now."}}},
             {"reply", {{"chunks", {{{"content", summary}}}}}}}}}};
}

inline bool mentions(const nlohmann::json& messages, const std::string& text) {
  return says(messages, "", text);
}

} // namespace riposte::tests
