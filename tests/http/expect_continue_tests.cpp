// Which first requests are answered with `100 Continue` before their body
// (http/expect_continue.hpp).
#include "http/expect_continue.hpp"

#include <boost/test/unit_test.hpp>

#include <string>

using riposte::http::expect_scanner;

BOOST_AUTO_TEST_SUITE(expect_continue)

const std::string curl_upload = "POST /v1/files HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
                                "Content-Length: 2000000\r\nExpect: 100-continue\r\n\r\n";

BOOST_AUTO_TEST_CASE(a_first_block_that_asks_is_answered_once_where_it_ends) {
  expect_scanner s;
  BOOST_TEST(s.feed(curl_upload));
  BOOST_TEST(s.done());
  BOOST_TEST(!s.feed("the body, then another request: " + curl_upload));
}

BOOST_AUTO_TEST_CASE(a_block_read_a_byte_at_a_time_is_answered_at_its_last_byte) {
  expect_scanner s;
  for (std::size_t i = 0; i + 1 < curl_upload.size(); ++i)
    BOOST_TEST(!s.feed(curl_upload.substr(i, 1)), i);
  BOOST_TEST(s.feed(curl_upload.substr(curl_upload.size() - 1)));
}

BOOST_AUTO_TEST_CASE(names_and_values_are_matched_without_case_and_around_blanks) {
  expect_scanner s;
  BOOST_TEST(s.feed("\r\nPUT /x HTTP/1.1\nEXPECT:\t 100-Continue \n\n"));
}

BOOST_AUTO_TEST_CASE(what_does_not_ask_or_already_sent_its_body_is_not_answered) {
  expect_scanner plain;
  BOOST_TEST(!plain.feed("GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"));
  BOOST_TEST(plain.done());
  expect_scanner body_came;
  BOOST_TEST(!body_came.feed(curl_upload + "{"));
  expect_scanner other_value;
  BOOST_TEST(!other_value.feed("POST / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n"));
  expect_scanner in_a_value; // only a header named Expect counts
  BOOST_TEST(!in_a_value.feed("POST / HTTP/1.1\r\nX-Note: Expect: 100-continue\r\n\r\n"));
  expect_scanner request_line; // the request line is not a header
  BOOST_TEST(!request_line.feed("Expect: 100-continue\r\n\r\n"));
}

BOOST_AUTO_TEST_CASE(a_block_past_the_limit_is_given_up_on) {
  expect_scanner s;
  std::string block = "POST / HTTP/1.1\r\n";
  while (block.size() <= expect_scanner::max_block)
    block += "X-Padding: " + std::string(100, 'p') + "\r\n";
  BOOST_TEST(!s.feed(block));
  BOOST_TEST(s.done());
  BOOST_TEST(!s.feed("Expect: 100-continue\r\n\r\n"));
}

BOOST_AUTO_TEST_SUITE_END()
