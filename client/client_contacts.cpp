// The client's contact book (client/contacts.hpp): loaded with the profile,
// consulted for every message handed over, saved when it changes.
#include "client/client_impl.hpp"

namespace nightjar::client {

void Client::Impl::load_contacts() {
  if (options.profile_dir.empty()) return;
  auto book = ContactBook::load(profile_file("contacts"), identity);
  if (!book) {
    contacts_error = book.error();
    notice("the contact book could not be read, so it is not used (nor changed) by this run: " +
           book.error());
    return;
  }
  contacts = std::move(*book);
}

bool Client::Impl::admit(ReceivedMessage& m) {
  if (!contacts_error.empty()) return true;
  if (m.group) {
    if (contacts.standing(m.sender) != Standing::blocked) return true;
    ++stats.blocked_dropped;
    return false;
  }
  const Standing before = contacts.standing(m.sender);
  if (!contacts.note_message_from(m.sender, options.clock.unix_ms())) {
    ++stats.blocked_dropped;
    return false;
  }
  if (before != Standing::contact) {
    m.request = true;
    contacts_dirty = true;
  }
  return true;
}

void Client::Impl::save_contacts() {
  if (!contacts_dirty || !contacts_error.empty()) return;
  contacts_dirty = false;
  if (auto r = contacts.save(); !r) log->error("cannot save the contact book: {}", r.error());
}

const ContactBook& Client::contacts() const {
  return impl_->contacts;
}

Result<void, std::string> Client::change_contacts(
    const std::function<Result<void, std::string>(ContactBook&)>& change) {
  Impl& m = *impl_;
  if (!m.contacts_error.empty()) return fail("the contact book could not be read: " + m.contacts_error);
  ContactBook copy = m.contacts;
  if (auto r = change(copy); !r) return r;
  if (auto r = copy.save(); !r) return fail("cannot save the contact book: " + r.error());
  m.contacts = std::move(copy);
  return {};
}

}  // namespace nightjar::client
