// Resolving file references in input parts, and reading files as text.
#include "actors/response/inputs.hpp"

#include "actors/files.hpp"
#include "adapters/crypto/base64.hpp"
#include "adapters/documents/file_text.hpp"
#include "events/item_index.hpp"
#include "events/json_safe.hpp"
#include "projections/conversation.hpp"
#include "projections/response_view.hpp"

#include <map>
#include <memory>

namespace riposte::actors {

namespace {

using json = nlohmann::json;
namespace ev = events;
using ev::riposte_errc;

std::string image_type(std::string_view bytes) {
  if (bytes.substr(0, 8) == "\x89PNG\r\n\x1a\n")
    return "image/png";
  if (bytes.substr(0, 3) == "\xff\xd8\xff")
    return "image/jpeg";
  if (bytes.substr(0, 4) == "GIF8")
    return "image/gif";
  if (bytes.substr(0, 4) == "RIFF" && bytes.size() > 12 && bytes.substr(8, 4) == "WEBP")
    return "image/webp";
  return {};
}

ev::error_info at(ev::error_info err, const std::string& param) {
  err.param = param;
  return err;
}

bool is_web_url(const json& v) {
  if (!v.is_string())
    return false;
  const auto& s = v.get_ref<const std::string&>();
  return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0;
}

// The bytes behind a URL, named after the last segment of its path.
ev::result<file_contents> fetch_url(const input_limits& limits, const std::string& url,
                                    const std::string& param) {
  if (!limits.fetch)
    return ev::make_error(riposte_errc::unsupported_parameter,
                          "This riposte fetches no URLs; send the data inline.", param);
  auto got = limits.fetch(url);
  if (!got)
    return at(got.error(), param);
  auto path = url.substr(0, url.find_first_of("?#"));
  auto slash = path.rfind('/');
  auto name = slash == std::string::npos || slash + 1 == path.size() ? std::string{"file"}
                                                                     : path.substr(slash + 1);
  return file_contents{name, std::move(got->bytes)};
}

} // namespace

bool has_item_references(const json& input) {
  for (const auto& item : input)
    if (item.is_object() && item.value("type", json()) == "item_reference")
      return true;
  return false;
}

namespace {

// The item with `id` in a stored response, if it still holds one.
const json* find_item(const projections::response_state& r, const std::string& id) {
  if (!r.exists() || r.deleted)
    return nullptr;
  for (const auto* list : {&r.input, &r.output})
    for (const auto& item : *list)
      if (item.is_object() && item.value("id", json()) == id)
        return &item;
  return nullptr;
}

} // namespace

item_finder::item_finder(ev::event_log& log, std::string tenant)
  : log_(log)
  , tenant_(std::move(tenant)) {}

ev::result<const json*> item_finder::find(const std::string& id) {
  auto holders = ev::item_holders(log_, tenant_, id);
  if (!holders)
    return holders.error();
  for (const auto& holder : *holders) {
    if (holder.rfind("conv_", 0) == 0) {
      auto it = conversations_.find(holder);
      if (it == conversations_.end()) {
        auto c = projections::read_conversation(log_, holder);
        if (!c && c.error().code != ev::riposte_errc::not_found)
          return c.error();
        it = conversations_.emplace(holder, c ? std::move(*c) : projections::conversation_state{})
                 .first;
      }
      if (it->second.tenant == tenant_)
        if (const auto* found = projections::find_item(it->second, id))
          return found;
      continue;
    }
    auto it = responses_.find(holder);
    if (it == responses_.end()) {
      auto r = projections::read_response(log_, holder);
      if (!r)
        return r.error();
      it = responses_.emplace(holder, std::move(*r)).first;
    }
    if (it->second.tenant == tenant_)
      if (const auto* found = find_item(it->second, id))
        return found;
  }
  return static_cast<const json*>(nullptr);
}

ev::result<json> resolve_item_references(const json& input, const std::string& tenant,
                                         ev::event_log& log, bool store) {
  json out = json::array();
  // Each holder read once per request: a client replaying a conversation
  // references many items of the same responses.
  item_finder finder{log, tenant};
  for (const auto& item : input) {
    if (!item.is_object() || item.value("type", json()) != "item_reference") {
      out.push_back(item);
      continue;
    }
    auto id = ev::string_or(item, "id");
    auto found = finder.find(id);
    if (!found)
      return found.error();
    if (*found == nullptr) {
      std::string msg = "Item with id '" + ev::excerpt(id) + "' not found.";
      if (!store)
        msg += " Items are not persisted when `store` is set to false. Try again with `store` "
               "set to true, or remove this item from your input.";
      return ev::make_error(ev::riposte_errc::item_not_found, std::move(msg), "input");
    }
    out.push_back(**found);
  }
  return out;
}

bool has_references(const json& input) {
  for (const auto& item : input)
    if (item.is_object() && item.contains("content") && item["content"].is_array())
      for (const auto& part : item["content"]) {
        if (!part.is_object())
          continue;
        auto type = part.value("type", "");
        if (type == "input_file" ||
            (type == "input_image" && (part.value("file_id", json()).is_string() ||
                                       is_web_url(part.value("image_url", json())))))
          return true;
      }
  return false;
}

ev::result<json> resolve_inputs(const json& input, const std::string& tenant, ev::event_log& log,
                                const input_limits& limits) {
  json out = input;
  for (std::size_t i = 0; i < out.size(); ++i) {
    auto& item = out[i];
    if (!item.is_object() || !item.contains("content") || !item["content"].is_array())
      continue;
    for (std::size_t j = 0; j < item["content"].size(); ++j) {
      auto& part = item["content"][j];
      auto param = "input[" + std::to_string(i) + "].content[" + std::to_string(j) + "]";
      auto type = part.value("type", "");
      bool by_url = type == "input_image" && is_web_url(part.value("image_url", json()));
      if (type == "input_image" && (by_url || part.value("file_id", json()).is_string())) {
        auto where = param + (by_url ? ".image_url" : ".file_id");
        auto file = by_url ? fetch_url(limits, part["image_url"], where)
                           : read_file_bytes(log, part["file_id"], tenant, limits.max_file_bytes);
        if (!file)
          return at(file.error(), where);
        auto mime = image_type(file->bytes);
        if (mime.empty())
          return ev::make_error(riposte_errc::invalid_value,
                                "'" + file->filename + "' is not a PNG, JPEG, GIF or WebP image.",
                                where);
        part = json{{"type", "input_image"},
                    {"image_url",
                     "data:" + mime + ";base64," + adapters::crypto::base64_encode(file->bytes)}};
      } else if (type == "input_file") {
        file_contents file;
        if (part.value("file_id", json()).is_string()) {
          auto stored = read_file_bytes(log, part["file_id"], tenant, limits.max_file_bytes);
          if (!stored)
            return at(stored.error(), param + ".file_id");
          file = std::move(*stored);
        } else if (part.value("file_url", json()).is_string()) {
          auto got = fetch_url(limits, part["file_url"], param + ".file_url");
          if (!got)
            return got.error();
          file = std::move(*got);
        } else {
          file.filename = part.value("filename", std::string{"file"});
          if (!adapters::documents::decode_file_data(part.value("file_data", std::string{}),
                                                     file.bytes))
            return ev::make_error(riposte_errc::invalid_value,
                                  "file_data must be base64, or a data URL with ;base64.",
                                  param + ".file_data");
          if (file.bytes.size() > limits.max_file_bytes)
            return ev::make_error(riposte_errc::invalid_value,
                                  "file_data is larger than " +
                                      std::to_string(limits.max_file_bytes) + " bytes.",
                                  param + ".file_data");
        }
        auto text = adapters::documents::file_text(file.bytes, file.filename);
        if (!text)
          return at(text.error(), param);
        part = json{{"type", "input_text"},
                    {"text", "<file name=\"" + file.filename + "\">\n" + *text + "\n</file>"}};
      }
    }
  }
  return out;
}

} // namespace riposte::actors
