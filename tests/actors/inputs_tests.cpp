// Which input parts need resolving before the model reads them.
#include "actors/response/inputs.hpp"

#include <boost/test/unit_test.hpp>

using riposte::actors::has_references;
using json = nlohmann::json;

BOOST_AUTO_TEST_CASE(only_file_parts_and_images_by_id_need_resolving) {
  auto msg = [](json part) {
    return json::array({{{"type", "message"}, {"role", "user"}, {"content", {part}}}});
  };
  BOOST_TEST(!has_references(msg({{"type", "input_text"}, {"text", "x"}})));
  BOOST_TEST(
      !has_references(msg({{"type", "input_image"}, {"image_url", "data:image/png;base64,AA=="}})));
  BOOST_TEST(has_references(msg({{"type", "input_image"}, {"file_id", "file-1"}})));
  BOOST_TEST(
      has_references(msg({{"type", "input_file"}, {"file_data", "aGk="}, {"filename", "a"}})));
}
