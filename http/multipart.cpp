// The second translation unit that sees RESTinio, and only its helpers.
#include "http/multipart.hpp"

#include <restinio/helpers/http_field_parsers/content-disposition.hpp>
#include <restinio/helpers/http_field_parsers/content-type.hpp>
#include <restinio/helpers/multipart_body.hpp>

namespace riposte::http {

namespace {

events::error_info bad_form(std::string why) {
  return events::make_error(events::riposte_errc::invalid_request,
                            "The body must be multipart/form-data: " + std::move(why));
}

} // namespace

events::result<std::vector<form_part>> parse_form_data(const std::string& content_type,
                                                       std::string_view body) {
  namespace hfp = restinio::http_field_parsers;
  namespace mp = restinio::multipart_body;
  auto type = hfp::content_type_value_t::try_parse(content_type);
  if (!type || !restinio::impl::is_equal_caseless(type->media_type.type, "multipart") ||
      !restinio::impl::is_equal_caseless(type->media_type.subtype, "form-data"))
    return bad_form("Content-Type is '" + content_type + "'.");
  auto boundary = hfp::find_first(type->media_type.parameters, "boundary");
  if (!boundary || boundary->empty())
    return bad_form("Content-Type has no boundary.");
  auto delimiter = "--" + std::string{*boundary};
  auto raw_parts = mp::split_multipart_body(body, delimiter);
  if (raw_parts.empty())
    return bad_form("no parts found (is the boundary right, and is the body complete?).");
  std::vector<form_part> parts;
  for (auto raw : raw_parts) {
    auto part = mp::try_parse_part(raw);
    if (!part)
      return bad_form("a part could not be parsed.");
    auto disposition = part->fields.opt_value_of(restinio::http_field::content_disposition);
    if (!disposition)
      return bad_form("a part has no Content-Disposition.");
    auto cd = hfp::content_disposition_value_t::try_parse(*disposition);
    if (!cd || cd->value != "form-data")
      return bad_form("a part's Content-Disposition is not form-data.");
    form_part out;
    if (auto name = hfp::find_first(cd->parameters, "name"))
      out.name = std::string{*name};
    if (auto filename = hfp::find_first(cd->parameters, "filename"))
      out.filename = std::string{*filename};
    if (auto ct = part->fields.opt_value_of(restinio::http_field::content_type))
      out.content_type = std::string{*ct};
    out.body = std::string_view{part->body.data(), part->body.size()};
    parts.push_back(std::move(out));
  }
  return parts;
}

} // namespace riposte::http
