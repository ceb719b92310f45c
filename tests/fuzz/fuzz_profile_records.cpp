// Fuzzes the parsers of what the client keeps about conversations: a
// delivery receipt's body (client/history.hpp parse_receipt, from whatever a
// correspondent sends in a version 2 message with flag 04), one record of
// the message history log (History::check_record, what the profile file
// holds once opened) and the contact book's bytes (ContactBook::decode).
//
// Input layout: byte 0 mode, the rest the data.
//   mode % 3 == 0  parse_receipt on the data
//   mode % 3 == 1  History::check_record on the data
//   mode % 3 == 2  ContactBook::decode on the data
//
// Invariants (trap on violation):
//   - nothing crashes or reads out of bounds
//   - a receipt that parses holds 1 to max_receipt_ids IDs and re-encodes
//     to exactly the input
//   - a contact book that decodes re-encodes to exactly the input, and its
//     contacts' names are good names
#include <cstddef>
#include <cstdint>

#include "client/contacts.hpp"
#include "client/history.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace nightjar;
using namespace nightjar::client;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t mode = data[0] % 3;
  const Bytes rest(data + 1, size - 1);
  if (mode == 0) {
    if (auto ids = parse_receipt(rest)) {
      CHECK(!ids->empty() && ids->size() <= max_receipt_ids);
      const auto again = encode_receipt(*ids);
      CHECK(again.size() == rest.size() && std::equal(again.begin(), again.end(), rest.begin()));
    }
  } else if (mode == 1) {
    (void)History::check_record(rest);
  } else {
    if (auto book = ContactBook::decode(rest)) {
      const auto again = book->encode();
      CHECK(again.size() == rest.size() && std::equal(again.begin(), again.end(), rest.begin()));
      for (const auto& c : book->contacts()) CHECK(!contact_name_problem(c.name));
    }
  }
  return 0;
}
