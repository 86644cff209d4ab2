// JSON Schema through valijson (libvalijson-dev): schemas are compiled once
// and report what is wrong with a document, path by path.
#pragma once

#include "events/errc.hpp"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace valijson {
class Schema;
}

namespace riposte::adapters::schema {

class json_schema {
public:
  // An invalid schema is an error value saying why.
  static events::result<json_schema> compile(const nlohmann::json& schema);

  // What `doc` breaks, at most `max` findings, each "at /path: why"; empty
  // when it conforms.
  std::vector<std::string> violations(const nlohmann::json& doc, std::size_t max = 5) const;

private:
  std::shared_ptr<const valijson::Schema> schema_;
};

// The structured-output check of a finished response's text under the
// request's `text.format` (json_schema or json_object): an empty string when
// it conforms (or no format asks for JSON), else what is wrong.
std::string check_structured_output(const nlohmann::json& format, const json_schema* schema,
                                    const std::string& text);

// Whether a function's `parameters` schema meets strict mode's rules, so
// that a function tool sent without `strict` is strict (the API's rule: it
// tries strict validation when the schema is compatible and falls back to
// non-strict otherwise). Compatible: null (no parameters), or an object
// schema in which every object closes itself (`additionalProperties: false`)
// and requires every property it names, all the way down (properties, items,
// anyOf, allOf, $defs, definitions).
bool strict_compatible(const nlohmann::json& schema);

} // namespace riposte::adapters::schema
