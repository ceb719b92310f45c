// The client's history and delivery receipts (client/history.hpp): sends
// and receptions recorded in the profile, receipts sent to contacts after
// each batch of messages, and receipts received moving sent messages to
// `delivered`.
//
// A receipt is a version 2 message with content flag 04 (docs/ENVELOPE.md):
// its body is count (1) || message ID (16) * count, at most
// max_receipt_ids IDs, the IDs of the sender's messages this client handed
// over. Only contacts get receipts (a stranger learns nothing from writing
// to an account), and only for messages that came in version 2 (a
// conversation to answer on).
#include "client/client_impl.hpp"

namespace nightjar::client {

void Client::Impl::load_history() {
  if (options.profile_dir.empty() || !options.keep_history) return;
  auto h = History::open(profile_file("history"), identity, options.history_limits,
                         options.clock.unix_ms());
  if (!h) {
    notice("the message history could not be opened, so this run keeps none: " + h.error());
    return;
  }
  if (h->damaged_records() > 0)
    notice(std::to_string(h->damaged_records()) + " records of the message history did not open");
  history = std::move(*h);
}

std::optional<std::uint64_t> Client::Impl::record_sent(const ConversationKey& c, Bytes text) {
  if (!options.keep_history || options.profile_dir.empty()) return std::nullopt;
  HistoryEntry e;
  e.conversation = c;
  e.outgoing = true;
  e.sender = identity.account();
  e.sent_ms = now_ms();
  e.recorded_ms = options.clock.unix_ms();
  e.state = DeliveryState::sending;
  e.state_ms = e.recorded_ms;
  e.text.assign(text.begin(), text.end());
  auto seq = history.add(std::move(e));
  if (!seq) {
    log->error("cannot record a sent message: {}", seq.error());
    return std::nullopt;
  }
  return *seq;
}

void Client::Impl::record_outcome(std::optional<std::uint64_t> seq,
                                  const Result<SendReceipt, SendFailure>& r) {
  if (!seq) return;
  const std::uint64_t now = options.clock.unix_ms();
  Result<bool, std::string> moved = false;
  if (r) {
    moved = history.set_state(*seq, DeliveryState::stored, now, {}, r->message_id);
    const HistoryEntry* e = history.entry(*seq);
    if (moved && e) {
      auto waiting = early_receipts.find({e->conversation, r->message_id});
      if (waiting != early_receipts.end()) {
        early_receipts.erase(waiting);
        if (options.on_delivery_state) options.on_delivery_state(*e);
        moved = history.set_state(*seq, DeliveryState::delivered, now);
      }
    }
  } else {
    std::string why = to_string(r.error().error);
    if (!r.error().detail.empty()) why += ": " + r.error().detail;
    moved = history.set_state(*seq, DeliveryState::failed, now, why);
  }
  if (!moved) return log->error("cannot record a message's state: {}", moved.error());
  if (auto f = history.flush(); !f) log->error("cannot save the history: {}", f.error());
  if (*moved && options.on_delivery_state)
    if (const HistoryEntry* e = history.entry(*seq)) options.on_delivery_state(*e);
}

void Client::Impl::record_received(const ReceivedMessage& m) {
  if (options.keep_history && !options.profile_dir.empty()) {
    HistoryEntry e;
    e.conversation = m.group ? ConversationKey{true, *m.group} : ConversationKey{false, m.sender};
    e.sender = m.sender;
    e.message_id = m.message_id;
    e.sent_ms = m.timestamp_ms;
    e.recorded_ms = options.clock.unix_ms();
    e.state = DeliveryState::received;
    e.state_ms = e.recorded_ms;
    e.text = m.text;
    e.request = m.request;
    if (auto r = history.add(std::move(e)); !r) log->error("cannot record a message: {}", r.error());
  }
  if (options.delivery_receipts && !m.group && m.forward_secret && contacts_error.empty() &&
      contacts.standing(m.sender) == Standing::contact)
    receipts_due[m.sender].push_back(m.message_id);
}

void Client::Impl::handle_receipt(const ReceivedMessage& m) {
  ++stats.receipts_received;
  auto ids = parse_receipt(m.text);
  if (!ids) {
    log->debug("a malformed delivery receipt was ignored");
    return;
  }
  const ConversationKey c{false, m.sender};
  const std::uint64_t now = options.clock.unix_ms();
  bool changed = false;
  for (const MessageId& id : *ids) {
    auto seq = history.find_sent(c, id);
    if (!seq) {
      // Perhaps sent by this run and not acknowledged yet.
      if (early_receipts.size() < 1000) early_receipts[{c, id}] = now;
      continue;
    }
    auto moved = history.set_state(*seq, DeliveryState::delivered, now);
    if (!moved) {
      log->error("cannot record a delivery: {}", moved.error());
      continue;
    }
    if (!*moved) continue;
    changed = true;
    if (options.on_delivery_state)
      if (const HistoryEntry* e = history.entry(*seq)) options.on_delivery_state(*e);
  }
  if (changed)
    if (auto f = history.flush(); !f) log->error("cannot save the history: {}", f.error());
}

void Client::Impl::after_batch() {
  // Durable before the cursors that skip these messages are saved.
  if (auto f = history.flush(); !f) log->error("cannot save the history: {}", f.error());
  save_contacts();
  auto due = std::move(receipts_due);
  receipts_due.clear();
  for (auto& [peer, ids] : due) {
    if (!conversations.count(peer)) continue;
    for (std::size_t at = 0; at < ids.size(); at += max_receipt_ids) {
      const std::size_t n = std::min(max_receipt_ids, ids.size() - at);
      const auto body = encode_receipt(std::vector<MessageId>(ids.begin() + static_cast<std::ptrdiff_t>(at),
                                                              ids.begin() + static_cast<std::ptrdiff_t>(at + n)));
      ++stats.receipts_sent;
      ++receipts_in_flight;
      seal_and_send_v2(peer, body, [this](Result<SendReceipt, SendFailure> r) {
        if (!r) log->debug("a delivery receipt was not sent: {}", r.error().detail);
        if (--receipts_in_flight > 0) return;
        auto waiters = std::move(receipt_waiters);
        receipt_waiters.clear();
        for (auto& w : waiters) w();
      }, v2::flag_receipt);
    }
  }
}

const History& Client::history() const {
  return impl_->history;
}

Result<void, std::string> Client::mark_read(const ConversationKey& conversation) {
  auto r = impl_->history.mark_read(conversation);
  if (!r) return r;
  return impl_->history.flush();
}

Result<void, std::string> Client::erase_history() {
  return impl_->history.erase();
}

}  // namespace nightjar::client
