// /v1/files, shaped like the OpenAI SDK's `files` resource.
#include "events/faults.hpp"
#include "events/json_safe.hpp"
#include "http/errors.hpp"
#include "http/multipart.hpp"
#include "http/objects.hpp"
#include "http/routes.hpp"

#include <caf/all.hpp>

#include <cctype>
#include <chrono>
#include <set>

namespace riposte::http {

namespace {

using json = nlohmann::json;
namespace ev = events;
using ev::riposte_errc;

const std::set<std::string> purposes{"assistants", "batch",     "fine-tune",
                                     "vision",     "user_data", "evals"};

// The upload form: file, purpose, expires_after[anchor|seconds].
ev::result<actors::file_upload> parse_upload(const request& req,
                                             const actors::file_limits& limits) {
  auto parts = parse_form_data(req.header("content-type").value_or(""), req.body);
  if (!parts)
    return parts.error();
  actors::file_upload up;
  const form_part* file = nullptr;
  std::string anchor, seconds;
  for (const auto& p : *parts) {
    // Names and text fields are stored and echoed: they must be text.
    if (!ev::valid_utf8(p.name) || !ev::valid_utf8(p.filename) ||
        (p.name != "file" && !ev::valid_utf8(p.body)))
      return ev::make_error(riposte_errc::invalid_value,
                            "Invalid form field '" + ev::excerpt(p.name, 40) +
                                "': its name, filename or value is not valid UTF-8 text.",
                            ev::valid_utf8(p.name) ? ev::excerpt(p.name, 40) : "file");
    if (p.name == "file")
      file = &p;
    else if (p.name == "purpose")
      up.purpose = std::string{p.body};
    else if (p.name == "expires_after[anchor]")
      anchor = std::string{p.body};
    else if (p.name == "expires_after[seconds]")
      seconds = std::string{p.body};
  }
  if (file == nullptr)
    return ev::make_error(riposte_errc::missing_parameter, "Missing required parameter: 'file'.",
                          "file");
  if (file->filename.empty())
    return ev::make_error(riposte_errc::invalid_value, "The 'file' part must carry a filename.",
                          "file");
  if (up.purpose.empty())
    return ev::make_error(riposte_errc::missing_parameter, "Missing required parameter: 'purpose'.",
                          "purpose");
  if (!purposes.count(up.purpose))
    return ev::make_error(riposte_errc::invalid_value,
                          "Invalid value for 'purpose': '" + ev::excerpt(up.purpose) +
                              "'. Supported values are: 'assistants', 'batch', 'fine-tune', "
                              "'vision', 'user_data' and 'evals'.",
                          "purpose");
  if (file->body.empty())
    return ev::make_error(riposte_errc::invalid_value, "The file is empty.", "file");
  if (file->body.size() > limits.max_upload_bytes)
    return ev::make_error(riposte_errc::payload_too_large,
                          "The file is " + std::to_string(file->body.size()) +
                              " bytes; uploads may be at most " +
                              std::to_string(limits.max_upload_bytes) + " bytes.",
                          "file");
  if (!anchor.empty() || !seconds.empty()) {
    if (anchor != "created_at")
      return ev::make_error(riposte_errc::invalid_value,
                            "Invalid value for 'expires_after[anchor]': expected 'created_at'.",
                            "expires_after.anchor");
    bool digits = !seconds.empty() && seconds.size() < 10 &&
                  seconds.find_first_not_of("0123456789") == std::string::npos;
    auto n = digits ? std::stoll(seconds) : 0;
    if (n < limits.min_expiry_seconds || n > 2'592'000)
      return ev::make_error(riposte_errc::invalid_value,
                            "Invalid value for 'expires_after[seconds]': expected " +
                                std::to_string(limits.min_expiry_seconds) +
                                " to 2592000 (30 days).",
                            "expires_after.seconds");
    up.expires_after_seconds = n;
  }
  up.filename = file->filename;
  up.bytes = std::make_shared<const std::string>(file->body);
  return up;
}

ev::result<actors::file_query> parse_file_query(const std::string& query) {
  auto pairs = parse_query_string(query);
  if (!pairs)
    return pairs.error();
  actors::file_query q;
  for (const auto& [key, value] : *pairs) {
    if (key == "purpose") {
      q.purpose = value;
    } else if (key == "limit") {
      bool digits = !value.empty() && value.size() < 7 &&
                    value.find_first_not_of("0123456789") == std::string::npos;
      q.limit = digits ? std::stoll(value) : 0;
      if (q.limit < 1 || q.limit > 10'000)
        return ev::make_error(riposte_errc::invalid_value,
                              "Invalid value for 'limit': expected 1 to 10000.", "limit");
    } else if (key == "order") {
      if (value != "asc" && value != "desc")
        return ev::make_error(riposte_errc::invalid_value,
                              "Invalid value for 'order': expected 'asc' or 'desc'.", "order");
      q.ascending = value == "asc";
    } else if (key == "after") {
      q.after = value;
    }
  }
  return q;
}

// A Content-Disposition naming `filename` safely: an ASCII fallback with
// quotes, backslashes and everything unprintable replaced, and the exact name
// percent-encoded in filename* (RFC 6266).
std::string content_disposition(const std::string& filename) {
  std::string ascii, encoded;
  static constexpr char hex[] = "0123456789ABCDEF";
  for (unsigned char c : filename) {
    ascii += (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') ? '_' : static_cast<char>(c);
    if (std::isalnum(c) || c == '.' || c == '-' || c == '_' || c == '~') {
      encoded += static_cast<char>(c);
    } else {
      encoded += '%';
      encoded += hex[c >> 4];
      encoded += hex[c & 15];
    }
  }
  return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + encoded;
}

// Streams the file's bytes, one chunk in flight at a time: the next chunk is
// read only once the client took this one, and no thread waits meanwhile.
// The calls come one after another (head, chunks, done); a reader dropped
// before its end still answers (500, or the end of the stream).
json page_of(const actors::file_page& page) {
  json data = json::array();
  for (const auto& f : page.data)
    data.push_back(file_object(f));
  return list_object(std::move(data), page.has_more);
}

actors::file_reader stream_content(const request& req, reply_fn reply) {
  struct download {
    std::shared_ptr<exchange> channel;
    reply_fn reply;
    std::shared_ptr<chunk_stream> out;
    bool answered = false; // an error reply went out, or the stream opened
    bool ended = false;
    void end() {
      if (ended)
        return;
      ended = true;
      if (out)
        out->finish();
      else if (!answered)
        reply(to_http(ev::server_fault()));
      answered = true;
    }
    ~download() {
      try {
        end();
      } catch (...) {
      }
    }
  };
  auto st = std::make_shared<download>();
  st->channel = req.reply_channel;
  st->reply = std::move(reply);
  actors::file_reader r;
  r.head = [st](ev::result<ev::file_uploaded> meta) {
    if (st->answered)
      return;
    st->answered = true;
    if (!meta)
      return st->reply(to_http(meta.error()));
    st->out = st->channel->stream(
        "application/octet-stream",
        {{"content-disposition",
          content_disposition(meta->filename.empty() ? "file" : meta->filename)}});
  };
  r.chunk = [st](std::string piece, std::function<void(bool)> next) {
    if (!st->out || st->ended)
      return next(false);
    st->out->write(std::move(piece), std::move(next));
  };
  r.done = [st](bool) { st->end(); };
  return r;
}

} // namespace

std::vector<route> files_routes(const api_context& ctx) {
  std::vector<route> routes;
  auto c = std::make_shared<api_context>(ctx);
  using params_t = std::vector<std::string>;
  auto upload = tenant_route(
      c->auth, "POST", "/v1/files",
      [c](const request& req, const params_t&, const std::string& tenant, reply_fn reply) {
        auto up = parse_upload(req, c->file_limits);
        if (!up)
          return reply(to_http(up.error()));
        up->tenant = tenant;
        caf::anon_send(c->files->as<actors::files_actor>(), actors::file_upload_atom::value,
                       std::move(*up),
                       reply_rendered<ev::file_uploaded>(std::move(reply), file_object));
      });
  // Room for the multipart framing around the largest file.
  upload.max_body_bytes = c->file_limits.max_upload_bytes + (64u << 10);
  routes.push_back(std::move(upload));
  routes.push_back(tenant_route(
      c->auth, "GET", "/v1/files",
      [c](const request& req, const params_t&, const std::string& tenant, reply_fn reply) {
        auto q = parse_file_query(req.query);
        if (!q)
          return reply(to_http(q.error()));
        q->tenant = tenant;
        caf::anon_send(c->files->as<actors::files_actor>(), actors::file_list_atom::value,
                       std::move(*q), reply_rendered<actors::file_page>(std::move(reply), page_of));
      }));
  routes.push_back(tenant_route(
      c->auth, "GET", "/v1/files/{id}",
      [c](const request&, const params_t& params, const std::string& tenant, reply_fn reply) {
        caf::anon_send(c->files->as<actors::files_actor>(), actors::file_get_atom::value, params[0],
                       tenant, reply_rendered<ev::file_uploaded>(std::move(reply), file_object));
      }));
  routes.push_back(tenant_route(
      c->auth, "DELETE", "/v1/files/{id}",
      [c](const request&, const params_t& params, const std::string& tenant, reply_fn reply) {
        caf::anon_send(c->files->as<actors::files_actor>(), actors::file_delete_atom::value,
                       params[0], tenant,
                       reply_rendered<actors::deleted_object>(
                           std::move(reply), [](const actors::deleted_object& d) {
                             return deletion_object(d.id, "file");
                           }));
      }));
  routes.push_back(tenant_route(
      c->auth, "GET", "/v1/files/{id}/content",
      [c](const request& req, const params_t& params, const std::string& tenant, reply_fn reply) {
        caf::anon_send(c->files->as<actors::files_actor>(), actors::file_read_atom::value,
                       params[0], tenant, stream_content(req, std::move(reply)));
      }));
  return routes;
}

} // namespace riposte::http
