// `nightjar chat`: an interactive terminal client (ncursesw) on the same
// Session as the other commands. The screen:
//
//   row 0        title: the account, and the last status or notice
//   left pane    conversations (history, contacts, groups), unread counts
//   right pane   the open conversation, each sent message with its mark
//                (… sending, ✓ stored, ✓✓ delivered, ✗ failed)
//   last row     the input line; "/" starts a command (/help lists them)
//
// Keys: Enter sends (or runs the command), Up/Down or Tab change the open
// conversation, Backspace, Ctrl-C or Ctrl-D (or /quit) leave. The terminal
// is restored on every way out (a key, a signal, an error). Logs go to
// PROFILE/chat.log while the screen is in use.
#include <fcntl.h>
#define NCURSES_WIDECHAR 1  // get_wch, mvaddnwstr
#include <ncursesw/curses.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <csignal>
#include <clocale>
#include <cwchar>
#include <ostream>
#include <sstream>

#include "client/cli_commands.hpp"
#include "client/cli_output.hpp"
#include "client/cli_session.hpp"

namespace nightjar::client::cli {
namespace {

std::wstring widen(const std::string& s) {
  std::mbstate_t st{};
  std::wstring out;
  const char* p = s.data();
  std::size_t left = s.size();
  while (left > 0) {
    wchar_t wc = 0;
    const std::size_t n = std::mbrtowc(&wc, p, left, &st);
    if (n == static_cast<std::size_t>(-1) || n == static_cast<std::size_t>(-2)) {
      out.push_back(L'?');
      st = {};
      ++p;
      --left;
      continue;
    }
    if (n == 0) break;
    out.push_back(wc);
    p += n;
    left -= n;
  }
  return out;
}

std::string narrow(const std::wstring& w) {
  std::string out;
  std::mbstate_t st{};
  char buf[MB_LEN_MAX];
  for (wchar_t c : w) {
    const std::size_t n = std::wcrtomb(buf, c, &st);
    if (n != static_cast<std::size_t>(-1)) out.append(buf, n);
  }
  return out;
}

int width_of(wchar_t c) {
  const int w = ::wcwidth(c);
  return w < 0 ? 1 : w;
}

// `text` cut into rows of at most `cols` columns.
std::vector<std::wstring> wrap(const std::wstring& text, int cols) {
  std::vector<std::wstring> rows(1);
  int used = 0;
  for (wchar_t c : text) {
    if (c == L'\n') {
      rows.emplace_back(L"  ");
      used = 2;
      continue;
    }
    const int w = width_of(c);
    if (used + w > cols && used > 0) {
      rows.emplace_back(L"  ");
      used = 2;
    }
    rows.back().push_back(c);
    used += w;
  }
  return rows;
}

void put(int row, int col, const std::wstring& text, int cols) {
  int used = 0;
  std::wstring cut;
  for (wchar_t c : text) {
    const int w = width_of(c);
    if (used + w > cols) break;
    cut.push_back(c);
    used += w;
  }
  mvaddnwstr(row, col, cut.c_str(), static_cast<int>(cut.size()));
}

const wchar_t* mark(const HistoryEntry& e) {
  if (!e.outgoing) return L"";
  switch (e.state) {
    case DeliveryState::sending: return L" \u2026";
    case DeliveryState::stored: return L" \u2713";
    case DeliveryState::delivered: return L" \u2713\u2713";
    case DeliveryState::failed: return L" \u2717";
    case DeliveryState::received: break;
  }
  return L"";
}

struct Item {
  ConversationKey key;
  std::string name;
  std::size_t unread = 0;
};

class Chat {
 public:
  Chat(const CliOptions& o, Session& s) : o_(o), s_(s) {}

  Result<void, std::string> start() {
    // Logs and notices go to a file while the screen is in use.
    saved_stderr_ = ::dup(STDERR_FILENO);
    const std::string log = (o_.profile_dir / "chat.log").string();
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
      ::dup2(fd, STDERR_FILENO);
      ::close(fd);
    }
    std::setlocale(LC_ALL, "");
    if (!initscr()) return fail(std::string("cannot start the terminal screen"));
    screen_ = true;
    raw();  // Ctrl-C arrives as a key: the way out restores the terminal
    noecho();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    uv_poll_init(s_.loop(), &poll_, STDIN_FILENO);
    poll_.data = this;
    uv_poll_start(&poll_, UV_READABLE, [](uv_poll_t* p, int, int) { static_cast<Chat*>(p->data)->keys(); });
    polling_ = true;
    // A resize does not make standard input readable: the loop hears the
    // signal, and ncurses learns the new size from endwin() + refresh().
    uv_signal_init(s_.loop(), &winch_);
    winch_.data = this;
    uv_signal_start(
        &winch_,
        [](uv_signal_t* sig, int) {
          auto* self = static_cast<Chat*>(sig->data);
          if (!self->screen_) return;
          endwin();
          refresh();
          clearok(stdscr, TRUE);
          self->draw();
        },
        SIGWINCH);
    status_ = "/help lists the commands; Up/Down change conversation; Ctrl-C leaves";
    const auto list = items();
    if (!list.empty()) open(list.front().key);
    draw();
    return {};
  }

  // Restores the terminal (idempotent).
  void end() {
    if (polling_) {
      uv_poll_stop(&poll_);
      uv_close(reinterpret_cast<uv_handle_t*>(&poll_), nullptr);
      uv_signal_stop(&winch_);
      uv_close(reinterpret_cast<uv_handle_t*>(&winch_), nullptr);
      polling_ = false;
    }
    if (screen_) {
      endwin();
      screen_ = false;
    }
    if (saved_stderr_ >= 0) {
      ::dup2(saved_stderr_, STDERR_FILENO);
      ::close(saved_stderr_);
      saved_stderr_ = -1;
    }
  }

  void note(const std::string& text) {
    status_ = text;
    draw();
  }

  void arrived(const ReceivedMessage& m) {
    const ConversationKey k = m.group ? ConversationKey{true, *m.group} : ConversationKey{false, m.sender};
    if (open_ && *open_ == k) (void)client().mark_read(k);
    draw();
  }

  void draw() {
    if (!screen_) return;
    erase();
    int rows = 0, cols = 0;
    getmaxyx(stdscr, rows, cols);
    if (rows < 5 || cols < 20) {
      put(0, 0, L"terminal too small", cols);
      refresh();
      return;
    }
    const auto list = items();
    // Title.
    attron(A_REVERSE);
    mvhline(0, 0, ' ', cols);
    put(0, 1, widen("nightjar  " + short_account_id(client().identity().account()) + "  " + status_), cols - 2);
    attroff(A_REVERSE);
    const int left = std::min(24, cols / 3);
    const int body_top = 1, body_rows = rows - 3;
    // Conversations.
    for (int i = 0; i < body_rows && i < static_cast<int>(list.size()); ++i) {
      const Item& it = list[static_cast<std::size_t>(i)];
      const bool selected = open_ && *open_ == it.key;
      if (selected) attron(A_REVERSE);
      // Message requests stand apart until accepted (/add) or blocked.
      const bool request = !it.key.group && client().contacts().standing(it.key.key) == Standing::request;
      std::string label = (it.key.group ? "#" : request ? "? " : "") + it.name;
      if (it.unread) label += " (" + std::to_string(it.unread) + ")";
      put(body_top + i, 0, widen(label), left - 1);
      if (selected) attroff(A_REVERSE);
    }
    mvvline(body_top, left - 1, ACS_VLINE, body_rows);
    // The open conversation, its last messages at the bottom.
    const int right = left + 1, width = cols - right;
    if (open_) {
      std::vector<std::wstring> lines;
      for (const HistoryEntry& e : client().history().messages(*open_, static_cast<std::size_t>(body_rows))) {
        std::string who = e.outgoing ? "you" : display(e.sender);
        std::string text(e.text.begin(), e.text.end());
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
        const std::string time = display_time(e.outgoing ? e.recorded_ms : e.sent_ms, TimeZone::local);
        const std::wstring line = widen(time.substr(11, 5) + " " + (e.request ? "[request] " : "") + who + ": " +
                                        printable_text(as_bytes(text))) +
                                  mark(e);
        for (auto& row : wrap(line, width)) lines.push_back(std::move(row));
      }
      const int first = std::max(0, static_cast<int>(lines.size()) - body_rows);
      for (int i = first; i < static_cast<int>(lines.size()); ++i)
        put(body_top + (i - first), right, lines[static_cast<std::size_t>(i)], width);
    } else {
      put(body_top, right, L"no conversation open: /add NAME ID, or /open NAME", width);
    }
    // Input.
    mvhline(rows - 2, 0, ACS_HLINE, cols);
    std::wstring shown = L"> " + input_;
    int used = 0;
    for (wchar_t c : shown) used += width_of(c);
    while (used > cols - 1 && shown.size() > 2) {
      used -= width_of(shown[2]);
      shown.erase(2, 1);
    }
    put(rows - 1, 0, shown, cols);
    move(rows - 1, std::min(used, cols - 1));
    refresh();
  }

  std::function<void(int)> on_quit;

 private:
  Client& client() { return s_.client(); }

  std::string display(const AccountKey& a) {
    const Contact* c = client().contacts().find(a);
    return c ? c->name : short_account_id(a);
  }

  std::string name_of(const ConversationKey& k) {
    if (!k.group) return display(k.key);
    for (const auto& g : client().groups())
      if (g.id == k.key) return g.name;
    return short_group_id(k.key);
  }

  std::vector<Item> items() {
    std::vector<Item> out;
    auto have = [&](const ConversationKey& k) {
      return std::any_of(out.begin(), out.end(), [&](const Item& i) { return i.key == k; });
    };
    for (const auto& s : client().history().conversations()) out.push_back({s.conversation, name_of(s.conversation), s.unread});
    for (const auto& c : client().contacts().contacts())
      if (!have({false, c.account})) out.push_back({{false, c.account}, c.name, 0});
    for (const auto& g : client().groups())
      if (g.member && !have({true, g.id})) out.push_back({{true, g.id}, g.name, 0});
    if (open_ && !have(*open_)) out.push_back({*open_, name_of(*open_), 0});
    return out;
  }

  void open(const ConversationKey& k) {
    open_ = k;
    (void)client().mark_read(k);
  }

  void move_selection(int step) {
    const auto list = items();
    if (list.empty()) return;
    int at = 0;
    for (std::size_t i = 0; i < list.size(); ++i)
      if (open_ && list[i].key == *open_) at = static_cast<int>(i);
    const int n = static_cast<int>(list.size());
    open(list[static_cast<std::size_t>(((at + step) % n + n) % n)].key);
  }

  void keys() {
    wint_t ch = 0;
    int r = 0;
    while ((r = get_wch(&ch)) != ERR) {
      if (r == KEY_CODE_YES) {
        switch (ch) {
          case KEY_UP: move_selection(-1); break;
          case KEY_DOWN: move_selection(1); break;
          case KEY_BACKSPACE:
            if (!input_.empty()) input_.pop_back();
            break;
          case KEY_ENTER: submit(); break;
          case KEY_RESIZE: break;  // drawn again below, at the new size
          default: break;
        }
        continue;
      }
      if (ch == 3 || (ch == 4 && input_.empty())) {  // Ctrl-C, Ctrl-D
        if (on_quit) on_quit(exit_ok);
        return;
      }
      if (ch == 12) {  // Ctrl-L: draw the whole screen again
        clearok(stdscr, TRUE);
      } else if (ch == L'\r' || ch == L'\n') {
        submit();
      } else if (ch == 127 || ch == 8) {
        if (!input_.empty()) input_.pop_back();
      } else if (ch == L'\t') {
        move_selection(1);
      } else if (ch >= 32 && input_.size() < 8192) {
        input_.push_back(static_cast<wchar_t>(ch));
      }
    }
    draw();
  }

  void submit() {
    const std::string line = narrow(input_);
    input_.clear();
    if (line.empty()) return;
    if (line[0] == '/') return command(line);
    if (!open_) return note("no conversation open: /add NAME ID, or /open NAME");
    const ConversationKey k = *open_;
    auto done = [this](Result<SendReceipt, SendFailure> r) {
      if (!r) note(std::string("not sent: ") + to_string(r.error().error) + " " + r.error().detail);
      else draw();
    };
    if (k.group)
      client().send_group(k.key, as_bytes(line), done);
    else
      client().send(k.key, as_bytes(line), done);
  }

  void command(const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> w;
    for (std::string word; in >> word;) w.push_back(word);
    const std::string& c = w[0];
    auto rest = [&](std::size_t from) {
      std::string out;
      for (std::size_t i = from; i < w.size(); ++i) out += (out.empty() ? "" : " ") + w[i];
      return out;
    };
    if (c == "/quit" || c == "/q") {
      if (on_quit) on_quit(exit_ok);
      return;
    }
    if (c == "/help") {
      return note("/open NAME|ID|GROUP  /add NAME ID  /verify NAME [yes]  /block NAME|ID  /unblock NAME|ID  "
                  "/group create NAME  /group add GROUP NAME|ID...  /quit");
    }
    if (c == "/open" && w.size() >= 2) {
      auto k = conversation_of(rest(1), client().contacts(), client().groups());
      if (!k) return note(k.error());
      open(*k);
      return draw();
    }
    if (c == "/add" && w.size() == 3) {
      auto id = parse_account_id(w[2]);
      if (!id) return note("account ID: " + to_string(id.error()));
      auto r = client().change_contacts([&](ContactBook& b) { return b.add(w[1], *id, system_unix_ms()); });
      if (!r) return note(r.error());
      open({false, *id});
      return note("added " + w[1] + "; compare fingerprints with /verify " + w[1]);
    }
    if (c == "/verify" && (w.size() == 2 || (w.size() == 3 && w[2] == "yes"))) {
      const Contact* ct = client().contacts().find(w[1]);
      if (!ct) return note("no contact named \"" + w[1] + "\"");
      if (w.size() == 2)
        return note("you: " + fingerprint(client().identity().account()) + "  " + w[1] + ": " +
                    fingerprint(ct->account) + "  (/verify " + w[1] + " yes once both match)");
      auto r = client().change_contacts([&](ContactBook& b) { return b.set_verified(w[1], true); });
      return note(r ? w[1] + " is verified" : r.error());
    }
    if ((c == "/block" || c == "/unblock") && w.size() == 2) {
      auto a = resolve_account(client().contacts(), w[1]);
      if (!a) return note(a.error());
      auto r = client().change_contacts([&](ContactBook& b) { return c == "/block" ? b.block(*a) : b.unblock(*a); });
      return note(r ? (c == "/block" ? "blocked " : "unblocked ") + w[1] : r.error());
    }
    if (c == "/group" && w.size() >= 3 && w[1] == "create") {
      const std::string name = rest(2);
      client().create_group(name, [this, name](Result<GroupKey, std::string> r) {
        if (!r) return note("cannot create the group: " + r.error());
        open({true, *r});
        note("created #" + name + "; /group add " + name + " NAME|ID...");
      });
      return note("creating #" + name + "...");
    }
    if (c == "/group" && w.size() >= 4 && w[1] == "add") {
      auto g = resolve_group(client().groups(), w[2]);
      if (!g) return note(g.error());
      std::vector<group::Change> changes;
      for (std::size_t i = 3; i < w.size(); ++i) {
        auto a = resolve_account(client().contacts(), w[i]);
        if (!a) return note(a.error());
        changes.push_back({group::ChangeType::add, *a, group::Role::member, {}});
      }
      client().change_group(g->id, std::move(changes), [this](Result<GroupChangeReport, std::string> r) {
        note(r ? "added; reached " + std::to_string(r->delivered) + " members" : "cannot add: " + r.error());
      });
      return note("adding...");
    }
    note("unknown command or wrong arguments: " + c + " (/help lists them)");
  }

  const CliOptions& o_;
  Session& s_;
  uv_poll_t poll_{};
  uv_signal_t winch_{};
  bool polling_ = false;
  bool screen_ = false;
  int saved_stderr_ = -1;
  std::optional<ConversationKey> open_;
  std::wstring input_;
  std::string status_;
};

}  // namespace

int run_chat(const CliOptions& o, std::ostream& out, std::ostream& err) {
  (void)out;
  if (!::isatty(STDIN_FILENO) || !::isatty(STDOUT_FILENO)) {
    print_error(err, "nightjar chat needs a terminal (programs use `nightjar daemon`, docs/JSONRPC.md)");
    return exit_failure;
  }
  auto network = load_network(o);
  if (!succeeded(network, err)) return exit_failure;
  auto identity = unlock_identity(o);
  if (!succeeded(identity, err)) return exit_failure;
  Session session(o, std::move(*network), std::move(*identity), err);
  Chat chat(o, session);
  auto end = [&](int code, const std::string& why = {}) {
    chat.end();
    session.finish(code, why);
  };
  chat.on_quit = [&](int code) { end(code); };
  session.on_signal = [&] { end(exit_ok); };
  session.on_delivery_state = [&](const HistoryEntry&) { chat.draw(); };
  session.on_group_event = [&](const GroupKey&, const group::GroupEvent&) { chat.draw(); };
  const int code = session.run([&] {
    if (auto r = chat.start(); !r) return end(exit_failure, r.error());
    session.client().subscribe([&](const ReceivedMessage& m) { chat.arrived(m); });
  });
  chat.end();
  return code;
}

}  // namespace nightjar::client::cli
