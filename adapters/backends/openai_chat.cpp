// openai_chat_translator: SSE in any server's dialect, out as domain events.
#include "adapters/backends/openai_chat.hpp"

#include "adapters/backends/lines.hpp"
#include "events/json_safe.hpp"

namespace riposte::adapters::backends {

namespace ev = events;
using json = nlohmann::json;

namespace {

// The most of a reply riposte keeps to read it as one JSON object.
constexpr std::size_t max_whole_reply = 16u << 20;

// A member that is a non-empty string (null and other types read as absent).
std::string text_of(const json& obj, const char* key) {
  if (!obj.is_object())
    return {};
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

std::int64_t count_of(const json& obj, const char* key) {
  if (!obj.is_object())
    return 0;
  auto it = obj.find(key);
  return it != obj.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

using events::member;

// The arguments of an assembled call: its fragments as JSON; when they do
// not parse but the last fragment alone does (a server repeating the whole
// arguments at the end), that; otherwise the text as it came.
json call_arguments(const std::string& text, const std::string& last_fragment) {
  if (text.empty())
    return json::object();
  auto whole = ev::parse_untrusted(text);
  if (!whole.is_discarded())
    return whole;
  auto last = ev::parse_untrusted(last_fragment);
  if (!last.is_discarded() && last.is_object())
    return last;
  return text;
}

} // namespace

std::string chat_error_message(const json& body) {
  if (!body.is_object())
    return {};
  const auto& error = member(body, "error");
  if (error.is_object()) {
    auto message = text_of(error, "message");
    return message.empty() ? ev::dump_json(error) : message;
  }
  if (error.is_string())
    return error.get<std::string>();
  if (text_of(body, "object") == "error")
    return text_of(body, "message");
  return {};
}

openai_chat_translator::openai_chat_translator(const json& params, std::int64_t first_index)
  : out_(tool_plan(params), first_index) {}

openai_chat_translator::openai_chat_translator(const actors::generation_request& req)
  : out_(req) {}

std::vector<ev::event> openai_chat_translator::feed(std::string_view bytes) {
  std::vector<ev::event> out;
  if (out_.done())
    return out;
  buffer_.append(bytes);
  if (!saw_field_ && raw_.size() < max_whole_reply)
    raw_.append(bytes.substr(0, max_whole_reply - raw_.size()));
  take_lines(buffer_, [&](std::string_view line) {
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (line.empty()) { // the event is complete
      if (event_pending())
        on_event(out);
    } else if (line.front() != ':') { // not a comment (keep-alives, pings)
      auto colon = line.find(':');
      auto value = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
      if (!value.empty() && value.front() == ' ')
        value.remove_prefix(1);
      on_field(line.substr(0, colon), value);
    }
    return !out_.done();
  });
  return out;
}

void openai_chat_translator::on_field(std::string_view field, std::string_view value) {
  // llama.cpp reports some failures on an `error:` line instead of `data:`.
  auto* target = field == "data" ? &data_ : field == "error" ? &error_ : nullptr;
  if (target == nullptr) // event, id, retry: nothing riposte needs
    return;
  if (!saw_field_) {
    saw_field_ = true;
    raw_.clear();
    raw_.shrink_to_fit();
  }
  if (!target->empty())
    target->push_back('\n');
  target->append(value);
}

void openai_chat_translator::on_event(std::vector<ev::event>& out) {
  auto data = std::move(data_);
  auto error = std::move(error_);
  data_.clear();
  error_.clear();
  if (!error.empty()) {
    auto message = chat_error_message(ev::parse_untrusted(error));
    return out_.fail(ev::failure_code::server_error,
                     "backend error: " + (message.empty() ? ev::excerpt(error) : message), out);
  }
  if (data == "[DONE]")
    return end(out);
  if (data.empty())
    return;
  auto chunk = ev::parse_untrusted(data);
  if (chunk.is_discarded() || !chunk.is_object())
    return out_.fail(ev::failure_code::server_error,
                     "the backend sent a stream event that is not a JSON object", out);
  try {
    on_chunk(chunk, out);
  } catch (const json::exception& ex) {
    out_.fail(ev::failure_code::server_error,
              std::string{"the backend sent a chunk riposte cannot read: "} + ex.what(), out);
  }
}

// A fragment's call: its index; without one (a server sending whole calls),
// a new call when it names one other than the last, else the last.
std::int64_t openai_chat_translator::call_index(const json& f) const {
  if (member(f, "index").is_number_integer())
    return f["index"].get<std::int64_t>();
  if (calls_.empty())
    return 0;
  const auto& [last, call] = *calls_.rbegin();
  auto id = text_of(f, "id");
  auto name = text_of(member(f, "function"), "name");
  bool other = (!id.empty() && id != call.id) || (!name.empty() && name != call.name);
  return other ? last + 1 : last;
}

void openai_chat_translator::on_chunk(const json& chunk, std::vector<ev::event>& out) {
  if (!member(chunk, "error").is_null()) {
    auto message = chat_error_message(chunk);
    return out_.fail(ev::failure_code::server_error, "backend error: " + message, out);
  }
  if (const auto& usage = member(chunk, "usage"); usage.is_object())
    usage_ = usage;
  if (const auto& timings = member(chunk, "timings"); timings.is_object())
    if (member(timings, "cache_n").is_number_integer())
      cache_n_ = timings["cache_n"].get<std::int64_t>();
  const auto& choices = member(chunk, "choices");
  if (!choices.is_array())
    return;
  for (const auto& choice : choices) {
    // One choice is asked for; a server numbering it otherwise is ignored.
    if (!choice.is_object() || count_of(choice, "index") != 0)
      continue;
    const auto& delta =
        member(choice, "delta").is_object() ? choice["delta"] : member(choice, "message");
    auto reasoning = text_of(delta, "reasoning");
    if (reasoning.empty())
      reasoning = text_of(delta, "reasoning_content");
    out_.text(reasoning, text_of(delta, "content"), out);
    const auto& fragments = member(delta, "tool_calls");
    if (fragments.is_array())
      for (const auto& f : fragments) {
        if (!f.is_object())
          continue;
        auto& call = calls_[call_index(f)];
        if (call.id.empty())
          call.id = text_of(f, "id");
        const auto& fn = member(f, "function");
        if (call.name.empty())
          call.name = text_of(fn, "name");
        const auto& args = member(fn, "arguments");
        auto piece = args.is_string() ? args.get<std::string>()
                                      : (args.is_null() ? std::string{} : ev::dump_json(args));
        if (!piece.empty()) {
          call.arguments += piece;
          call.last_fragment = piece;
        }
      }
    if (auto reason = text_of(choice, "finish_reason"); !reason.empty())
      finish_reason_ = reason;
  }
}

void openai_chat_translator::end(std::vector<ev::event>& out) {
  if (out_.done())
    return;
  if (finish_reason_ == "abort" || finish_reason_ == "error")
    return out_.fail(ev::failure_code::server_error,
                     "the backend stopped the generation (finish_reason " + finish_reason_ + ")",
                     out);
  auto cached = count_of(member(usage_, "prompt_tokens_details"), "cached_tokens");
  if (cached == 0 && cache_n_ > 0)
    cached = cache_n_;
  auto usage = output_builder::usage(
      count_of(usage_, "prompt_tokens"), count_of(usage_, "completion_tokens"), cached,
      count_of(member(usage_, "completion_tokens_details"), "reasoning_tokens"));
  if (finish_reason_ == "length")
    return out_.incomplete(std::move(usage), out);
  // Whatever the finish says (stop, eos_token, stop_sequence, tool_calls):
  // calls the model made are calls.
  for (const auto& [index, call] : calls_) {
    if (call.name.empty())
      return out_.fail(ev::failure_code::server_error,
                       "the backend sent a tool call without a name", out);
    out_.call(call.name, call_arguments(call.arguments, call.last_fragment), out);
  }
  out_.complete(std::move(usage), out);
}

std::vector<ev::event> openai_chat_translator::finish(long status,
                                                      const std::string& transport_error,
                                                      bool timed_out, bool connect_failed,
                                                      const std::string& error_body) {
  std::vector<ev::event> out;
  if (!out_.done() && status < 400 && !saw_field_) {
    // Not a stream: one JSON object, the whole completion or an error.
    auto whole = ev::parse_untrusted(raw_);
    if (whole.is_object()) {
      try {
        on_chunk(whole, out);
      } catch (const json::exception& ex) {
        out_.fail(ev::failure_code::server_error,
                  std::string{"the backend sent a reply riposte cannot read: "} + ex.what(), out);
      }
      if (!out_.done())
        end(out);
    }
  }
  if (!out_.done() && status < 400) {
    // The last event may lack its blank line, the last line its newline.
    if (!buffer_.empty()) {
      auto more = feed("\n");
      out.insert(out.end(), more.begin(), more.end());
    }
    if (event_pending() && !out_.done())
      on_event(out);
  }
  if (out_.done())
    return out;
  if (out_.failed_transfer(transport_error, timed_out, connect_failed, out))
    return out;
  if (status >= 400) {
    auto message = chat_error_message(ev::parse_untrusted(error_body));
    out_.fail(status == 404 ? ev::failure_code::model_not_found : ev::failure_code::server_error,
              "backend answered " + std::to_string(status) + ": " +
                  (message.empty() ? ev::excerpt(error_body) : message),
              out);
  } else if (!transport_error.empty()) {
    out_.fail(ev::failure_code::server_error,
              "backend connection failed mid-stream: " + transport_error, out);
  } else if (!finish_reason_.empty()) {
    end(out); // a finish, then the connection closed without [DONE]: done all the same
  } else {
    out_.fail(ev::failure_code::server_error, "backend closed the stream before it finished", out);
  }
  return out;
}

} // namespace riposte::adapters::backends
