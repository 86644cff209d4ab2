// Bearer-key authentication.
#include "http/auth.hpp"

namespace riposte::http {

events::status authenticator::check_admin(const request& req) const {
  if (open() && admin_key_.empty())
    return events::ok();
  auto header = req.header("authorization");
  if (!admin_key_.empty() && header && *header == "Bearer " + admin_key_)
    return events::ok();
  if (!header)
    return events::make_error(events::riposte_errc::invalid_api_key,
                              "You didn't provide an API key. The audit feed needs the admin key.");
  return events::make_error(events::riposte_errc::permission_denied,
                            "The audit feed is for the operator's admin key only.");
}

events::result<std::string> authenticator::tenant_of(const request& req) const {
  if (open()) {
    req.note->tenant = local_tenant;
    return std::string{local_tenant};
  }
  auto header = req.header("authorization");
  const std::string prefix = "Bearer ";
  if (!header || header->size() <= prefix.size() || header->compare(0, prefix.size(), prefix) != 0)
    return events::make_error(events::riposte_errc::invalid_api_key,
                              "You didn't provide an API key. You need to provide your API key "
                              "in an Authorization header using Bearer auth (i.e. "
                              "Authorization: Bearer YOUR_KEY).");
  auto key = header->substr(prefix.size());
  auto it = keys_.find(key);
  if (it == keys_.end()) {
    auto shown = key.size() > 8 ? key.substr(0, 4) + "..." + key.substr(key.size() - 4) : "***";
    return events::make_error(events::riposte_errc::invalid_api_key,
                              "Incorrect API key provided: " + shown + ".");
  }
  req.note->tenant = it->second;
  return it->second;
}

} // namespace riposte::http
