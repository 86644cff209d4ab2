// Prompt templates: versions as events, rendering as a pure function.
#include "actors/prompts.hpp"

#include "actors/guard.hpp"
#include "events/event.hpp"
#include "events/faults.hpp"
#include "events/ids.hpp"

#include <algorithm>
#include <set>

namespace riposte::actors {

namespace {

using json = nlohmann::json;
namespace ev = events;
using ev::riposte_errc;

ev::error_info no_such_prompt(const std::string& id, const std::string& param = "prompt_id") {
  return ev::make_error(riposte_errc::not_found, "No prompt found with id '" + id + "'.", param);
}

// A prompt as its events tell it: every version, oldest first.
struct prompt_state {
  std::vector<ev::prompt_version_created> versions;
  std::int64_t stream_version = ev::no_stream;
  bool deleted = false;
};

bool plausible(const std::string& id) {
  return id.rfind("pmpt_", 0) == 0 && id.size() <= 64 &&
         id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_", 5) == std::string::npos;
}

ev::result<prompt_state> load(ev::event_log& log, const std::string& id, const std::string& tenant,
                              const std::string& param = "prompt_id") {
  if (!plausible(id))
    return no_such_prompt(id, param);
  prompt_state p;
  for (std::uint64_t from = 0;;) {
    auto events = log.read(id, from, 256);
    if (!events) {
      if (events.error().code == riposte_errc::not_found)
        return no_such_prompt(id, param);
      return events.error();
    }
    for (const auto& env : *events) {
      if (env.tenant != tenant)
        return no_such_prompt(id, param);
      auto decoded = ev::decode(env);
      if (!decoded)
        return decoded.error();
      if (auto* v = std::get_if<ev::prompt_version_created>(&*decoded))
        p.versions.push_back(*v);
      else if (std::holds_alternative<ev::prompt_deleted>(*decoded))
        p.deleted = true;
      p.stream_version = static_cast<std::int64_t>(env.seq);
    }
    if (events->size() < 256)
      break;
    from = static_cast<std::uint64_t>(p.stream_version + 1);
  }
  if (p.versions.empty() || p.deleted)
    return no_such_prompt(id, param);
  return p;
}

void create(ev::event_log& log, const prompt_draft& d,
            const reply_for<ev::prompt_version_created>& r) {
  auto id = d.prompt_id.empty() ? ev::make_id("pmpt_") : d.prompt_id;
  std::int64_t expected = ev::no_stream;
  std::int64_t number = 1;
  if (!d.prompt_id.empty()) {
    auto p = load(log, id, d.tenant);
    if (!p)
      return r(p.error());
    expected = p->stream_version;
    number = p->versions.back().prompt_version + 1;
  }
  auto now = now_micros();
  ev::prompt_version_created v{id,      number,     d.name,         d.instructions,
                               d.input, d.metadata, now / 1'000'000};
  auto stored = log.append(id, expected, {ev::make_new_event(v, d.tenant, now)});
  if (!stored) {
    if (stored.error().code == riposte_errc::version_conflict)
      return r(ev::make_error(riposte_errc::version_conflict,
                              "Another version of prompt '" + id +
                                  "' was created at the same time; retry.",
                              "prompt_id"));
    return r(stored.error());
  }
  r(std::move(v));
}

void get(ev::event_log& log, const std::string& tenant, const std::string& id,
         const std::string& version, const reply_for<ev::prompt_version_created>& r) {
  auto p = load(log, id, tenant);
  if (!p)
    return r(p.error());
  if (version.empty())
    return r(p->versions.back());
  for (const auto& v : p->versions)
    if (std::to_string(v.prompt_version) == version)
      return r(v);
  r(ev::make_error(riposte_errc::not_found, "Prompt '" + id + "' has no version '" + version + "'.",
                   "version"));
}

void versions(ev::event_log& log, const std::string& tenant, const std::string& id,
              const reply_for<prompt_versions>& r) {
  auto p = load(log, id, tenant);
  if (!p)
    return r(p.error());
  r(prompt_versions(p->versions.rbegin(), p->versions.rend()));
}

void remove(ev::event_log& log, const std::string& tenant, const std::string& id,
            const reply_for<deleted_object>& r) {
  auto p = load(log, id, tenant);
  if (!p)
    return r(p.error());
  auto gone = log.append(id, p->stream_version,
                         {ev::make_new_event(ev::prompt_deleted{id}, tenant, now_micros())});
  if (!gone)
    return r(gone.error().code == riposte_errc::version_conflict ? no_such_prompt(id)
                                                                 : gone.error());
  r(deleted_object{id});
}

prompts_actor::behavior_type prompts(prompts_actor::pointer self,
                                     std::shared_ptr<const services> svc) {
  auto* log = svc->log;
  auto post = [svc](std::function<void()> job) { svc->store_pool->post(std::move(job)); };
  auto on_fault = [](const std::string& what) { events::report_fault("prompts", what); };
  return guarded_typed<prompts_actor::behavior_type>(
      self, on_fault,
      [=](prompt_create_atom, prompt_draft& d, reply_for<ev::prompt_version_created>& r) {
        post([=] { create(*log, d, r); });
      },
      [=](prompt_get_atom, const std::string& tenant, const std::string& id,
          const std::string& version, reply_for<ev::prompt_version_created>& r) {
        post([=] { get(*log, tenant, id, version, r); });
      },
      [=](prompt_versions_atom, const std::string& tenant, const std::string& id,
          reply_for<prompt_versions>& r) { post([=] { versions(*log, tenant, id, r); }); },
      [=](prompt_delete_atom, const std::string& tenant, const std::string& id,
          reply_for<deleted_object>& r) { post([=] { remove(*log, tenant, id, r); }); },
      // Test hook (RIPOSTE_TEST_FAULTS).
      [=](fault_atom, const std::string&, reply_to&) {
        throw std::runtime_error("injected fault (prompts)");
      });
}

// Calls `on_text` for the text between placeholders and `on_var` for each
// {{ name }} (spaces around the name allowed).
template <class Text, class Var>
void scan(const std::string& s, Text on_text, Var on_var) {
  std::size_t at = 0;
  while (at < s.size()) {
    auto open = s.find("{{", at);
    auto close = open == std::string::npos ? open : s.find("}}", open + 2);
    if (close == std::string::npos) {
      on_text(s.substr(at));
      return;
    }
    auto inner = s.substr(open + 2, close - open - 2);
    auto b = inner.find_first_not_of(" \t");
    auto e = inner.find_last_not_of(" \t");
    auto name = b == std::string::npos ? std::string{} : inner.substr(b, e - b + 1);
    bool valid = !name.empty() &&
                 name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
                                        "KLMNOPQRSTUVWXYZ0123456789_.-") == std::string::npos;
    if (!valid) { // not a placeholder: literal text
      on_text(s.substr(at, close + 2 - at));
      at = close + 2;
      continue;
    }
    on_text(s.substr(at, open - at));
    on_var(name);
    at = close + 2;
  }
}

template <class F>
void each_text(const json& input, F f) {
  for (const auto& item : input) {
    if (!item.is_object())
      continue;
    const auto& content = item.value("content", json());
    if (content.is_string())
      f(content.get<std::string>());
    else if (content.is_array())
      for (const auto& part : content)
        if (part.is_object() && part.value("text", json()).is_string())
          f(part["text"].get<std::string>());
  }
}

// A variable's value as text, if it is text.
std::optional<std::string> text_value(const json& v) {
  if (v.is_string())
    return v.get<std::string>();
  if (v.is_object() && v.value("type", "") == "input_text" && v.value("text", json()).is_string())
    return v["text"].get<std::string>();
  return std::nullopt;
}

ev::error_info bad_variable(riposte_errc code, const std::string& name, std::string message) {
  return ev::make_error(code, std::move(message), "prompt.variables." + name);
}

} // namespace

std::vector<std::string> prompt_variables(const json& instructions, const json& input) {
  std::vector<std::string> names;
  auto note = [&](const std::string& s) {
    scan(
        s, [](const std::string&) {},
        [&](const std::string& name) {
          if (std::find(names.begin(), names.end(), name) == names.end())
            names.push_back(name);
        });
  };
  if (instructions.is_string())
    note(instructions.get<std::string>());
  each_text(input, note);
  return names;
}

ev::result<rendered_prompt> render_prompt(const ev::prompt_version_created& version,
                                          const json& variables) {
  const auto& instructions = version.instructions;
  auto input = version.input.is_array() ? version.input : json::array();
  auto used = prompt_variables(instructions, input);
  const auto& vars = variables.is_object() ? variables : json::object();
  for (const auto& name : used)
    if (!vars.contains(name))
      return bad_variable(riposte_errc::missing_parameter, name,
                          "Missing prompt variable '" + name + "': prompt " + version.prompt_id +
                              " version " + std::to_string(version.prompt_version) + " uses {{" +
                              name + "}}.");
  for (const auto& [name, value] : vars.items())
    if (std::find(used.begin(), used.end(), name) == used.end())
      return bad_variable(riposte_errc::unknown_parameter, name,
                          "Unknown prompt variable '" + name + "': the prompt does not use it.");

  std::optional<ev::error_info> err;
  auto fill_text = [&](const std::string& s) {
    std::string out;
    scan(
        s, [&](const std::string& t) { out += t; },
        [&](const std::string& name) {
          auto text = text_value(vars[name]);
          if (!text && !err)
            err = bad_variable(riposte_errc::invalid_value, name,
                               "Prompt variable '" + name +
                                   "' is not text, and this place of the prompt takes only text.");
          out += text.value_or("");
        });
    return out;
  };
  rendered_prompt out;
  if (instructions.is_string())
    out.instructions = fill_text(instructions.get<std::string>());
  for (auto item : input) {
    auto role = item.value("role", "user");
    auto& content = item["content"];
    if (content.is_string() && role == "assistant") {
      content = fill_text(content.get<std::string>());
    } else if (content.is_string() || content.is_array()) {
      json parts = content.is_string() ? json::array({{{"type", "input_text"}, {"text", content}}})
                                       : content;
      json filled = json::array();
      for (const auto& part : parts) {
        if (!part.is_object() || !part.value("text", json()).is_string()) {
          filled.push_back(part);
          continue;
        }
        if (part.value("type", "") != "input_text") {
          auto copy = part;
          copy["text"] = fill_text(part["text"].get<std::string>());
          filled.push_back(std::move(copy));
          continue;
        }
        // An image or file variable becomes its own part, between the texts.
        std::string text;
        auto flush = [&] {
          if (!text.empty())
            filled.push_back({{"type", "input_text"}, {"text", text}});
          text.clear();
        };
        scan(
            part["text"].get<std::string>(), [&](const std::string& t) { text += t; },
            [&](const std::string& name) {
              const auto& v = vars[name];
              if (auto t = text_value(v)) {
                text += *t;
                return;
              }
              auto type = v.is_object() ? v.value("type", "") : std::string{};
              if (type != "input_image" && type != "input_file") {
                if (!err)
                  err = bad_variable(riposte_errc::invalid_type, name,
                                     "Prompt variable '" + name +
                                         "' must be a string, or an input_text, input_image "
                                         "or input_file object.");
                return;
              }
              flush();
              filled.push_back(v);
            });
        flush();
      }
      content = std::move(filled);
    }
    out.input.push_back(std::move(item));
  }
  if (err)
    return *err;
  return out;
}

ev::result<rendered_prompt> resolve_prompt(ev::event_log& log, const std::string& tenant,
                                           const json& reference) {
  auto id = reference.value("id", "");
  auto p = load(log, id, tenant, "prompt.id");
  if (!p)
    return p.error();
  const ev::prompt_version_created* chosen = &p->versions.back();
  auto version = reference.value("version", json());
  if (version.is_string()) {
    chosen = nullptr;
    for (const auto& v : p->versions)
      if (std::to_string(v.prompt_version) == version.get<std::string>())
        chosen = &v;
    if (chosen == nullptr)
      return ev::make_error(riposte_errc::not_found,
                            "Prompt '" + id + "' has no version '" + version.get<std::string>() +
                                "'.",
                            "prompt.version");
  }
  return render_prompt(*chosen, reference.value("variables", json::object()));
}

caf::actor spawn_prompts(caf::actor_system& sys, std::shared_ptr<const services> svc) {
  return caf::actor_cast<caf::actor>(sys.spawn(prompts, std::move(svc)));
}

} // namespace riposte::actors
