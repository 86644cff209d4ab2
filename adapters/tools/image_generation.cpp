#include "adapters/tools/image_generation.hpp"

#include "adapters/crypto/base64.hpp"
#include "adapters/tools/reply_body.hpp"
#include "events/json_safe.hpp"

#include <curl/curl.h>

#include <chrono>
#include <thread>

namespace riposte::adapters::tools {

namespace {

namespace ev = events;
using json = nlohmann::json;
using clock = std::chrono::steady_clock;

struct reply {
  long status = 0;
  std::string body;
};

// One blocking HTTP call within what is left of the deadline.
ev::result<reply> call(const std::string& method, const std::string& url, const std::string& body,
                       clock::time_point deadline) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
  if (left <= 0)
    return ev::make_error(ev::riposte_errc::backend_timeout,
                          "the image provider took longer than allowed");
  CURL* curl = curl_easy_init();
  if (curl == nullptr)
    return ev::make_error(ev::riposte_errc::internal, "could not start an HTTP request");
  reply out;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_reply);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(left));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(64 << 20));
  auto code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out.status);
  curl_easy_cleanup(curl);
  curl_slist_free_all(headers);
  if (code == CURLE_OPERATION_TIMEDOUT)
    return ev::make_error(ev::riposte_errc::backend_timeout,
                          "the image provider took longer than allowed");
  if (code != CURLE_OK)
    return ev::make_error(ev::riposte_errc::backend_unavailable,
                          std::string{"the image provider did not answer: "} +
                              curl_easy_strerror(code));
  if (out.status >= 400)
    return ev::make_error(ev::riposte_errc::backend_unavailable,
                          "the image provider answered HTTP " + std::to_string(out.status) + ": " +
                              out.body.substr(0, 200));
  return out;
}

ev::result<json> call_json(const std::string& method, const std::string& url, const json& body,
                           clock::time_point deadline) {
  auto r = call(method, url, body.is_null() ? "" : events::dump_json(body), deadline);
  if (!r)
    return r.error();
  auto j = events::parse_untrusted(r->body);
  if (j.is_discarded())
    return ev::make_error(ev::riposte_errc::backend_unavailable,
                          "the image provider's answer is not JSON");
  return j;
}

int steps_for(const std::string& quality) {
  return quality == "low" ? 12 : quality == "high" ? 40 : 25;
}

// Automatic1111: one call answers the image (PNG, base64).
class a1111 final : public actors::image_provider {
public:
  a1111(std::string base, long timeout_ms)
    : base_(std::move(base))
    , timeout_ms_(timeout_ms) {}

  ev::result<actors::generated_image> generate(const actors::image_request& req) const override {
    auto deadline = clock::now() + std::chrono::milliseconds(timeout_ms_);
    auto j = call_json("POST", base_ + "/sdapi/v1/txt2img",
                       {{"prompt", req.prompt},
                        {"width", req.width},
                        {"height", req.height},
                        {"steps", steps_for(req.quality)},
                        {"batch_size", 1},
                        {"n_iter", 1}},
                       deadline);
    if (!j)
      return j.error();
    auto images = j->value("images", json::array());
    if (!images.is_array() || images.empty() || !images[0].is_string())
      return ev::make_error(ev::riposte_errc::backend_unavailable,
                            "the image provider answered no image");
    auto b64 = images[0].get<std::string>();
    if (auto comma = b64.find(','); b64.rfind("data:", 0) == 0 && comma != std::string::npos)
      b64 = b64.substr(comma + 1);
    return actors::generated_image{std::move(b64), "png", req.prompt};
  }

private:
  std::string base_;
  long timeout_ms_;
};

// ComfyUI: queue a txt2img workflow, poll its history, fetch the file.
class comfyui final : public actors::image_provider {
public:
  comfyui(std::string base, long timeout_ms, std::string checkpoint)
    : base_(std::move(base))
    , timeout_ms_(timeout_ms)
    , checkpoint_(std::move(checkpoint)) {}

  ev::result<actors::generated_image> generate(const actors::image_request& req) const override {
    auto deadline = clock::now() + std::chrono::milliseconds(timeout_ms_);
    json workflow{
        {"4", {{"class_type", "CheckpointLoaderSimple"}, {"inputs", {{"ckpt_name", checkpoint_}}}}},
        {"5",
         {{"class_type", "EmptyLatentImage"},
          {"inputs", {{"width", req.width}, {"height", req.height}, {"batch_size", 1}}}}},
        {"6",
         {{"class_type", "CLIPTextEncode"},
          {"inputs", {{"text", req.prompt}, {"clip", json::array({"4", 1})}}}}},
        {"7",
         {{"class_type", "CLIPTextEncode"},
          {"inputs", {{"text", ""}, {"clip", json::array({"4", 1})}}}}},
        {"3",
         {{"class_type", "KSampler"},
          {"inputs",
           {{"seed",
             static_cast<std::int64_t>(clock::now().time_since_epoch().count() % 1000000007)},
            {"steps", steps_for(req.quality)},
            {"cfg", 7},
            {"sampler_name", "euler"},
            {"scheduler", "normal"},
            {"denoise", 1},
            {"model", json::array({"4", 0})},
            {"positive", json::array({"6", 0})},
            {"negative", json::array({"7", 0})},
            {"latent_image", json::array({"5", 0})}}}}},
        {"8",
         {{"class_type", "VAEDecode"},
          {"inputs", {{"samples", json::array({"3", 0})}, {"vae", json::array({"4", 2})}}}}},
        {"9",
         {{"class_type", "SaveImage"},
          {"inputs", {{"filename_prefix", "riposte"}, {"images", json::array({"8", 0})}}}}}};
    auto queued = call_json("POST", base_ + "/prompt",
                            {{"prompt", workflow}, {"client_id", "riposte"}}, deadline);
    if (!queued)
      return queued.error();
    if (!queued->value("prompt_id", json()).is_string())
      return ev::make_error(ev::riposte_errc::backend_unavailable,
                            "ComfyUI did not queue the workflow: " +
                                events::excerpt(events::dump_json(*queued), 200));
    auto id = (*queued)["prompt_id"].get<std::string>();
    for (;;) {
      auto history = call_json("GET", base_ + "/history/" + id, json(), deadline);
      if (!history)
        return history.error();
      if (history->contains(id)) {
        const auto& entry = (*history)[id];
        auto status = entry.value("status", json::object());
        if (status.is_object() && status.value("status_str", "") == "error")
          return ev::make_error(ev::riposte_errc::backend_unavailable,
                                "ComfyUI failed to run the workflow");
        auto outputs = entry.value("outputs", json::object()); // (a temporary's items() dangles)
        for (const auto& [node, output] : outputs.items())
          for (const auto& image :
               output.is_object() ? output.value("images", json::array()) : json::array()) {
            auto file = call("GET", view_url(image), "", deadline);
            if (!file)
              return file.error();
            return actors::generated_image{crypto::base64_encode(file->body), "png", req.prompt};
          }
      }
      if (clock::now() + std::chrono::milliseconds(200) >= deadline)
        return ev::make_error(ev::riposte_errc::backend_timeout,
                              "the image provider took longer than allowed");
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }

private:
  std::string view_url(const json& image) const {
    CURL* curl = curl_easy_init();
    auto escape = [&](const std::string& s) {
      char* e = curl_easy_escape(curl, s.c_str(), static_cast<int>(s.size()));
      std::string out = e ? e : "";
      curl_free(e);
      return out;
    };
    auto url = base_ + "/view?filename=" + escape(image.value("filename", "")) +
               "&subfolder=" + escape(image.value("subfolder", "")) +
               "&type=" + escape(image.value("type", "output"));
    curl_easy_cleanup(curl);
    return url;
  }

  std::string base_;
  long timeout_ms_;
  std::string checkpoint_;
};

} // namespace

ev::result<std::shared_ptr<const actors::image_provider>>
make_image_provider(const std::string& spec, long timeout_ms, std::string checkpoint) {
  auto colon = spec.find(':');
  auto kind = spec.substr(0, colon);
  auto url = colon == std::string::npos ? "" : spec.substr(colon + 1);
  while (!url.empty() && url.back() == '/')
    url.pop_back();
  bool http = url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
  if (kind == "a1111" && http)
    return std::shared_ptr<const actors::image_provider>{std::make_shared<a1111>(url, timeout_ms)};
  if (kind == "comfyui" && http)
    return std::shared_ptr<const actors::image_provider>{
        std::make_shared<comfyui>(url, timeout_ms, std::move(checkpoint))};
  return ev::make_error(ev::riposte_errc::invalid_value,
                        "--image-generation must be a1111:http(s)://HOST[:PORT] or "
                        "comfyui:http(s)://HOST[:PORT], not '" +
                            spec + "'");
}

} // namespace riposte::adapters::tools
