// SSE client and grammar validator for the tests.
#include "tests/support/sse.hpp"

#include "tests/support/response_fields.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <map>
#include <set>

namespace riposte::tests {

using json = nlohmann::json;

namespace {

struct stream_state {
  sse_result* result;
  long max_events;
  std::function<void(const std::string&)> on_bytes;
};

std::size_t on_chunk(char* data, std::size_t size, std::size_t n, void* user) {
  auto* st = static_cast<stream_state*>(user);
  st->result->raw.append(data, size * n);
  if (st->on_bytes)
    st->on_bytes(st->result->raw);
  if (st->max_events >= 0) {
    long frames = 0;
    for (std::size_t pos = 0; (pos = st->result->raw.find("\n\n", pos)) != std::string::npos;
         pos += 2)
      ++frames;
    if (frames >= st->max_events)
      return 0; // abort: the client goes away
  }
  return size * n;
}

} // namespace

void parse_frames(sse_result& r) {
  r.events.clear();
  r.names.clear();
  std::size_t start = 0;
  for (auto end = r.raw.find("\n\n"); end != std::string::npos;
       start = end + 2, end = r.raw.find("\n\n", start)) {
    auto frame = r.raw.substr(start, end - start);
    std::string name, data;
    std::size_t line_start = 0;
    while (line_start <= frame.size()) {
      auto nl = frame.find('\n', line_start);
      auto line =
          frame.substr(line_start, nl == std::string::npos ? std::string::npos : nl - line_start);
      if (line.rfind("event: ", 0) == 0)
        name = line.substr(7);
      else if (line.rfind("data: ", 0) == 0)
        data += line.substr(6);
      if (nl == std::string::npos)
        break;
      line_start = nl + 1;
    }
    if (data.empty())
      continue; // a comment (keep-alive)
    r.names.push_back(name);
    r.events.push_back(json::parse(data, nullptr, false));
  }
}

sse_result sse_call(const std::string& method, const std::string& url, const std::string& body,
                    long max_events, std::function<void(const std::string&)> on_bytes,
                    const std::vector<std::string>& extra_headers) {
  sse_result r;
  stream_state st{&r, max_events, std::move(on_bytes)};
  CURL* curl = curl_easy_init();
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Accept: text/event-stream");
  for (const auto& h : extra_headers)
    headers = curl_slist_append(headers, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_chunk);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &st);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  parse_frames(r);
  // One read can bring the frames past the last one wanted: a client that
  // stops after max_events has read those only (`raw` keeps every byte).
  if (max_events >= 0 && r.events.size() > static_cast<std::size_t>(max_events)) {
    r.events.resize(static_cast<std::size_t>(max_events));
    r.names.resize(std::min(r.names.size(), static_cast<std::size_t>(max_events)));
  }
  return r;
}

std::vector<std::string> validate_stream(const std::vector<json>& events, std::int64_t first_seq,
                                         bool complete) {
  std::vector<std::string> problems;
  auto fail = [&](std::size_t i, const std::string& what) {
    problems.push_back("event " + std::to_string(i) + ": " + what);
  };
  std::map<std::int64_t, std::string> open_items;   // output_index -> item id
  std::map<std::int64_t, std::string> closed_items; // output_index -> item id
  std::set<std::pair<std::string, std::int64_t>> open_parts;
  bool terminal = false;
  std::int64_t expect_seq = first_seq;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    if (!e.is_object() || !e.contains("type") || !e.contains("sequence_number")) {
      fail(i, "missing type or sequence_number");
      continue;
    }
    auto type = e["type"].get<std::string>();
    auto seq = e["sequence_number"].get<std::int64_t>();
    if (seq != expect_seq)
      fail(i,
           "sequence_number " + std::to_string(seq) + ", expected " + std::to_string(expect_seq));
    expect_seq = seq + 1;
    if (terminal)
      fail(i, type + " after the terminal event");
    if (first_seq == 0 && i == 0 && type != "response.created")
      fail(i, "the stream must open with response.created");
    // Every event that carries the Response carries all of it.
    if (e.contains("response"))
      for (const auto& problem : check_response_fields(e["response"]))
        fail(i, type + " response." + problem);
    auto item_id = e.value("item_id", std::string{});
    auto index = e.value("output_index", std::int64_t{-1});
    if (type == "response.output_item.added") {
      auto id = e["item"].value("id", "");
      if (open_items.count(index) || closed_items.count(index))
        fail(i, "output_index reused");
      open_items[index] = id;
    } else if (type == "response.output_item.done") {
      auto id = e["item"].value("id", "");
      if (first_seq == 0 && open_items[index] != id)
        fail(i, "item done without being added: " + id);
      open_items.erase(index);
      closed_items[index] = id;
    } else if (type == "response.content_part.added") {
      open_parts.insert({item_id, e["content_index"].get<std::int64_t>()});
    } else if (type == "response.content_part.done") {
      open_parts.erase({item_id, e["content_index"].get<std::int64_t>()});
    } else if (type == "response.output_text.delta" || type == "response.output_text.done" ||
               type == "response.reasoning_text.delta" || type == "response.reasoning_text.done") {
      if (first_seq == 0 && !open_parts.count({item_id, e.value("content_index", -1)}))
        fail(i, type + " outside an open content part");
      if (type == "response.output_text.delta" &&
          (!e.contains("logprobs") || !e["logprobs"].is_array()))
        fail(i, "output_text.delta without a logprobs array");
    } else if (type == "response.function_call_arguments.delta" ||
               type == "response.function_call_arguments.done" ||
               type == "response.custom_tool_call_input.delta" ||
               type == "response.custom_tool_call_input.done") {
      if (first_seq == 0 && open_items[index] != item_id)
        fail(i, type + " for an item that is not open");
      if (type == "response.function_call_arguments.done" && !e.contains("name"))
        fail(i, "function_call_arguments.done without a name");
    } else if (type.rfind("response.web_search_call.", 0) == 0 ||
               type.rfind("response.image_generation_call.", 0) == 0) {
      // A hosted tool's progress belongs to its open item.
      if (first_seq == 0 && open_items[index] != item_id)
        fail(i, type + " for an item that is not open");
    } else if (type == "response.completed" || type == "response.failed" ||
               type == "response.incomplete") {
      terminal = true;
      if (!e.contains("response") || !e["response"].contains("id"))
        fail(i, "terminal event without the response");
      // A failure or a cancel may cut an item short (the Response then shows
      // it incomplete); every other end closes them all.
      bool stopped = type == "response.failed" || e["response"].value("status", "") == "cancelled";
      for (const auto& item : e["response"].value("output", json::array()))
        if (item.value("status", "") == "in_progress")
          fail(i, "terminal event with an item in progress: " + item.value("id", ""));
      if (!open_items.empty() && !stopped)
        fail(i, "terminal event with items still open");
      // Items in the final response are exactly the ones streamed, same ids.
      const auto& output = e["response"]["output"];
      for (const auto& [idx, id] : closed_items)
        if (idx >= static_cast<std::int64_t>(output.size()) || output[idx].value("id", "") != id)
          fail(i, "final output differs from the streamed item " + id);
    }
  }
  if (complete && !terminal)
    problems.push_back("the stream ended without a terminal event");
  return problems;
}

} // namespace riposte::tests
