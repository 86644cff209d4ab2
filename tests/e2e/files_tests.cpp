// End to end: the Files API. Malformed forms, quotas, expiry by appended
// events, and files that outlive a restart.
#include "tests/support/backend_wire.hpp"
#include "tests/support/forms.hpp"
#include "tests/support/pdf.hpp"
#include "tests/support/servers.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <thread>

using json = nlohmann::json;
using namespace riposte::tests;
using namespace std::chrono_literals;

namespace {


void expect_error(const http_result& res, long status, const json& param) {
  BOOST_TEST(res.status == status, res.body);
  auto j = json::parse(res.body, nullptr, false);
  BOOST_REQUIRE_MESSAGE(j.is_object() && j.contains("error"), res.body);
  BOOST_TEST(j["error"]["param"] == param, res.body);
}

double file_bytes_metric(riposte_server& r) {
  return series(r.get("/metrics").body, "riposte_file_bytes_stored");
}

} // namespace

BOOST_AUTO_TEST_SUITE(files)

BOOST_AUTO_TEST_CASE(malformed_and_incomplete_uploads_are_refused_and_store_nothing) {
  scripted_backend b;
  riposte_server r{b.url(), {"--max-upload-bytes", "1000"}};
  expect_error(upload(r, form({{"purpose", "user_data"}})), 400, "file");
  expect_error(upload(r, form({{"file", "abc", "a.txt"}})), 400, "purpose");
  expect_error(upload(r, form({{"file", "abc", "a.txt"}, {"purpose", "training"}})), 400,
               "purpose");
  expect_error(upload(r, form({{"file", "", "a.txt"}, {"purpose", "user_data"}})), 400, "file");
  expect_error(upload(r, form({{"file", "abc"}, {"purpose", "user_data"}})), 400, "file");
  expect_error(
      upload(r, form({{"file", std::string(1001, 'x'), "a.txt"}, {"purpose", "user_data"}})), 413,
      "file");
  expect_error(upload(r, form({{"file", "abc", "a.txt"},
                               {"purpose", "user_data"},
                               {"expires_after[anchor]", "created_at"},
                               {"expires_after[seconds]", "60"}})),
               400, "expires_after.seconds");
  // Not a form at all, a cut-off form, a form without a boundary.
  expect_error(upload(r, "just bytes"), 400, nullptr);
  auto cut = form({{"file", "abc", "a.txt"}, {"purpose", "user_data"}});
  expect_error(upload(r, cut.substr(0, 20)), 400, nullptr);
  expect_error(http_call("POST", r.url("/v1/files"), cut, {"Content-Type: multipart/form-data"}),
               400, nullptr);
  auto listed = json::parse(r.get("/v1/files").body);
  BOOST_TEST(listed["data"].empty());
  BOOST_TEST(file_bytes_metric(r) == 0.0);
}

BOOST_AUTO_TEST_CASE(a_tenant_quota_caps_stored_bytes_and_deletes_free_them) {
  scripted_backend b;
  riposte_server r{b.url(),
                   {"--tenant-quota-bytes", "100", "--api-key", "ka:alice", "--api-key", "kb:bob"}};
  auto put = [&](const std::string& key, std::size_t n) {
    return upload(r, form({{"file", std::string(n, 'q'), "q.txt"}, {"purpose", "user_data"}}),
                  {"Authorization: Bearer " + key});
  };
  auto first = put("ka", 60);
  BOOST_REQUIRE_EQUAL(first.status, 200);
  expect_error(put("ka", 41), 413, "file");
  BOOST_TEST(put("kb", 100).status == 200); // quotas are per tenant
  BOOST_TEST(file_bytes_metric(r) == 160.0);
  auto id = json::parse(first.body)["id"].get<std::string>();
  BOOST_TEST(
      http_call("DELETE", r.url("/v1/files/" + id), "", {"Authorization: Bearer ka"}).status ==
      200);
  BOOST_TEST(put("ka", 100).status == 200);
  BOOST_TEST(file_bytes_metric(r) == 200.0);
}

BOOST_AUTO_TEST_CASE(expired_files_disappear_by_an_appended_event) {
  scripted_backend b;
  riposte_server r{b.url(), {"--min-file-expiry-seconds", "1"}};
  auto made = upload(r, form({{"file", "short-lived", "s.txt"},
                              {"purpose", "user_data"},
                              {"expires_after[anchor]", "created_at"},
                              {"expires_after[seconds]", "1"}}));
  BOOST_REQUIRE_EQUAL(made.status, 200);
  auto file = json::parse(made.body);
  BOOST_TEST(file["expires_at"] == file["created_at"].get<std::int64_t>() + 1);
  auto id = file["id"].get<std::string>();
  BOOST_TEST(r.get("/v1/files/" + id).status == 200);
  std::this_thread::sleep_for(2100ms);
  expect_error(r.get("/v1/files/" + id), 404, "file_id");
  BOOST_TEST(json::parse(r.get("/v1/files").body)["data"].empty());
  // The expiry is a fact in the file's stream.
  auto feed = json::parse(r.get("/v1/audit/events?limit=1000").body);
  bool deleted = false;
  for (const auto& e : feed["data"])
    deleted = deleted || (e["type"] == "file_deleted" && e["stream"] == id);
  BOOST_TEST(deleted);
  BOOST_TEST(file_bytes_metric(r) == 0.0);
}

BOOST_AUTO_TEST_CASE(files_outlive_a_restart_byte_for_byte) {
  scripted_backend b;
  riposte_server r{b.url()};
  std::string bytes;
  for (int i = 0; i < 3'000'000; ++i)
    bytes.push_back(static_cast<char>((i * 31) % 256));
  auto made = upload(r, form({{"file", bytes, "blob.bin"}, {"purpose", "batch"}}));
  BOOST_REQUIRE_EQUAL(made.status, 200);
  auto id = json::parse(made.body)["id"].get<std::string>();
  r.restart();
  auto content = r.get("/v1/files/" + id + "/content");
  BOOST_TEST(content.status == 200);
  BOOST_TEST(content.header("content-type") == "application/octet-stream");
  BOOST_TEST(content.body.size() == bytes.size());
  BOOST_TEST((content.body == bytes));
  BOOST_TEST(file_bytes_metric(r) == static_cast<double>(bytes.size()));
  BOOST_TEST(json::parse(r.get("/v1/files/" + id).body)["bytes"] == bytes.size());
}

BOOST_AUTO_TEST_CASE(files_and_images_by_reference_reach_the_model_as_it_can_read_them) {
  scripted_backend b;
  riposte_server r{b.url(), {"--api-key", "ka:alice", "--api-key", "kb:bob"}};
  const std::string alice = "Authorization: Bearer ka";
  auto put = [&](const std::string& name, const std::string& bytes, const std::string& key) {
    auto res = upload(r, form({{"file", bytes, name}, {"purpose", "user_data"}}),
                      {"Authorization: Bearer " + key});
    BOOST_REQUIRE_EQUAL(res.status, 200);
    return json::parse(res.body)["id"].get<std::string>();
  };
  auto notes = put("notes.md", "# Plan\nShip on Friday.\n", "ka");
  auto report = put("report.pdf", make_pdf({"Revenue grew 12 percent"}), "ka");
  std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + "pixels";
  auto picture = put("cat.png", png, "ka");
  auto bobs = put("secret.txt", "bob only", "kb");
  auto ask = [&](const std::string& model, json parts, const std::string& key) {
    parts.insert(parts.begin(), json{{"type", "input_text"}, {"text", "summarize"}});
    return r.post("/v1/responses",
                  {{"model", model}, {"input", {{{"role", "user"}, {"content", parts}}}}},
                  {"Authorization: Bearer " + key});
  };

  auto read = ask("llama3.2:1b",
                  {{{"type", "input_file"}, {"file_id", notes}},
                   {{"type", "input_file"}, {"file_id", report}},
                   {{"type", "input_file"},
                    {"filename", "inline.csv"},
                    {"file_data", "data:text/csv;base64,YSxiCjEsMgo="}}},
                  "ka");
  BOOST_TEST(read.status == 200, read.body);
  auto said = b.requests().back()["messages"].back()["content"].get<std::string>();
  BOOST_TEST(said.find("<file name=\"notes.md\">\n# Plan\nShip on Friday.") != std::string::npos,
             said);
  BOOST_TEST(said.find("Revenue grew 12 percent") != std::string::npos, said);
  BOOST_TEST(said.find("<file name=\"inline.csv\">\na,b\n1,2") != std::string::npos, said);
  // The stored input keeps the references as sent.
  auto id = json::parse(read.body)["id"].get<std::string>();
  auto items = json::parse(r.get("/v1/responses/" + id + "/input_items", {alice}).body);
  BOOST_TEST(items["data"][0]["content"][1]["file_id"] == notes);
  // A follow-up still shows the model the files of the earlier turn.
  auto follow =
      r.post("/v1/responses",
             {{"model", "llama3.2:1b"}, {"previous_response_id", id}, {"input", "when?"}}, {alice});
  BOOST_TEST(follow.status == 200, follow.body);
  auto history = b.requests().back()["messages"][0]["content"].get<std::string>();
  BOOST_TEST(history.find("Ship on Friday.") != std::string::npos, history);

  // An image by file_id reaches a vision model as base64; a text model refuses it.
  auto seen = ask("llava:7b", {{{"type", "input_image"}, {"file_id", picture}}}, "ka");
  BOOST_TEST(seen.status == 200, seen.body);
  BOOST_TEST(wire::images(b.requests().back()["messages"].back()).at(0) == "iVBORw0KGgpwaXhlbHM=");
  if (wire::native()) { // (a Chat Completions server does not say what a model can do)
    auto blind = ask("llama3.2:1b", {{{"type", "input_image"}, {"file_id", picture}}}, "ka");
    expect_error(blind, 400, "input[0].content[1]");
    BOOST_TEST(json::parse(blind.body)["error"]["code"] == "unsupported_model_capability");
  }

  // Another tenant's file, a missing one, a binary as text, bad inline data.
  expect_error(ask("llama3.2:1b", {{{"type", "input_file"}, {"file_id", bobs}}}, "ka"), 404,
               "input[0].content[1].file_id");
  expect_error(ask("llama3.2:1b", {{{"type", "input_file"}, {"file_id", "file-nope"}}}, "ka"), 404,
               "input[0].content[1].file_id");
  expect_error(ask("llama3.2:1b", {{{"type", "input_file"}, {"file_id", picture}}}, "ka"), 400,
               "input[0].content[1]");
  expect_error(ask("llama3.2:1b",
                   {{{"type", "input_file"}, {"filename", "x.txt"}, {"file_data", "%%%"}}}, "ka"),
               400, "input[0].content[1].file_data");
  expect_error(ask("llama3.2:1b", {{{"type", "input_file"}, {"file_data", "aGk="}}}, "ka"), 400,
               "input[0].content[1].filename");
}

BOOST_AUTO_TEST_CASE(urls_are_fetched_only_where_the_guard_allows) {
  scripted_backend b;
  auto here = b.url(); // http://127.0.0.1:PORT
  auto port = here.substr(here.rfind(':') + 1);
  b.set_script(
      {{"static",
        {{"/cat.png", {{"body_hex", "89504e470d0a1a0a776562"}, {"content_type", "image/png"}}},
         {"/notes.txt", {{"body", "remember the milk"}, {"content_type", "text/plain"}}},
         {"/hop", {{"status", 302}, {"location", here + "/_static/cat.png"}}},
         {"/sneaky",
          {{"status", 302}, {"location", "http://127.0.0.2:" + port + "/_static/cat.png"}}},
         {"/loop", {{"status", 302}, {"location", here + "/_static/loop"}}},
         {"/huge", {{"repeat", 40u << 20}}}}}});
  auto ask = [&](riposte_server& r, const std::string& model, json part) {
    return r.post(
        "/v1/responses",
        {{"model", model},
         {"input",
          {{{"role", "user"}, {"content", {{{"type", "input_text"}, {"text", "look"}}, part}}}}}});
  };
  json image{{"type", "input_image"}, {"image_url", here + "/_static/cat.png"}};

  // Loopback is off limits by default: refused before any connection.
  riposte_server closed{b.url()};
  auto refused = ask(closed, "llava:7b", image);
  expect_error(refused, 400, "input[0].content[1].image_url");
  BOOST_TEST(json::parse(refused.body)["error"]["message"].get<std::string>().find("loopback") !=
             std::string::npos);

  riposte_server open{b.url(), {"--fetch-allow", "127.0.0.1/32"}};
  BOOST_TEST(ask(open, "llava:7b", image).status == 200);
  BOOST_TEST(wire::images(b.requests().back()["messages"].back()).at(0) == "iVBORw0KGgp3ZWI=");
  // Redirects are followed by hand, each hop checked again.
  image["image_url"] = here + "/_static/hop";
  BOOST_TEST(ask(open, "llava:7b", image).status == 200);
  image["image_url"] = here + "/_static/sneaky";
  expect_error(ask(open, "llava:7b", image), 400, "input[0].content[1].image_url");
  image["image_url"] = here + "/_static/loop";
  expect_error(ask(open, "llava:7b", image), 400, "input[0].content[1].image_url");
  image["image_url"] = here + "/_static/huge";
  expect_error(ask(open, "llava:7b", image), 400, "input[0].content[1].image_url");
  image["image_url"] = here + "/_static/missing.png";
  expect_error(ask(open, "llava:7b", image), 400, "input[0].content[1].image_url");

  auto text =
      ask(open, "llama3.2:1b", {{"type", "input_file"}, {"file_url", here + "/_static/notes.txt"}});
  BOOST_TEST(text.status == 200, text.body);
  BOOST_TEST(b.requests().back()["messages"].back()["content"].get<std::string>().find(
                 "<file name=\"notes.txt\">\nremember the milk") != std::string::npos);
  expect_error(ask(open, "llama3.2:1b", {{"type", "input_file"}, {"file_url", "ftp://x/y"}}), 400,
               "input[0].content[1].file_url");
}

BOOST_AUTO_TEST_SUITE_END()
