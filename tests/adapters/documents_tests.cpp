// Reading files as text: UTF-8 as it is, PDFs through poppler, nothing else.
#include "adapters/documents/file_text.hpp"
#include "tests/support/pdf.hpp"

#include <boost/test/unit_test.hpp>

using riposte::adapters::documents::file_text;

BOOST_AUTO_TEST_CASE(pdf_pages_become_text_and_binaries_are_refused) {
  auto pdf = riposte::tests::make_pdf({"Quarterly revenue grew 12 percent", "Page two says hello"});
  auto text = file_text(pdf, "report.pdf");
  BOOST_REQUIRE_MESSAGE(text.has_value(), (text ? std::string{} : text.error().message));
  BOOST_TEST(text->find("Quarterly revenue grew 12 percent") != std::string::npos, *text);
  BOOST_TEST(text->find("Page two says hello") != std::string::npos, *text);
  BOOST_TEST(text->find("revenue") < text->find("Page two"));

  BOOST_TEST(file_text("a,b\n1,2\n", "t.csv").value() == "a,b\n1,2\n");
  BOOST_TEST(file_text("héllo — ✓", "u.md").value() == "héllo — ✓");
  BOOST_TEST(!file_text(std::string("\x89PNG\r\n\x1a\n\0\0", 10), "x.png").has_value());
  BOOST_TEST(!file_text("\xff\xfe", "bad.txt").has_value());
  BOOST_TEST(!file_text("%PDF-1.4 but not really", "broken.pdf").has_value());
}
