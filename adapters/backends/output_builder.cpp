// output_builder: items opened, streamed and closed in the Responses order.
#include "adapters/backends/output_builder.hpp"

#include "events/ids.hpp"
#include "events/json_object.hpp"
#include "events/json_safe.hpp"

#include <chrono>

namespace riposte::adapters::backends {

namespace ev = events;
using json = nlohmann::json;

namespace {

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A tool's single text argument (a query, a prompt, a custom tool's input):
// the named member, else the arguments themselves as text.
std::string text_argument(const json& args, const char* member) {
  if (args.is_object() && args.value(member, json()).is_string())
    return args[member].get<std::string>();
  return args.is_string() ? args.get<std::string>() : events::dump_json(args);
}

} // namespace

output_builder::output_builder(tool_plan tools, std::int64_t first_index)
  : tools_(std::move(tools))
  , next_index_(first_index) {}

output_builder::output_builder(const actors::generation_request& req)
  : output_builder(tool_plan(req.params, req.offer_web_search, req.offer_image_generation),
                   req.first_output_index) {}

bool output_builder::failed_transfer(const std::string& transport_error, bool timed_out,
                                     bool connect_failed, std::vector<ev::event>& out) {
  if (connect_failed)
    fail(ev::failure_code::backend_unavailable, "cannot reach the backend: " + transport_error,
         out);
  else if (timed_out)
    fail(ev::failure_code::backend_timeout, "the backend did not finish in time", out);
  return connect_failed || timed_out;
}

json output_builder::usage(std::int64_t input, std::int64_t output, std::int64_t cached,
                           std::int64_t reasoning) {
  return ev::object_of({{"input_tokens", input},
                        {"input_tokens_details", ev::object_of({{"cached_tokens", cached}})},
                        {"output_tokens", output},
                        {"output_tokens_details", ev::object_of({{"reasoning_tokens", reasoning}})},
                        {"total_tokens", input + output}});
}

void output_builder::close_reasoning(std::vector<ev::event>& out) {
  if (reasoning_id_.empty())
    return;
  auto part = ev::object_of({{"type", "reasoning_text"}, {"text", reasoning_text_}});
  out.emplace_back(
      ev::reasoning_done{reasoning_id_, reasoning_index_, 0, std::move(reasoning_text_)});
  out.emplace_back(ev::content_part_done{reasoning_id_, reasoning_index_, 0, part});
  out.emplace_back(ev::output_item_done{
      reasoning_index_, ev::object_of({{"id", reasoning_id_},
                                       {"type", "reasoning"},
                                       {"summary", json::array()},
                                       {"content", ev::array_of(std::move(part))}})});
  reasoning_id_.clear();
  reasoning_text_.clear();
}

void output_builder::close_message(std::vector<ev::event>& out, const std::string& status) {
  if (message_id_.empty())
    return;
  auto part = ev::object_of({{"type", "output_text"},
                             {"text", message_text_},
                             {"annotations", json::array()},
                             {"logprobs", json::array()}});
  out.emplace_back(ev::output_text_done{message_id_, message_index_, 0, std::move(message_text_)});
  out.emplace_back(ev::content_part_done{message_id_, message_index_, 0, part});
  out.emplace_back(ev::output_item_done{
      message_index_, ev::object_of({{"id", message_id_},
                                     {"type", "message"},
                                     {"status", status},
                                     {"role", "assistant"},
                                     {"content", ev::array_of(std::move(part))}})});
  message_id_.clear();
  message_text_.clear();
}

void output_builder::close_text(std::vector<ev::event>& out) {
  close_reasoning(out);
  close_message(out, "completed");
}

void output_builder::text(const std::string& thinking, const std::string& content,
                          std::vector<ev::event>& out) {
  if (done_)
    return;
  if (!thinking.empty()) {
    close_message(out, "completed");
    if (reasoning_id_.empty()) {
      reasoning_id_ = ev::make_id("rs_");
      reasoning_index_ = next_index_++;
      out.emplace_back(ev::output_item_added{
          reasoning_index_,
          ev::object_of(
              {{"id", reasoning_id_}, {"type", "reasoning"}, {"summary", json::array()}})});
      out.emplace_back(
          ev::content_part_added{reasoning_id_, reasoning_index_, 0,
                                 ev::object_of({{"type", "reasoning_text"}, {"text", ""}})});
    }
    reasoning_text_ += thinking;
    out.emplace_back(ev::reasoning_delta{reasoning_id_, reasoning_index_, 0, thinking});
  }
  if (!content.empty()) {
    close_reasoning(out);
    if (message_id_.empty()) {
      message_id_ = ev::make_id("msg_");
      message_index_ = next_index_++;
      out.emplace_back(
          ev::output_item_added{message_index_, ev::object_of({{"id", message_id_},
                                                               {"type", "message"},
                                                               {"status", "in_progress"},
                                                               {"role", "assistant"},
                                                               {"content", json::array()}})});
      out.emplace_back(ev::content_part_added{message_id_, message_index_, 0,
                                              ev::object_of({{"type", "output_text"},
                                                             {"text", ""},
                                                             {"annotations", json::array()},
                                                             {"logprobs", json::array()}})});
    }
    message_text_ += content;
    out.emplace_back(ev::output_text_delta{message_id_, message_index_, 0, content});
  }
}

// One backend tool call, as the item the client declared: a function call
// (with its namespace), a custom tool call with free-form input, or a call of
// a tool riposte runs itself (its item opens here, the actor finishes it).
void output_builder::call(const std::string& backend_name, const json& args,
                          std::vector<ev::event>& out) {
  if (done_ || calls_made_ >= tools_.max_calls())
    return;
  ++calls_made_;
  close_text(out);
  const auto* tool = tools_.find(backend_name);
  auto index = next_index_++;
  auto call_id = ev::make_id("call_", 24);
  if (tool && tool->kind == "web_search") {
    auto query = text_argument(args, "query");
    out.emplace_back(ev::output_item_added{
        index,
        {{"id", ev::make_id("ws_")},
         {"type", "web_search_call"},
         {"status", "in_progress"},
         {"action", {{"type", "search"}, {"query", query}, {"queries", json::array({query})}}}}});
    return;
  }
  if (tool && tool->kind == "image_generation") {
    out.emplace_back(ev::output_item_added{index,
                                           {{"id", ev::make_id("ig_")},
                                            {"type", "image_generation_call"},
                                            {"status", "in_progress"},
                                            {"result", nullptr},
                                            {"revised_prompt", text_argument(args, "prompt")}}});
    return;
  }
  if (tool && tool->kind == "custom") {
    auto input = text_argument(args, "input");
    auto id = ev::make_id("ctc_");
    json item{{"id", id},
              {"type", "custom_tool_call"},
              {"call_id", call_id},
              {"name", tool->name},
              {"input", ""}};
    if (!tool->ns.empty())
      item["namespace"] = tool->ns;
    out.emplace_back(ev::output_item_added{index, item});
    out.emplace_back(ev::custom_tool_call_input_delta{id, index, input});
    out.emplace_back(ev::custom_tool_call_input_done{id, index, input});
    item["input"] = input;
    out.emplace_back(ev::output_item_done{index, item});
    return;
  }
  auto name = tool ? tool->name : backend_name;
  auto arguments = args.is_string() ? args.get<std::string>() : events::dump_json(args);
  auto id = ev::make_id("fc_");
  json item{{"id", id},        {"type", "function_call"}, {"status", "in_progress"},
            {"arguments", ""}, {"call_id", call_id},      {"name", name}};
  if (tool && !tool->ns.empty())
    item["namespace"] = tool->ns;
  out.emplace_back(ev::output_item_added{index, item});
  out.emplace_back(ev::function_call_arguments_delta{id, index, arguments});
  out.emplace_back(ev::function_call_arguments_done{id, index, name, arguments});
  item["status"] = "completed";
  item["arguments"] = arguments;
  out.emplace_back(ev::output_item_done{index, item});
}

void output_builder::complete(json usage, std::vector<ev::event>& out) {
  if (done_)
    return;
  done_ = true;
  close_text(out);
  out.emplace_back(ev::response_completed{now_seconds(), std::move(usage)});
}

void output_builder::incomplete(json usage, std::vector<ev::event>& out) {
  if (done_)
    return;
  done_ = true;
  close_reasoning(out);
  close_message(out, "incomplete");
  out.emplace_back(ev::response_incomplete{"max_output_tokens", std::move(usage)});
}

void output_builder::fail(ev::failure_code code, std::string message, std::vector<ev::event>& out) {
  if (done_)
    return;
  done_ = true;
  out.emplace_back(ev::response_failed{code, std::move(message), json()});
}

} // namespace riposte::adapters::backends
