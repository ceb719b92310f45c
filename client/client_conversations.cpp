// Version 2 (forward-secret, deniable) messages in the client
// (client/client.hpp): each peer's conversation (client/conversation.hpp),
// kept in the profile (ConversationStore) and saved before a sealed message
// leaves or a received one is shown; a conversation started from the peer's
// published bundle; version 1 for a peer that has none.
#include <algorithm>

#include "client/client_impl.hpp"

namespace nightjar::client {

namespace {
// A lost conversation is started again at most this often per peer (a
// stream of messages that do not open must not start a stream of sessions).
constexpr std::uint64_t restart_interval_ms = 10 * 60 * 1000;
// A peer found without a bundle gets version 1 without asking again for this
// long (it may publish one later).
constexpr std::uint64_t no_bundle_recheck_ms = 10 * 60 * 1000;
}  // namespace

void Client::Impl::notice(const std::string& text) {
  log->warn("{}", text);
  if (options.on_notice) options.on_notice(text);
}

Result<Conversation*, std::string> Client::Impl::conversation(const AccountKey& peer) {
  if (auto it = conversations.find(peer); it != conversations.end()) return &it->second;
  if (conversation_store) {
    auto loaded = conversation_store->load(peer);
    if (!loaded) return fail(loaded.error());
    if (*loaded) return &conversations.emplace(peer, std::move(**loaded)).first->second;
  }
  return &conversations.emplace(peer, Conversation(peer)).first->second;
}

Result<void, std::string> Client::Impl::commit(Conversation updated) {
  if (conversation_store) {
    if (auto saved = conversation_store->save(updated); !saved)
      return fail("cannot save the conversation: " + saved.error());
  }
  const AccountKey peer = updated.peer();
  conversations.insert_or_assign(peer, std::move(updated));
  return {};
}

void Client::Impl::send_v2(const AccountKey& to, std::vector<std::uint8_t> text, SendHandler done,
                           std::uint8_t flags) {
  auto c = conversation(to);
  if (!c) return fail_send_soon(std::move(done), {SendError::rejected, c.error()});
  if ((*c)->can_send()) return seal_and_send_v2(to, text, std::move(done), flags);
  const std::uint64_t now = options.clock.unix_ms();
  if (auto it = no_bundle_until_ms.find(to); it != no_bundle_until_ms.end()) {
    if (now < it->second) {
      if (flags != 0)
        return fail_send_soon(std::move(done), {SendError::rejected, "the account has no prekey bundle"});
      return send_v1(to, text, std::move(done));
    }
    no_bundle_until_ms.erase(it);
  }
  // No session yet: start one from the recipient's bundle, if it has one.
  const std::uint64_t waiting = ++last_send;
  waiting_sends.emplace(waiting, std::move(done));
  lookup_bundle(to, [this, to, text = std::move(text), waiting, flags](
                        Result<std::optional<PrekeyBundle>, std::string> r) mutable {
    auto it = waiting_sends.find(waiting);
    if (stopped || it == waiting_sends.end()) return;
    SendHandler handler = std::move(it->second);
    waiting_sends.erase(it);
    if (!r) {
      return fail_send_soon(std::move(handler),
                            {SendError::failed, "cannot fetch the recipient's prekey bundle: " + r.error()});
    }
    if (!*r) {  // no bundle: version 1
      no_bundle_until_ms[to] = options.clock.unix_ms() + no_bundle_recheck_ms;
      if (flags != 0)
        return fail_send_soon(std::move(handler),
                              {SendError::rejected, "the account has no prekey bundle (it never ran a client)"});
      return send_v1(to, text, std::move(handler));
    }
    auto conv = conversation(to);
    if (!conv) return fail_send_soon(std::move(handler), {SendError::rejected, conv.error()});
    // Another send may have started one while this one waited.
    if (!(*conv)->can_send()) {
      Conversation updated = (*conv)->clone();
      if (auto started = updated.initiate(identity, **r, rng, now_ms()); !started)
        return fail_send_soon(std::move(handler),
                              {SendError::rejected, std::string("the recipient's prekey bundle: ") +
                                                        to_string(started.error())});
      if (auto saved = commit(std::move(updated)); !saved)
        return fail_send_soon(std::move(handler), {SendError::rejected, saved.error()});
    }
    seal_and_send_v2(to, text, std::move(handler), flags);
  });
}

void Client::Impl::seal_and_send_v2(const AccountKey& to, const std::vector<std::uint8_t>& text,
                                    SendHandler done, std::uint8_t flags) {
  auto c = conversation(to);
  if (!c) return fail_send_soon(std::move(done), {SendError::rejected, c.error()});
  const SealKey* key = seal_key(to);
  if (!key) return fail_send_soon(std::move(done), seal_failure(SealError::bad_recipient_key));
  const std::uint32_t max_body = directory->params.max_body_bytes;
  Conversation updated = (*c)->clone();
  auto pieces = fragment_to(text, v2::capacity(updated.next_kind(), max_body));
  if (!pieces) return fail_send_soon(std::move(done), seal_failure(pieces.error()));
  v2::Content content;
  content.flags = flags;
  content.timestamp_ms = now_ms();
  content.message_id = random_message_id(rng);
  content.count = static_cast<std::uint16_t>(pieces->size());
  std::vector<std::vector<std::uint8_t>> envelopes;
  for (std::size_t i = 0; i < pieces->size(); ++i) {
    content.index = static_cast<std::uint16_t>(i);
    content.body.assign((*pieces)[i].begin(), (*pieces)[i].end());
    auto sealed = updated.seal(identity, *key, content, max_body, rng);
    if (!sealed) return fail_send_soon(std::move(done), seal_failure(sealed.error()));
    envelopes.push_back(std::move(*sealed));
  }
  sodium_memzero(content.body.data(), content.body.size());
  // The ratchet moved on: saved before anything leaves, so that a crash
  // never reuses a message key.
  if (auto saved = commit(std::move(updated)); !saved)
    return fail_send_soon(std::move(done), {SendError::rejected, saved.error()});
  start_send_job(to, content.message_id, std::move(envelopes), true, std::move(done));
}

Result<std::optional<OpenedEnvelope>, std::string> Client::Impl::open_v2(Bytes body) {
  auto inner_bytes = v2::open_outer(identity, body);
  if (!inner_bytes) return fail(std::string(to_string(inner_bytes.error())));
  auto inner = v2::decode_inner(*inner_bytes);
  sodium_memzero(inner_bytes->data(), inner_bytes->size());
  if (!inner) return fail(std::string(to_string(inner.error())));
  const AccountKey sender = inner->sender;
  auto c = conversation(sender);
  if (!c) return fail(c.error());
  Conversation updated = (*c)->clone();
  // A first message uses up a one-time prekey only if all goes well: it
  // works on a copy of the prekeys (a ratchet message does not touch them).
  Prekeys keys(identity);
  if (inner->kind == v2::Kind::prekey) {
    if (auto copied = keys.decode(prekeys.encode()); !copied) return fail(copied.error());
  }
  auto r = updated.receive(identity, inner->kind == v2::Kind::prekey ? keys : prekeys, *inner,
                           now_ms());
  if (!r) {
    if (r.error() == ConversationError::no_session) {
      restart_conversation(sender);
    } else if (r.error() == ConversationError::unknown_prekey) {
      notice("a first message from " + format_account_id(sender) +
             " could not be opened: it names a prekey this account no longer has");
    }
    return fail(std::string(to_string(r.error())));
  }
  // A control message has nothing to hand over: out of the journal at once.
  if (r->content.flags & v2::flag_control) updated.forget(r->journal_key);
  if (auto saved = commit(std::move(updated)); !saved) return fail(saved.error());
  if (r->prekeys_changed) {
    prekeys = std::move(keys);
    if (!options.profile_dir.empty()) {
      if (auto s = prekeys.save(profile_file("prekeys")); !s) log->error("cannot save prekeys: {}", s.error());
    }
    // The bundle named a one-time prekey that is gone: publish it again.
    last_published_ms = 0;
    next_prekey_check_ms = 0;
  }
  if (r->content.flags & v2::flag_control) return std::optional<OpenedEnvelope>{};
  OpenedEnvelope out;
  out.sender = sender;
  out.timestamp_ms = r->content.timestamp_ms;
  out.message_id = r->content.message_id;
  out.index = r->content.index;
  out.count = r->content.count;
  out.body = std::move(r->content.body);
  out.forward_secret = true;
  out.group_control = (r->content.flags & v2::flag_group) != 0;
  out.receipt = (r->content.flags & v2::flag_receipt) != 0;
  out.journal_key = r->journal_key;
  return std::optional<OpenedEnvelope>{std::move(out)};
}

void Client::Impl::restart_conversation(const AccountKey& peer) {
  const std::uint64_t now = options.clock.unix_ms();
  if (auto it = restarted_ms.find(peer); it != restarted_ms.end() && now < it->second + restart_interval_ms)
    return;
  restarted_ms[peer] = now;
  notice("a message from " + format_account_id(peer) +
         " could not be opened: this device has no conversation with it (it was lost); "
         "starting a new one");
  lookup_bundle(peer, [this, peer](Result<std::optional<PrekeyBundle>, std::string> r) {
    if (stopped) return;
    if (!r || !*r) {
      log->warn("cannot start the conversation again: {}", r ? "no prekey bundle" : r.error());
      return;
    }
    Conversation fresh(peer);
    if (!fresh.initiate(identity, **r, rng, now_ms())) return;
    if (auto saved = commit(std::move(fresh)); !saved) return log->error("{}", saved.error());
    seal_and_send_v2(peer, {}, [this](Result<SendReceipt, SendFailure> sent) {
      if (!sent) log->warn("the new conversation's first message failed: {}", sent.error().detail);
    }, v2::flag_control);
  });
}

}  // namespace nightjar::client
