// Ollama's native protocol: POST /api/chat (NDJSON), GET /api/tags.
#include "adapters/backends/ollama.hpp"

#include "adapters/backends/generation.hpp"
#include "adapters/backends/history.hpp"
#include "adapters/backends/http_client.hpp"
#include "adapters/backends/lines.hpp"
#include "adapters/backends/token_estimate.hpp"
#include "adapters/backends/token_line.hpp"
#include "adapters/backends/tools.hpp"
#include "events/ids.hpp"
#include "events/json_object.hpp"
#include "events/json_safe.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <mutex>

namespace riposte::adapters::backends {

namespace ev = events;
using json = nlohmann::json;

namespace {

// Responses items to Ollama messages, in order, with the state that crosses
// items: merged system text, call ids to tool names, thinking waiting for
// the assistant message it belongs to.
struct message_builder {
  json messages = json::array();
  std::string system;
  std::map<std::string, std::string> call_names;
  std::string pending_thinking;
  // Set when an item had to change a message made before this builder's
  // first one (a call joining an earlier assistant turn).
  bool reached_back = false;

  void add(const json& item) {
    if (!item.is_object() || merge_system(item, system))
      return;
    auto type = events::string_or(item, "type", "message");
    if (type == "message") {
      auto role = events::string_or(item, "role", "user");
      const json& content = events::member(item, "content"); // in place: no copy
      auto m = events::object_of({{"role", role == "assistant" ? "assistant" : "user"},
                                  {"content", content_text(content)}});
      json images = json::array();
      for (const auto& url : content_image_urls(content))
        if (auto payload = data_url_payload(url); !payload.empty())
          images.push_back(std::move(payload));
      if (!images.empty())
        m["images"] = std::move(images);
      if (role == "assistant" && !pending_thinking.empty()) {
        m["thinking"] = pending_thinking;
        pending_thinking.clear();
      }
      messages.push_back(std::move(m));
    } else if (type == "function_call" || type == "custom_tool_call") {
      auto call = backend_call(item);
      call_names[events::string_or(item, "call_id")] = call["function"]["name"].get<std::string>();
      if (messages.empty() && pending_thinking.empty())
        reached_back = true; // it might join the previous assistant turn
      // Consecutive calls are one assistant turn with several tool calls.
      if (!messages.empty() && messages.back()["role"] == "assistant" &&
          messages.back().contains("tool_calls")) {
        messages.back()["tool_calls"].push_back(call);
      } else if (!messages.empty() && messages.back()["role"] == "assistant" &&
                 pending_thinking.empty()) {
        messages.back()["tool_calls"] = json::array({call});
      } else {
        json m{{"role", "assistant"}, {"content", ""}, {"tool_calls", json::array({call})}};
        if (!pending_thinking.empty()) {
          m["thinking"] = pending_thinking;
          pending_thinking.clear();
        }
        messages.push_back(std::move(m));
      }
    } else if (type == "function_call_output" || type == "custom_tool_call_output") {
      auto output = item.value("output", json());
      auto m = events::object_of(
          {{"role", "tool"},
           {"content", output.is_string() ? output.get<std::string>() : content_text(output)}});
      auto name = call_names.find(events::string_or(item, "call_id"));
      if (name != call_names.end())
        m["tool_name"] = name->second;
      messages.push_back(std::move(m));
    } else if (type == "reasoning") {
      pending_thinking += reasoning_text(item);
    } else if (type == "compaction") {
      // What compaction left of the earlier conversation (riposte unsealed
      // it into content); a sealed one riposte could not open says nothing.
      if (auto summary = compaction_summary(item); !summary.empty())
        messages.push_back({{"role", "user"}, {"content", summary}});
    }
  }
};

// Reasoning goes back to the model only for the turn in progress: the
// assistant messages after the last user message (a tool loop), which is
// where gpt-oss (harmony) and qwen3 continue from their own analysis. Earlier
// turns go without it, as these families are trained to see them.
bool is_user(const json& m) {
  return events::string_or(m, "role") == "user";
}

// One segment rendered on its own: each message serialized without its
// thinking, and with it for those that have some; its system text and the
// calls it made. Usable only if the segment did not reach into its parent's
// messages and left no thinking behind for the next one.
struct rendered_segment {
  bool usable = false;
  bool compacted = false; // holds a compaction item
  std::vector<std::string> plain;
  std::map<std::size_t, std::string> thinking; // message index: serialized with thinking
  // Estimated tokens of each message as `plain` and `thinking` hold it.
  std::vector<std::int64_t> plain_tokens;
  std::map<std::size_t, std::int64_t> thinking_tokens;
  std::ptrdiff_t last_user = -1; // index of its last user message
  std::string system;
  std::map<std::string, std::string> calls;
};

std::shared_ptr<const rendered_segment>
render_segment(const projections::chain_segment& seg,
               const std::map<std::string, std::string>& known_calls) {
  std::lock_guard lock{seg.adapter_cache.mutex};
  if (seg.adapter_cache.value)
    return std::static_pointer_cast<const rendered_segment>(seg.adapter_cache.value);
  message_builder b;
  b.call_names = known_calls;
  for (const auto& item : seg.items)
    b.add(item);
  auto out = std::make_shared<rendered_segment>();
  out->usable = !b.reached_back && b.pending_thinking.empty();
  out->compacted = std::any_of(seg.items.begin(), seg.items.end(), is_compaction);
  for (auto& m : b.messages) {
    if (is_user(m))
      out->last_user = static_cast<std::ptrdiff_t>(out->plain.size());
    if (m.contains("thinking")) {
      out->thinking.emplace(out->plain.size(), events::dump_json(m));
      out->thinking_tokens.emplace(out->plain.size(), estimate_message_tokens(m));
      m.erase("thinking");
    }
    out->plain.push_back(events::dump_json(m));
    out->plain_tokens.push_back(estimate_message_tokens(m));
  }
  out->system = std::move(b.system);
  for (const auto& [id, name] : b.call_names)
    if (!known_calls.count(id))
      out->calls.emplace(id, name);
  seg.adapter_cache.value = out;
  return out;
}

// Drops the thinking of every message before the last user message.
void keep_current_thinking(json& messages) {
  std::size_t last_user = 0;
  for (std::size_t i = 0; i < messages.size(); ++i)
    if (is_user(messages[i]))
      last_user = i;
  for (std::size_t i = 0; i < last_user; ++i)
    messages[i].erase("thinking");
}

} // namespace

json ollama_chat_options(const actors::generation_request& req, const tool_plan& tools);

namespace {

// What an /api/chat body is made of: its system text, the history's
// messages as JSON text (with their estimated tokens), this turn's messages,
// and everything else (`messages` empty). The history's messages come from
// each segment's cached rendering (a deep chain costs one render per turn,
// not one per ancestor); the rare history that cannot be split per segment
// is rendered whole.
struct chat_parts {
  json system; // the system message, or null
  std::string history;
  std::int64_t history_tokens = 0;
  json turn = json::array();
  json options;
};

// `text`: false leaves the history's text and the body's other members out
// (a count needs only their tokens and the tools).
chat_parts assemble_chat(const actors::generation_request& req, bool text = true) {
  std::vector<const projections::chain_segment*> segments;
  for (auto* s = req.history.get(); s != nullptr; s = s->parent.get())
    segments.push_back(s);
  std::reverse(segments.begin(), segments.end());

  std::vector<std::shared_ptr<const rendered_segment>> rendered;
  std::map<std::string, std::string> known_calls;
  bool usable = req.dropped_items == 0; // a truncated history is rendered whole
  for (const auto* seg : segments) {
    if (!usable)
      break;
    rendered.push_back(render_segment(*seg, known_calls));
    usable = usable && rendered.back()->usable && !rendered.back()->compacted;
    for (const auto& [id, name] : rendered.back()->calls)
      known_calls.emplace(id, name);
  }
  message_builder turn;
  std::string system = req.instructions.is_string() ? req.instructions.get<std::string>() : "";
  std::string history;
  std::int64_t history_tokens = 0;
  std::size_t history_messages = 0;
  usable = usable && std::none_of(req.items.begin(), req.items.end(), is_compaction);
  if (usable) {
    turn.call_names = std::move(known_calls);
    for (const auto& item : req.items)
      turn.add(item);
    // Where the turn in progress starts: thinking is kept after it.
    std::ptrdiff_t user_segment = static_cast<std::ptrdiff_t>(rendered.size());
    if (std::none_of(turn.messages.begin(), turn.messages.end(), is_user)) {
      user_segment = -1;
      for (auto i = static_cast<std::ptrdiff_t>(rendered.size()) - 1; i >= 0 && user_segment < 0;
           --i)
        if (rendered[static_cast<std::size_t>(i)]->last_user >= 0)
          user_segment = i;
    }
    for (std::size_t i = 0; i < rendered.size(); ++i) {
      const auto& r = *rendered[i];
      if (!r.system.empty())
        append_paragraph(system, r.system);
      auto seg = static_cast<std::ptrdiff_t>(i);
      for (std::size_t m = 0; m < r.plain.size(); ++m) {
        auto thinking = r.thinking.find(m);
        bool keep = seg > user_segment ||
                    (seg == user_segment && static_cast<std::ptrdiff_t>(m) > r.last_user);
        bool with_thinking = keep && thinking != r.thinking.end();
        ++history_messages;
        if (text) {
          history += history.empty() ? "" : ",";
          history += with_thinking ? thinking->second : r.plain[m];
        }
        history_tokens += with_thinking ? r.thinking_tokens.at(m) : r.plain_tokens[m];
      }
    }
    usable = !turn.reached_back || history_messages == 0;
  }
  if (!usable) { // render everything in one go
    turn = message_builder{};
    for (const auto* item : turn_items(req))
      turn.add(*item);
    history.clear();
    history_tokens = 0;
    system = req.instructions.is_string() ? req.instructions.get<std::string>() : "";
  }
  keep_current_thinking(turn.messages);
  if (!turn.system.empty())
    append_paragraph(system, turn.system);
  tool_plan tools{req.params, req.offer_web_search, req.offer_image_generation};
  if (auto must = tools.choice_instruction(); !must.empty())
    append_paragraph(system, must);
  // A count reads the body's tools only.
  json options;
  if (text)
    options = ollama_chat_options(req, tools);
  else if (auto offered = tools.backend_tools(); !offered.empty())
    options["tools"] = std::move(offered);
  return chat_parts{
      system.empty() ? json()
                     : events::object_of({{"role", "system"}, {"content", std::move(system)}}),
      std::move(history), history_tokens, std::move(turn.messages), std::move(options)};
}

} // namespace

std::int64_t rfc3339_seconds(const std::string& text) {
  // YYYY-MM-DDTHH:MM:SS, digits exactly where they belong.
  auto digits = [&](std::size_t at, std::size_t n) {
    int v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (i >= text.size() || !std::isdigit(static_cast<unsigned char>(text[i])))
        return -1;
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != 't') || text[13] != ':' || text[16] != ':')
    return 0;
  int y = digits(0, 4), mo = digits(5, 2), d = digits(8, 2), h = digits(11, 2), mi = digits(14, 2),
      sec = digits(17, 2);
  if (y < 0 || mo < 0 || d < 0 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
    return 0;
  std::chrono::year_month_day date{std::chrono::year{y},
                                   std::chrono::month{static_cast<unsigned>(mo)},
                                   std::chrono::day{static_cast<unsigned>(d)}};
  if (!date.ok())
    return 0;
  std::size_t at = 19;
  if (at < text.size() && text[at] == '.') { // fractional seconds: dropped
    ++at;
    while (at < text.size() && std::isdigit(static_cast<unsigned char>(text[at])))
      ++at;
  }
  std::int64_t offset = 0;
  if (at + 1 == text.size() && (text[at] == 'Z' || text[at] == 'z')) {
    // UTC
  } else if (at + 6 == text.size() && (text[at] == '+' || text[at] == '-') && text[at + 3] == ':') {
    int oh = digits(at + 1, 2), om = digits(at + 4, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59)
      return 0;
    offset = (text[at] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
  } else {
    return 0;
  }
  auto days = std::chrono::sys_days{date}.time_since_epoch().count();
  auto seconds = static_cast<std::int64_t>(days) * 86'400 + h * 3600 + mi * 60 + sec - offset;
  return seconds > 0 ? seconds : 0;
}

std::string ollama_chat_body(const actors::generation_request& req) {
  auto parts = assemble_chat(req);
  std::string messages = "[";
  if (!parts.system.is_null())
    messages += events::dump_json(parts.system);
  auto append = [&messages](const std::string& part) {
    if (messages.size() > 1)
      messages += ',';
    messages += part;
  };
  if (!parts.history.empty())
    append(parts.history);
  for (const auto& m : parts.turn)
    append(events::dump_json(m));
  messages += "]";
  auto text = events::dump_json(parts.options);
  auto slot = text.find("\"messages\":[]");
  return text.replace(slot, 13, "\"messages\":" + messages);
}

// estimate_chat_tokens of the body, without rendering it: the history's
// counts are cached with its segments.
std::int64_t ollama_chat_tokens(const actors::generation_request& req) {
  auto parts = assemble_chat(req, false);
  std::int64_t tokens = tokens_per_prompt + parts.history_tokens;
  tokens += estimate_message_tokens(parts.system); // null counts nothing
  for (const auto& m : parts.turn)
    tokens += estimate_message_tokens(m);
  if (auto tools = parts.options.find("tools"); tools != parts.options.end())
    tokens += estimate_tools_tokens(*tools);
  return tokens;
}

json to_ollama_chat(const actors::generation_request& req) {
  return events::parse_stored(ollama_chat_body(req));
}

// Everything of the body but its messages (an empty array holds their place).
json ollama_chat_options(const actors::generation_request& req, const tool_plan& tools) {
  auto body = events::object_of(
      {{"model", req.model}, {"messages", json::array()}, {"stream", req.stream}});
  json options = json::object();
  const auto& p = req.params;
  // Ollama's options share the API's names for these.
  for (const char* name : {"temperature", "top_p", "presence_penalty", "frequency_penalty"})
    if (p.contains(name) && p[name].is_number())
      options[name] = p[name];
  if (p.contains("max_output_tokens") && p["max_output_tokens"].is_number_integer())
    options["num_predict"] = p["max_output_tokens"];
  // The window riposte plans the context for is the one Ollama runs with
  // (its own default would silently cut a longer prompt).
  if (req.context_window > 0)
    options["num_ctx"] = req.context_window;
  if (!options.empty())
    body["options"] = options;
  bool thinks = std::find(req.capabilities.begin(), req.capabilities.end(), "thinking") !=
                req.capabilities.end();
  if (thinks && p.contains("reasoning") && p["reasoning"].is_object()) {
    auto effort = p["reasoning"].value("effort", json());
    if (effort.is_string()) {
      // gpt-oss takes a level; the other thinking families only on or off.
      auto e = effort.get<std::string>();
      if (e == "none" || e == "minimal")
        body["think"] = false;
      else if (e == "low" || e == "medium" || e == "high" || e == "xhigh")
        body["think"] = req.family == "gptoss" ? json(e == "xhigh" ? "high" : e) : json(true);
    }
  }
  if (p.contains("text") && p["text"].is_object() && p["text"].contains("format")) {
    const auto& format = p["text"]["format"];
    auto ftype = events::string_or(format, "type", "text");
    if (ftype == "json_object")
      body["format"] = "json";
    else if (ftype == "json_schema" && format.contains("schema"))
      body["format"] = format["schema"];
  }
  if (auto offered = tools.backend_tools(); !offered.empty())
    body["tools"] = std::move(offered);
  return body;
}

ollama_translator::ollama_translator(std::string model, const json& params,
                                     std::int64_t first_index)
  : model_(std::move(model))
  , out_(tool_plan(params), first_index) {}

ollama_translator::ollama_translator(const actors::generation_request& req)
  : model_(req.model)
  , out_(req) {}

std::vector<ev::event> ollama_translator::feed(std::string_view bytes) {
  std::vector<ev::event> out;
  if (out_.done())
    return out;
  buffer_.append(bytes);
  take_lines(buffer_, [&](std::string_view line) {
    if (line.find_first_not_of(" \r\t") == std::string_view::npos)
      return true;
    // Nearly every line is one token, and a blocking reply is one line:
    // read without building a json object.
    if (line_end end; read_ollama_line(line, content_, thinking_, end)) {
      out_.text(thinking_, content_, out);
      if (!end.done)
        return true;
      end_turn(end.prompt_eval_count, end.eval_count, end.done_reason, out);
      return !out_.done();
    }
    auto j = events::parse_untrusted(line);
    if (j.is_discarded() || !j.is_object()) {
      out_.fail(ev::failure_code::server_error, "the backend sent a line that is not JSON", out);
      return false;
    }
    try {
      on_line(j, out);
    } catch (const json::exception& ex) {
      // A member of the wrong type (Ollama sends none): the response fails,
      // the backend thread goes on.
      out_.fail(ev::failure_code::server_error,
                std::string{"the backend sent a line riposte cannot read: "} + ex.what(), out);
    }
    return !out_.done();
  });
  return out;
}

void ollama_translator::on_line(const json& line, std::vector<ev::event>& out) {
  if (auto err = line.find("error"); err != line.end())
    return out_.fail(ev::failure_code::server_error,
                     "backend error: " +
                         (err->is_string() ? err->get<std::string>() : events::dump_json(*err)),
                     out);
  static const json no_message = json::object();
  auto m = line.find("message");
  if (m != line.end() && !m->is_object())
    return out_.fail(ev::failure_code::server_error,
                     "the backend sent a message that is not an object", out);
  const auto& message = m != line.end() ? *m : no_message;
  out_.text(message.value("thinking", ""), message.value("content", ""), out);
  auto c = message.find("tool_calls");
  if (c != message.end() && c->is_array() && !c->empty()) {
    out_.close_text(out);
    for (const auto& call : *c) {
      auto fn = call.value("function", json::object());
      out_.call(fn.value("name", ""), fn.value("arguments", json::object()), out);
    }
  }
  if (line.value("done", false))
    end_turn(line.value("prompt_eval_count", std::int64_t{0}),
             line.value("eval_count", std::int64_t{0}), line.value("done_reason", "stop"), out);
}

void ollama_translator::end_turn(std::int64_t prompt_tokens, std::int64_t output_tokens,
                                 const std::string& done_reason, std::vector<ev::event>& out) {
  auto usage = output_builder::usage(prompt_tokens, output_tokens);
  if (done_reason == "length")
    out_.incomplete(std::move(usage), out);
  else
    out_.complete(std::move(usage), out);
}

std::vector<ev::event> ollama_translator::finish(long status, const std::string& transport_error,
                                                 bool timed_out, bool connect_failed,
                                                 const std::string& error_body) {
  std::vector<ev::event> out;
  // A non-streaming reply is one JSON object, with no newline after it.
  if (!out_.done() && status < 400 && !buffer_.empty() &&
      buffer_.find_first_not_of(" \r\n\t") != std::string::npos)
    out = feed("\n");
  if (out_.done())
    return out;
  if (out_.failed_transfer(transport_error, timed_out, connect_failed, out))
    return out;
  if (status >= 400) {
    auto body = events::parse_untrusted(error_body);
    std::string reason = body.is_object() && body.contains("error") && body["error"].is_string()
                             ? body["error"].get<std::string>()
                             : error_body;
    out_.fail(status == 404 ? ev::failure_code::model_not_found : ev::failure_code::server_error,
              "backend answered " + std::to_string(status) + ": " + reason, out);
  } else if (!transport_error.empty()) {
    out_.fail(ev::failure_code::server_error,
              "backend connection failed mid-stream: " + transport_error, out);
  } else {
    out_.fail(ev::failure_code::server_error, "backend closed the stream before it finished", out);
  }
  return out;
}

namespace {

class ollama_backend final : public actors::backend {
public:
  explicit ollama_backend(const ollama_options& opts)
    : opts_(opts)
    , client_(opts.max_connections) {}

  std::uint64_t generate(actors::generation_request req, actors::update_sink sink) override {
    auto translator = std::make_shared<ollama_translator>(req);
    http_request r;
    r.method = "POST";
    r.url = opts_.base_url + "/api/chat";
    r.headers = {"Content-Type: application/json"};
    r.body = ollama_chat_body(req);
    r.connect_timeout_ms = opts_.connect_timeout_ms;
    r.timeout_ms = opts_.timeout_ms;
    return stream_generation(client_, std::move(r), std::move(translator), std::move(sink));
  }

  void cancel(std::uint64_t id) override { client_.abort(id); }

  std::int64_t count_input_tokens(const actors::generation_request& req) const override {
    return ollama_chat_tokens(req);
  }

  void
  list_models(std::function<void(events::result<std::vector<actors::model_info>>)> done) override {
    call_json("GET", "/api/tags", "", [done](long, events::result<json> j) {
      if (!j)
        return done(j.error());
      if (!j->contains("models") || !(*j)["models"].is_array())
        return done(ev::make_error(ev::riposte_errc::backend_unavailable,
                                   "the backend's /api/tags reply is not a model list"));
      std::vector<actors::model_info> models;
      for (const auto& m : (*j)["models"]) {
        actors::model_info info;
        info.id = m.value("name", m.value("model", ""));
        info.owned_by = "ollama";
        if (auto modified = m.find("modified_at"); modified != m.end() && modified->is_string())
          info.created = rfc3339_seconds(modified->get<std::string>());
        models.push_back(std::move(info));
      }
      done(std::move(models));
    });
  }

  void show_model(const std::string& name,
                  std::function<void(events::result<actors::model_info>)> done) override {
    call_json("POST", "/api/show", events::dump_json(json{{"model", name}}),
              [done, name](long status, events::result<json> j) {
                if (status == 404)
                  return done(ev::make_error(ev::riposte_errc::model_not_found,
                                             "The requested model '" + name + "' does not exist.",
                                             "model"));
                if (!j)
                  return done(j.error());
                actors::model_info info;
                info.id = name;
                info.owned_by = "ollama";
                if (auto modified = j->find("modified_at");
                    modified != j->end() && modified->is_string())
                  info.created = rfc3339_seconds(modified->get<std::string>());
                for (const auto& c : j->value("capabilities", json::array()))
                  if (c.is_string())
                    info.capabilities.push_back(c.get<std::string>());
                // model_info carries "<architecture>.context_length".
                auto details = j->value("model_info", json::object());
                info.family = details.value("general.architecture", std::string{});
                auto key = info.family + ".context_length";
                if (details.contains(key) && details[key].is_number_integer())
                  info.context_length = details[key].get<std::int64_t>();
                // "parameters" is the Modelfile's PARAMETER lines, e.g. "num_ctx 8192".
                auto params = j->value("parameters", std::string{});
                for (std::size_t at = params.find("num_ctx"); at != std::string::npos;
                     at = params.find("num_ctx", at + 1)) {
                  if (at > 0 && params[at - 1] != '\n')
                    continue;
                  auto value = params.find_first_not_of(" \t", at + 7);
                  if (value != std::string::npos &&
                      std::isdigit(static_cast<unsigned char>(params[value])))
                    info.num_ctx = std::stoll(params.substr(value, 18));
                }
                done(std::move(info));
              });
  }

  void version(std::function<void(events::result<std::string>)> done) override {
    call_json("GET", "/api/version", "", [done](long, events::result<json> j) {
      if (!j)
        return done(j.error());
      if (!j->contains("version") || !(*j)["version"].is_string())
        return done(ev::make_error(ev::riposte_errc::backend_unavailable,
                                   "the backend's /api/version reply has no version"));
      done((*j)["version"].get<std::string>());
    });
  }

private:
  void call_json(std::string method, const std::string& path, std::string body,
                 std::function<void(long status, events::result<json>)> done) {
    http_request r;
    r.method = std::move(method);
    r.url = opts_.base_url + path;
    if (!body.empty())
      r.headers = {"Content-Type: application/json"};
    r.body = std::move(body);
    r.connect_timeout_ms = opts_.connect_timeout_ms;
    r.timeout_ms = 30'000;
    fetch_json(client_, std::move(r), path, std::move(done));
  }

  ollama_options opts_;
  http_client client_;
};

} // namespace

std::unique_ptr<actors::backend> make_ollama_backend(const ollama_options& opts) {
  return std::make_unique<ollama_backend>(opts);
}

} // namespace riposte::adapters::backends
