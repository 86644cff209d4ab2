#include "actors/response/decide.hpp"

#include "actors/response/hosted_rules.hpp"
#include "adapters/schema/json_schema.hpp"
#include "events/ids.hpp"
#include "events/json_safe.hpp"
#include "projections/usage.hpp"

#include <algorithm>
#include <set>
#include <type_traits>

namespace riposte::actors::response {

namespace {

namespace ev = events;
using json = nlohmann::json;
using ev::riposte_errc;

bool has(const std::vector<std::string>& caps, const char* cap) {
  return std::find(caps.begin(), caps.end(), cap) != caps.end();
}

// Where the first image part is ("input[i].content[j]"), or empty.
std::string first_image(const json& input) {
  for (std::size_t i = 0; i < input.size(); ++i) {
    const auto& item = input[i];
    if (item.is_object() && item.contains("content") && item["content"].is_array())
      for (std::size_t j = 0; j < item["content"].size(); ++j)
        if (item["content"][j].is_object() && item["content"][j].value("type", "") == "input_image")
          return "input[" + std::to_string(i) + "].content[" + std::to_string(j) + "]";
  }
  return {};
}

// The first tool output whose call is nowhere in the chain. Tool loops answer
// the latest response, so the walk goes from the newest segment back and
// stops as soon as every call is found.
std::optional<std::pair<std::string, std::string>>
first_unanswered(const projections::chain_ptr& chain,
                 const std::vector<std::pair<std::string, std::string>>& open) {
  if (open.empty())
    return std::nullopt;
  std::set<std::string> wanted;
  for (const auto& o : open)
    wanted.insert(o.first);
  for (auto* seg = chain.get(); seg != nullptr && !wanted.empty(); seg = seg->parent.get())
    for (const auto& item : seg->items) {
      auto type = item.value("type", "");
      if (type == "function_call" || type == "custom_tool_call")
        wanted.erase(item.value("call_id", ""));
    }
  for (const auto& o : open)
    if (wanted.count(o.first))
      return o;
  return std::nullopt;
}

bool ends_generation(const ev::event& e) {
  return std::holds_alternative<ev::response_completed>(e) ||
         std::holds_alternative<ev::response_incomplete>(e) ||
         std::holds_alternative<ev::response_failed>(e);
}

// Notes the hosted calls in a generation's events. When the generation ends
// having made some, its end is held back (its usage kept): true, and the
// tools run next.
bool note_hosted_calls(turn_state& t, std::vector<ev::event>& events) {
  for (const auto& e : events)
    if (const auto* added = std::get_if<ev::output_item_added>(&e)) {
      t.next_output_index = std::max(t.next_output_index, added->output_index + 1);
      if (is_hosted_call(added->item))
        t.hosted_calls.emplace_back(added->output_index, added->item);
    }
  if (t.hosted_calls.empty())
    return false;
  auto end = std::find_if(events.begin(), events.end(), [](const ev::event& e) {
    return std::holds_alternative<ev::response_completed>(e) ||
           std::holds_alternative<ev::response_incomplete>(e);
  });
  if (end == events.end())
    return false;
  std::visit(
      [&](const auto& x) {
        if constexpr (requires { x.usage; })
          t.earlier_usage = projections::add_usage(t.earlier_usage, x.usage);
      },
      *end);
  events.erase(end);
  return true;
}

// url_citation annotations on an output_text part for every source URL its
// text contains (indices are byte offsets into the text).
void cite(json& part, const std::vector<search_result>& sources) {
  if (!part.is_object() || part.value("type", "") != "output_text" ||
      !part.value("text", json()).is_string())
    return;
  const auto& text = part["text"].get_ref<const std::string&>();
  json annotations = part.value("annotations", json::array());
  std::set<std::string> seen;
  for (const auto& s : sources) {
    if (s.url.empty() || !seen.insert(s.url).second)
      continue;
    for (auto at = text.find(s.url); at != std::string::npos; at = text.find(s.url, at + 1))
      annotations.push_back({{"type", "url_citation"},
                             {"start_index", at},
                             {"end_index", at + s.url.size()},
                             {"url", s.url},
                             {"title", s.title}});
  }
  part["annotations"] = std::move(annotations);
}

// The end of a response that ran hosted tools: its usage counts every
// generation, and its answer cites the results it mentions.
void finish_hosted_rounds(const turn_state& t, std::vector<ev::event>& events) {
  if (t.hosted_rounds == 0)
    return;
  for (auto& e : events) {
    std::visit(
        [&](auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, ev::response_completed> ||
                        std::is_same_v<T, ev::response_incomplete> ||
                        std::is_same_v<T, ev::response_failed>) {
            x.usage = projections::add_usage(t.earlier_usage, x.usage);
          } else if constexpr (std::is_same_v<T, ev::output_item_done>) {
            if (x.item.value("type", "") == "message")
              for (auto& part : x.item["content"])
                cite(part, t.sources);
          } else if constexpr (std::is_same_v<T, ev::content_part_done>) {
            cite(x.part, t.sources);
          }
        },
        e);
  }
}

// Structured outputs: the text of the answer must be what text.format asked
// for. A completion that is not is turned into a failure saying why (the
// output items stay, for the client to inspect).
void check_output_format(const create_command& cmd, turn_state& t, std::vector<ev::event>& events) {
  const auto& format = cmd.params.value("text", json::object()).value("format", json());
  if (!format.is_object() || format.value("type", "text") == "text")
    return;
  for (auto& e : events) {
    if (const auto* done = std::get_if<ev::output_item_done>(&e)) {
      if (done->item.value("type", "") == "message")
        for (const auto& part : done->item.value("content", json::array()))
          if (part.value("type", "") == "output_text")
            t.answer_text += part.value("text", "");
      continue;
    }
    const auto* completed = std::get_if<ev::response_completed>(&e);
    if (completed == nullptr)
      continue;
    std::optional<adapters::schema::json_schema> schema;
    if (format.value("type", "") == "json_schema") {
      auto compiled =
          adapters::schema::json_schema::compile(format.value("schema", json::object()));
      if (compiled)
        schema = std::move(*compiled);
    }
    auto why = adapters::schema::check_structured_output(format, schema ? &*schema : nullptr,
                                                         t.answer_text);
    if (!why.empty())
      e = ev::response_failed{ev::failure_code::output_schema_violation, why, completed->usage};
  }
}

// usage.input_tokens_details.cached_tokens: the prefix this turn shares with
// its parent's on the same model (what the backend's KV cache can reuse when
// it still holds the parent's turn). Accounting, not control: a changed model
// or instructions, or a truncated context, shares nothing.
void account_cached_tokens(const create_command& cmd, const turn_state& t,
                           std::vector<ev::event>& events) {
  const auto* parent = t.parent.get();
  if (parent == nullptr || parent->prefix_tokens <= 0 || t.dropped_items > 0 ||
      parent->model != cmd.model ||
      parent->instructions_fp !=
          projections::fingerprint_of(cmd.params.value("instructions", json())))
    return;
  for (auto& e : events)
    std::visit(
        [&](auto& x) {
          if constexpr (requires { x.usage; }) {
            if (!x.usage.is_object() || !x.usage.contains("input_tokens"))
              return;
            auto input = x.usage.value("input_tokens", std::int64_t{0});
            x.usage["input_tokens_details"]["cached_tokens"] =
                std::min(parent->prefix_tokens, input);
          }
        },
        e);
}

// include ["reasoning.encrypted_content"]: finished reasoning items carry
// their text sealed for this tenant, so a stateless client can hand it back.
void seal_reasoning(const create_command& cmd, const turn_state& t,
                    std::vector<ev::event>& events) {
  if (t.seal == nullptr || !includes(cmd.params, "reasoning.encrypted_content"))
    return;
  for (auto& e : events) {
    auto* done = std::get_if<ev::output_item_done>(&e);
    if (done == nullptr || done->item.value("type", "") != "reasoning")
      continue;
    std::string text;
    for (const auto& part : done->item.value("content", json::array()))
      text += part.value("text", "");
    done->item["encrypted_content"] =
        t.seal->seal(cmd.tenant, json{{"text", text}, {"model", cmd.model}});
  }
}

// The text of the message items of an output.
std::string output_text(const json& output) {
  std::string text;
  for (const auto& item : output)
    if (item.value("type", "") == "message")
      for (const auto& part : item.value("content", json::array()))
        if (part.value("type", "") == "output_text")
          text += part.value("text", "");
  return text;
}

} // namespace

bool is_hosted_call(const json& item) {
  auto type = item.value("type", "");
  return type == "web_search_call" || type == "image_generation_call";
}

std::vector<ev::event> decide_creation(const create_command& cmd, std::int64_t created_at) {
  bool background = cmd.params.value("background", false);
  // Emplaced, not listed in braces: an initializer list would copy the
  // event (its parameters and input) once more.
  std::vector<ev::event> first;
  first.reserve(2);
  first.emplace_back(ev::response_created{cmd.response_id, cmd.model, created_at, cmd.params,
                                          cmd.input,
                                          background   ? "background"
                                          : cmd.stream ? "stream"
                                                       : "blocking"});
  // Background work waits for the pool to admit it; the rest starts at once.
  if (background)
    first.emplace_back(ev::response_queued{});
  else
    first.emplace_back(ev::response_in_progress{});
  return first;
}

std::optional<ev::error_info> check_capabilities(const create_command& cmd, const model_info& model,
                                                 const image_generation_settings& images) {
  if (auto image = first_image(cmd.input); !image.empty() && !has(model.capabilities, "vision"))
    return ev::make_error(riposte_errc::model_capability,
                          "Model '" + cmd.model +
                              "' does not accept image inputs (it has no vision capability).",
                          image);
  auto effort = cmd.params.value("reasoning", json::object()).value("effort", json());
  if (effort.is_string() && effort != "none" && effort != "minimal" &&
      !has(model.capabilities, "thinking"))
    return ev::make_error(
        riposte_errc::unsupported_parameter,
        "Unsupported parameter: 'reasoning.effort' is not supported with model '" + cmd.model +
            "' (it has no thinking capability).",
        "reasoning.effort");
  // An image riposte would generate must fit the operator's cap.
  if (images.provider) {
    const auto& tools = cmd.params.value("tools", json::array());
    for (std::size_t i = 0; i < tools.size(); ++i)
      if (tools[i].is_object() && tools[i].value("type", "") == "image_generation")
        if (auto size = image_size(tools[i], images, "tools[" + std::to_string(i) + "].size");
            !size)
          return size.error();
  }
  return std::nullopt;
}

std::optional<ev::error_info> check_parent(const create_command& cmd,
                                           const projections::chain_ptr& parent,
                                           std::int64_t max_chain_depth) {
  if (parent->depth + 1 > max_chain_depth)
    return ev::make_error(riposte_errc::invalid_request,
                          "previous_response_id chain is deeper than " +
                              std::to_string(max_chain_depth) + " responses",
                          "previous_response_id");
  if (auto unanswered = first_unanswered(parent, cmd.open_call_ids))
    return no_tool_call(*unanswered);
  return std::nullopt;
}

update_outcome decide_update(const create_command& cmd, turn_state& t, generation_update u) {
  update_outcome out;
  bool ends = std::any_of(u.events.begin(), u.events.end(), ends_generation);
  if (u.finished && !ends && t.cancel_requested)
    u.events.emplace_back(*t.cancel_event);
  if (note_hosted_calls(t, u.events)) {
    out.events = std::move(u.events);
    out.run_hosted_tools = true;
    return out;
  }
  // Deltas (nearly every update) need no rules: only finished items and the
  // end do.
  bool notable = std::any_of(u.events.begin(), u.events.end(), [](const ev::event& e) {
    return std::holds_alternative<ev::output_item_done>(e) || ends_generation(e);
  });
  if (notable) {
    finish_hosted_rounds(t, u.events);
    check_output_format(cmd, t, u.events);
    account_cached_tokens(cmd, t, u.events);
    seal_reasoning(cmd, t, u.events);
  }
  out.events = std::move(u.events);
  return out;
}

std::vector<ev::event> decide_hosted_start(const turn_state& t) {
  std::vector<ev::event> progress;
  for (const auto& [index, item] : t.hosted_calls) {
    auto id = item.value("id", "");
    bool image = item.value("type", "") == "image_generation_call";
    auto tool = image ? "image_generation" : "web_search";
    progress.emplace_back(ev::hosted_tool_progressed{id, index, tool, "in_progress"});
    progress.emplace_back(
        ev::hosted_tool_progressed{id, index, tool, image ? "generating" : "searching"});
  }
  return progress;
}

hosted_outcome decide_hosted_results(const create_command& cmd, turn_state& t,
                                     const json& answers) {
  hosted_outcome out;
  auto& done = out.events;
  auto tool_turn = [&](const std::string& call_id, const char* name, json arguments,
                       std::string output) {
    t.hosted_items.push_back({{"type", "function_call"},
                              {"call_id", call_id},
                              {"name", name},
                              {"arguments", ev::dump_json(arguments)}});
    t.hosted_items.push_back(
        {{"type", "function_call_output"}, {"call_id", call_id}, {"output", std::move(output)}});
  };
  for (std::size_t i = 0; i < t.hosted_calls.size(); ++i) {
    auto [index, item] = t.hosted_calls[i];
    const auto& answer = i < answers.size() ? answers[i] : json::object();
    auto call_id = "call_" + item.value("id", "");
    if (item.value("type", "") == "image_generation_call") {
      std::string output;
      if (answer.contains("image")) {
        for (const auto& [k, v] : answer["image"].items())
          item[k] = v;
        item["status"] = "completed";
        output = "The image was generated and is shown to the user.";
        done.emplace_back(ev::hosted_tool_progressed{item.value("id", ""), index,
                                                     "image_generation", "completed"});
      } else {
        item["status"] = "failed";
        output = "The image could not be generated: " + answer.value("error", std::string{});
      }
      done.emplace_back(ev::output_item_done{index, item});
      tool_turn(call_id, "image_generation", json{{"prompt", item.value("revised_prompt", "")}},
                std::move(output));
      continue;
    }
    auto query = item["action"].value("query", "");
    std::string output;
    if (answer.contains("error")) {
      item["status"] = "failed";
      output = "The web search failed: " + answer["error"].get<std::string>();
    } else {
      item["status"] = "completed";
      json sources = json::array();
      int n = 0;
      for (const auto& r : answer["results"]) {
        sources.push_back({{"type", "url"}, {"url", r["url"]}});
        t.sources.push_back({r["url"], r["title"], r["snippet"]});
        output += "[" + std::to_string(++n) + "] " + r["title"].get<std::string>() + "\n" +
                  r["url"].get<std::string>() + "\n" + r["snippet"].get<std::string>() + "\n\n";
      }
      if (n == 0)
        output = "The web search found nothing for this query.";
      if (includes(cmd.params, "web_search_call.action.sources"))
        item["action"]["sources"] = std::move(sources);
      done.emplace_back(
          ev::hosted_tool_progressed{item.value("id", ""), index, "web_search", "completed"});
    }
    done.emplace_back(ev::output_item_done{index, item});
    tool_turn(call_id, "web_search", json{{"query", query}}, std::move(output));
  }
  t.hosted_calls.clear();
  ++t.hosted_rounds;
  if (t.cancel_requested)
    done.push_back(*t.cancel_event);
  else
    out.generate_again = true;
  return out;
}

ev::event timed_out(std::chrono::milliseconds job_timeout) {
  return ev::response_failed{ev::failure_code::job_timeout,
                             "The response did not finish within " +
                                 std::to_string(job_timeout.count()) + " ms (--job-timeout-ms).",
                             json()};
}

ev::event faulted() {
  return ev::response_failed{ev::failure_code::server_error,
                             "The server had an error while processing this response.", json()};
}

ev::result<std::vector<ev::event>> decide_delete(const projections::response_state& view) {
  if (!view.terminal())
    return ev::make_error(riposte_errc::invalid_request,
                          "Response '" + view.id +
                              "' is still in progress; it can be deleted once it ends.");
  return std::vector<ev::event>{ev::response_deleted{}};
}

std::optional<ev::error_info> check_cancel(const projections::response_state& view,
                                           const create_command& cmd) {
  if (!cmd.params.value("background", view.params.value("background", false)))
    return ev::make_error(riposte_errc::invalid_request,
                          "Only responses created with background=true can be cancelled.",
                          "response_id");
  return std::nullopt;
}

ev::result<json> blocking_reply(const projections::response_state& v) {
  if (v.status != "failed")
    return projections::render(v);
  return ev::failure_error(v.failure.value_or(ev::failure_code::server_error),
                           v.error.value("message", "the response failed"));
}

ev::result<compaction> compaction_reply(const projections::response_state& view,
                                        const create_command& cmd, const turn_state& t,
                                        const json& input) {
  auto summary = output_text(view.output);
  if (summary.empty())
    return ev::make_error(riposte_errc::internal,
                          "The model returned no summary for the compaction.");
  if (t.seal == nullptr)
    return ev::make_error(riposte_errc::internal, "riposte has no key to seal compactions with.");
  json output = json::array();
  std::vector<const json*> items;
  if (t.parent)
    items = projections::chain_items(t.parent);
  for (const auto& item : input)
    items.push_back(&item);
  for (const auto* item : items)
    if (item->value("type", "message") == "message" && item->value("role", "") == "user")
      output.push_back(*item);
  output.push_back({{"id", ev::make_id("cmp_")},
                    {"type", "compaction"},
                    {"encrypted_content",
                     t.seal->seal(cmd.tenant, json{{"summary", summary}, {"model", view.model}})}});
  return compaction{view.id, view.created_at, std::move(output), view.usage};
}

json unsealed_items(const adapters::crypto::sealer* seal, const std::string& tenant, json items) {
  if (seal == nullptr)
    return items;
  for (auto& item : items) {
    if (!item.is_object() || !item.value("encrypted_content", json()).is_string())
      continue;
    if (item.value("type", "") == "compaction") {
      auto payload = seal->open(tenant, item["encrypted_content"].get<std::string>());
      if (payload && payload->value("summary", json()).is_string())
        item["content"] = json::array({{{"type", "output_text"}, {"text", (*payload)["summary"]}}});
      continue;
    }
    if (item.value("type", "") != "reasoning")
      continue;
    auto payload = seal->open(tenant, item["encrypted_content"].get<std::string>());
    if (payload && payload->value("text", json()).is_string())
      item["content"] = json::array({{{"type", "reasoning_text"}, {"text", (*payload)["text"]}}});
  }
  return items;
}

bool includes(const json& params, const char* what) {
  for (const auto& i : params.value("include", json::array()))
    if (i == what)
      return true;
  return false;
}

} // namespace riposte::actors::response
