// The Responses tool protocol against a chat backend that knows only flat
// function tools: namespaces are flattened, custom (free-form) tools become a
// function with one string argument, hosted tools are not offered, and every
// call the backend makes is mapped back to exactly what the client declared.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>

namespace riposte::adapters::backends {

// One tool as the backend sees it, and what it stands for.
struct declared_tool {
  std::string kind; // "function", "custom", or one riposte runs: "web_search", "image_generation"
  std::string name; // as the client declared it
  std::string ns;   // its namespace, or empty
  nlohmann::json definition;
};

class tool_plan {
public:
  // From a request's params (tools, tool_choice, parallel_tool_calls,
  // max_tool_calls). A hosted web_search or image_generation tool is offered
  // as a function only when riposte runs its provider (`local_search`,
  // `local_images`); otherwise it is not offered at all.
  explicit tool_plan(const nlohmann::json& params, bool local_search = false,
                     bool local_images = false);

  // The backend's name for a tool: `name`, or `namespace__name`.
  static std::string flat_name(const std::string& ns, const std::string& name);

  // Function tools for the backend, after tool_choice narrowed them (none:
  // empty).
  nlohmann::json backend_tools() const;
  // A line for the system prompt when tool_choice demands a call the
  // backend cannot be forced to make (empty when there is none).
  std::string choice_instruction() const;
  // The declared tool behind a backend name, if it is one.
  const declared_tool* find(const std::string& backend_name) const;
  // How many calls one turn may make (parallel_tool_calls, max_tool_calls);
  // later calls are dropped.
  std::size_t max_calls() const { return max_calls_; }

private:
  std::map<std::string, declared_tool> tools_; // by backend name
  std::vector<std::string> offered_;           // backend names, in declaration order
  std::string instruction_;
  std::size_t max_calls_ = static_cast<std::size_t>(-1);
};

// A history item (function_call or custom_tool_call) as the backend's call:
// {"function": {"name", "arguments"}}.
nlohmann::json backend_call(const nlohmann::json& item);

} // namespace riposte::adapters::backends
