// API keys to tenants. With no keys configured riposte is open and every
// request belongs to the one local tenant.
#pragma once

#include "events/errc.hpp"
#include "http/server.hpp"

#include <string>
#include <unordered_map>

namespace riposte::http {

class authenticator {
public:
  // key -> tenant
  explicit authenticator(std::unordered_map<std::string, std::string> keys,
                         std::string admin_key = {})
    : keys_(std::move(keys))
    , admin_key_(std::move(admin_key)) {}

  // Operators only: the admin key, or anyone when riposte runs open.
  events::status check_admin(const request& req) const;

  bool open() const { return keys_.empty(); }

  // The tenant of the request's `Authorization: Bearer KEY`, or 401.
  // Also notes the tenant on the request, for its log line.
  events::result<std::string> tenant_of(const request& req) const;

  static constexpr const char* local_tenant = "local";

private:
  std::unordered_map<std::string, std::string> keys_;
  std::string admin_key_;
};

} // namespace riposte::http
