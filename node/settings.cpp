#include "node/settings.hpp"

// GCC 12 reports a "potential null pointer dereference" inside libstdc++ when
// Boost.Program_options' typed_value<std::string>::notify is inlined here.
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/program_options.hpp>
#include <cctype>
#include <charconv>
#include <set>
#include <sstream>
#include <vector>

namespace po = boost::program_options;

namespace nightjar {

namespace {

std::string_view section_of(std::string_view name) {
  const auto dot = name.find('.');
  return dot == std::string_view::npos ? std::string_view{} : name.substr(0, dot);
}

std::string_view key_of(std::string_view name) {
  const auto dot = name.find('.');
  return dot == std::string_view::npos ? name : name.substr(dot + 1);
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// Appends `text` wrapped at `width` columns, each line indented by `indent`.
void wrap(std::string& out, std::string_view text, std::size_t indent, std::size_t width) {
  std::size_t col = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto start = text.find_first_not_of(' ', pos);
    if (start == std::string_view::npos) break;
    const auto end = std::min(text.find(' ', start), text.size());
    const std::string_view word = text.substr(start, end - start);
    if (col > 0 && col + 1 + word.size() > width) {
      out += '\n';
      col = 0;
    }
    if (col == 0) {
      out.append(indent, ' ');
      col = indent;
    } else {
      out += ' ';
      ++col;
    }
    out += word;
    col += word.size();
    pos = end;
  }
  out += '\n';
}

}  // namespace

Result<std::uint64_t, std::string> parse_count(std::string_view text) {
  std::uint64_t v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec == std::errc::invalid_argument || ptr != end)
    return fail("'" + std::string(text) + "' is not a whole number");
  if (ec == std::errc::result_out_of_range) return fail("'" + std::string(text) + "' is too large");
  return v;
}

Result<std::uint64_t, std::string> parse_size(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9')
    ++digits;
  const std::string bad = "'" + std::string(text) + "' is not a size (e.g. 4096, 512K, 64M, 10G)";
  if (digits == 0) return fail(bad);
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + digits, v);
  if (ec != std::errc()) return fail("'" + std::string(text) + "' is too large");
  std::string_view suffix = text.substr(digits);
  unsigned shift = 0;
  if (!suffix.empty() && !iequals(suffix, "b")) {
    switch (std::toupper(static_cast<unsigned char>(suffix[0]))) {
      case 'K':
        shift = 10;
        break;
      case 'M':
        shift = 20;
        break;
      case 'G':
        shift = 30;
        break;
      case 'T':
        shift = 40;
        break;
      default:
        return fail(bad);
    }
    suffix.remove_prefix(1);
    if (!suffix.empty() && !iequals(suffix, "b") && !iequals(suffix, "ib")) return fail(bad);
  }
  if (shift > 0 && v > (UINT64_MAX >> shift))
    return fail("'" + std::string(text) + "' is too large");
  return v << shift;
}

Result<bool, std::string> parse_flag(std::string_view text) {
  for (std::string_view yes : {"true", "yes", "on", "1"})
    if (iequals(text, yes)) return true;
  for (std::string_view no : {"false", "no", "off", "0"})
    if (iequals(text, no)) return false;
  return fail("'" + std::string(text) + "' is not true or false (or yes/no, on/off, 1/0)");
}

const SettingSpec* Settings::spec(std::string_view name) const {
  for (const SettingSpec& s : specs_)
    if (s.name == name) return &s;
  return nullptr;
}

const SettingSpec* Settings::spec_by_option(std::string_view option) const {
  for (const SettingSpec& s : specs_)
    if (s.option == option) return &s;
  return nullptr;
}

bool Settings::read_command_line(std::span<const std::string> args) {
  po::options_description desc;
  for (const SettingSpec& s : specs_) {
    if (s.option.empty()) continue;
    std::string names(s.option);
    if (s.short_option != 0) names += std::string(",") + s.short_option;
    if (s.kind == SettingKind::flag)
      desc.add_options()(names.c_str(), "");
    else
      desc.add_options()(names.c_str(), po::value<std::string>(), "");
  }
  // No guessing: "--list" must not quietly mean "--listen".
  const int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
  std::vector<po::option> options;
  try {
    options = po::command_line_parser(std::vector<std::string>(args.begin(), args.end()))
                  .options(desc)
                  .style(style)
                  .run()
                  .options;
  } catch (const po::error& e) {
    add_error(std::string(e.what()) + " (see --help)");
    return false;
  }
  for (const po::option& o : options) {
    if (o.string_key.empty() || o.position_key >= 0) {  // a word that is no option
      add_error("unexpected argument '" + (o.value.empty() ? "" : o.value.front()) +
                "' (options start with --; see --help)");
      return false;
    }
    const SettingSpec* s = spec_by_option(o.string_key);
    if (s == nullptr) continue;  // cannot happen: po knows only the table's options
    if (values_.count(s->name)) {
      add_error("--" + std::string(s->option) + " is given twice");
      return false;
    }
    std::string text = s->kind == SettingKind::flag ? "true"
                       : o.value.empty()            ? ""
                                                    : o.value.front();
    values_.emplace(std::string(s->name), Value{std::move(text), std::nullopt});
  }
  return true;
}

bool Settings::read_config_file(const std::string& file, const std::string& text) {
  po::options_description desc;
  for (const SettingSpec& s : specs_)
    if (!section_of(s.name).empty())
      desc.add_options()(std::string(s.name).c_str(), po::value<std::string>(), "");
  std::istringstream in(text);
  std::vector<po::option> options;
  try {
    options = po::parse_config_file(in, desc, /*allow_unregistered=*/true).options;
  } catch (const po::error& e) {
    add_error(file + ": " + e.what());
    return false;
  }
  std::set<std::string, std::less<>> seen;
  for (const po::option& o : options) {
    const std::string_view section = section_of(o.string_key);
    const std::string_view key = key_of(o.string_key);
    const std::string place =
        section.empty() ? "'" + std::string(key) + "' outside any section"
                        : "'" + std::string(key) + "' in section [" + std::string(section) + "]";
    if (o.unregistered) {
      add_error(file + ": unknown key " + place);
      return false;
    }
    if (!seen.insert(o.string_key).second) {
      add_error(file + ": key " + place + " is given twice");
      return false;
    }
    if (values_.count(o.string_key)) continue;  // the command line wins
    values_.emplace(o.string_key, Value{o.value.empty() ? "" : o.value.front(), file});
  }
  return true;
}

std::string Settings::where(std::string_view name) const {
  auto it = values_.find(name);
  if (it != values_.end() && it->second.file)
    return *it->second.file + ": [" + std::string(section_of(name)) + "] " +
           std::string(key_of(name));
  const SettingSpec* s = spec(name);
  if (s && !s->option.empty()) return "--" + std::string(s->option);
  return "[" + std::string(section_of(name)) + "] " + std::string(key_of(name));
}

void Settings::reject(std::string_view name, const std::string& why) {
  add_error(where(name) + ": " + why);
}

std::optional<std::string> Settings::text_of(std::string_view name, const SettingSpec*& out) {
  out = spec(name);
  if (out == nullptr) {  // a programming error in the caller's table
    add_error("internal error: no setting named '" + std::string(name) + "'");
    return std::nullopt;
  }
  if (auto it = values_.find(name); it != values_.end()) return it->second.text;
  if (!out->fallback.empty()) return std::string(out->fallback);
  reject(name, "no value");
  return std::nullopt;
}

Result<std::uint64_t, std::string> Settings::number(const SettingSpec& s,
                                                    std::string_view text) const {
  auto v = s.kind == SettingKind::size ? parse_size(text) : parse_count(text);
  if (!v) return v;
  if (*v < s.min || *v > s.max)
    return fail("'" + std::string(text) + "' is out of range (" + std::to_string(s.min) + " to " +
                std::to_string(s.max) + ")");
  return v;
}

std::filesystem::path Settings::resolve(std::string_view name, const std::string& text) const {
  std::filesystem::path p(text);
  auto it = values_.find(name);
  if (p.is_absolute() || it == values_.end() || !it->second.file) return p;
  return std::filesystem::path(*it->second.file).parent_path() / p;
}

std::size_t Settings::choice(std::string_view name, std::initializer_list<std::string_view> words) {
  const SettingSpec* s = nullptr;
  auto text = text_of(name, s);
  if (!text) return 0;
  std::size_t i = 0;
  std::string list;
  for (std::string_view w : words) {
    if (iequals(*text, w)) return i;
    list += (i == 0 ? "" : ", ") + std::string(w);
    ++i;
  }
  reject(name, "'" + *text + "' is not one of " + list);
  return 0;
}

std::string Settings::describe() const {
  std::string out;
  std::string_view heading = "-";
  for (const SettingSpec& s : specs_) {
    const std::string_view section = section_of(s.name);
    if (section != heading) {
      heading = section;
      out += section.empty() ? "\nCommand line only:\n"
                             : "\n[" + std::string(section) + "] in a config file:\n";
    }
    std::string left = "  ";
    if (s.short_option != 0) left += std::string("-") + s.short_option + ", ";
    if (!s.option.empty()) left += "--" + std::string(s.option);
    if (!s.arg.empty() && !s.option.empty() && s.kind != SettingKind::flag)
      left += " " + std::string(s.arg);
    if (!section.empty()) {
      std::string right = std::string(key_of(s.name)) + " = " +
                          std::string(s.kind == SettingKind::flag ? "true|false" : s.arg);
      if (s.option.empty())
        left += right;
      else {
        if (left.size() < 38)
          left.append(38 - left.size(), ' ');
        else
          left += "  ";
        left += right;
      }
    }
    out += left + '\n';
    std::string help(s.help);
    if (!s.fallback.empty()) help += " Default: " + std::string(s.fallback) + ".";
    wrap(out, help, 8, 79);
  }
  return out;
}

}  // namespace nightjar
