#include "adapters/documents/file_text.hpp"

#include "adapters/crypto/base64.hpp"
#include "events/json_safe.hpp"

#include <poppler/cpp/poppler-document.h>
#include <poppler/cpp/poppler-global.h>
#include <poppler/cpp/poppler-page.h>

#include <memory>

namespace riposte::adapters::documents {

namespace {

namespace ev = events;
using ev::riposte_errc;

// Text a model can read: well-formed UTF-8 (no overlong forms, no
// surrogates) without NUL bytes.
bool readable_text(std::string_view s) {
  return s.find('\0') == std::string_view::npos && ev::valid_utf8(s);
}

} // namespace

// Inline file data: a data URL ("data:<type>;base64,<data>") or bare base64.
bool decode_file_data(const std::string& data, std::string& out) {
  std::string_view text{data};
  if (text.substr(0, 5) == "data:") {
    auto comma = text.find(',');
    if (comma == std::string_view::npos)
      return false;
    auto header = text.substr(5, comma - 5); // "<type>[;param]*;base64"
    constexpr std::string_view marker = ";base64";
    return header.size() >= marker.size() &&
           header.substr(header.size() - marker.size()) == marker &&
           crypto::base64_decode(text.substr(comma + 1), out);
  }
  return crypto::base64_decode(text, out);
}

ev::result<std::string> file_text(std::string_view bytes, const std::string& filename) {
  if (bytes.substr(0, 5) == "%PDF-") {
    // Poppler's complaints about a broken PDF go to stderr unless told
    // otherwise; the error value says it all.
    static const bool quiet = [] {
      poppler::set_debug_error_function([](const std::string&, void*) {}, nullptr);
      return true;
    }();
    (void)quiet;
    std::unique_ptr<poppler::document> doc{
        poppler::document::load_from_raw_data(bytes.data(), static_cast<int>(bytes.size()))};
    if (!doc || doc->is_locked())
      return ev::make_error(riposte_errc::invalid_value,
                            "The PDF '" + ev::excerpt(filename, 128) + "' could not be opened.");
    std::string text;
    for (int i = 0; i < doc->pages(); ++i) {
      std::unique_ptr<poppler::page> page{doc->create_page(i)};
      if (!page)
        continue;
      auto utf8 = page->text().to_utf8();
      if (i > 0)
        text += "\n\f\n"; // a page break the model can see
      text.append(utf8.begin(), utf8.end());
    }
    return ev::scrub_utf8(text); // what poppler makes of a broken PDF may not be
  }
  if (!readable_text(bytes))
    return ev::make_error(riposte_errc::unsupported_parameter,
                          "The file '" + ev::excerpt(filename, 128) +
                              "' is neither text nor a PDF; riposte reads text, Markdown, JSON, "
                              "CSV, code and PDF files.");
  return std::string{bytes};
}

} // namespace riposte::adapters::documents
