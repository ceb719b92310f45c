#include "node/metrics.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>
#include <unordered_set>

namespace nightjar {

namespace {

bool name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool name_char(char c) {
  return name_start(c) || (c >= '0' && c <= '9');
}

// Prometheus also allows ':' in metric names, but reserves it for recording
// rules; an exporter should not use it.
bool valid_name(std::string_view name) {
  if (name.empty() || !name_start(name.front())) return false;
  for (char c : name)
    if (!name_char(c)) return false;
  return true;
}

template <class T>
void append_number(std::string& out, T v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, ec == std::errc{} ? end : buf);
}

// HELP text escapes only backslash and newline (a quote needs no escape there).
void append_help(std::string& out, std::string_view help) {
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
}

[[noreturn]] void reject(const std::string& name, const std::string& why) {
  throw std::invalid_argument("metric \"" + name + "\": " + why);
}

}  // namespace

void MetricValue::append_to(std::string& out) const {
  if (const auto* u = std::get_if<std::uint64_t>(&v_)) return append_number(out, *u);
  if (const auto* i = std::get_if<std::int64_t>(&v_)) return append_number(out, *i);
  const double d = std::get<double>(v_);
  if (std::isnan(d))
    out += "NaN";
  else if (std::isinf(d))
    out += d > 0 ? "+Inf" : "-Inf";
  else
    append_number(out, d);  // shortest round-trip form, never locale-dependent
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

bool MetricsRegistry::valid_metric_name(std::string_view name) {
  return valid_name(name);
}

bool MetricsRegistry::valid_label_name(std::string_view name) {
  return valid_name(name) && !name.starts_with("__");
}

void MetricsRegistry::add_counter(std::string name, std::string help, ValueCollector collect) {
  add({std::move(name), std::move(help), Type::counter, {}, std::move(collect), {}});
}

void MetricsRegistry::add_counter(std::string name, std::string help,
                                  std::vector<std::string> label_names, SeriesCollector collect) {
  add({std::move(name),
       std::move(help),
       Type::counter,
       std::move(label_names),
       {},
       std::move(collect)});
}

void MetricsRegistry::add_gauge(std::string name, std::string help, ValueCollector collect) {
  add({std::move(name), std::move(help), Type::gauge, {}, std::move(collect), {}});
}

void MetricsRegistry::add_gauge(std::string name, std::string help,
                                std::vector<std::string> label_names, SeriesCollector collect) {
  add({std::move(name),
       std::move(help),
       Type::gauge,
       std::move(label_names),
       {},
       std::move(collect)});
}

void MetricsRegistry::add_build_info(std::string version) {
  add_gauge("nightjar_build_info", "Build of this node, in labels; the value is always 1.",
            {"version"}, [version = std::move(version)] {
              return std::vector<LabelledValue>{{{version}, 1}};
            });
}

void MetricsRegistry::add(Family f) {
  if (!valid_metric_name(f.name)) reject(f.name, "name must match [a-zA-Z_][a-zA-Z0-9_]*");
  const bool total = f.name.ends_with("_total");
  if (f.type == Type::counter && !total) reject(f.name, "a counter's name must end in _total");
  if (f.type == Type::gauge && total) reject(f.name, "a gauge's name must not end in _total");
  if (f.help.empty()) reject(f.name, "help text is empty");
  if (f.collect_value == nullptr && f.collect_series == nullptr) reject(f.name, "no collector");
  if (f.collect_series != nullptr && f.label_names.empty())
    reject(f.name, "a labelled metric needs at least one label name");
  for (std::size_t i = 0; i < f.label_names.size(); ++i) {
    const std::string& label = f.label_names[i];
    if (!valid_label_name(label))
      reject(f.name, "bad label name \"" + label + "\" (reserved or not [a-zA-Z_][a-zA-Z0-9_]*)");
    for (std::size_t j = 0; j < i; ++j)
      if (f.label_names[j] == label) reject(f.name, "label \"" + label + "\" given twice");
  }
  for (const Family& other : families_)
    if (other.name == f.name) reject(f.name, "registered twice");
  families_.push_back(std::move(f));
}

std::string MetricsRegistry::render() const {
  std::string out;
  out.reserve(families_.size() * 160);
  for (const Family& f : families_)
    render_family(f, out);
  return out;
}

void MetricsRegistry::render_family(const Family& f, std::string& out) const {
  out += "# HELP ";
  out += f.name;
  out += ' ';
  append_help(out, f.help);
  out += "\n# TYPE ";
  out += f.name;
  out += f.type == Type::counter ? " counter\n" : " gauge\n";

  if (f.collect_value) {
    out += f.name;
    out += ' ';
    f.collect_value().append_to(out);
    out += '\n';
    return;
  }

  // Prometheus rejects a whole scrape that repeats a series, so a collector's
  // mistake costs only the offending series.
  std::unordered_set<std::string> seen;
  for (const LabelledValue& series : f.collect_series()) {
    if (series.label_values.size() != f.label_names.size()) continue;
    std::string labels = "{";
    for (std::size_t i = 0; i < f.label_names.size(); ++i) {
      if (i > 0) labels += ',';
      labels += f.label_names[i];
      labels += "=\"";
      labels += escape_label_value(series.label_values[i]);
      labels += '"';
    }
    labels += '}';
    if (!seen.insert(labels).second) continue;
    out += f.name;
    out += labels;
    out += ' ';
    series.value.append_to(out);
    out += '\n';
  }
}

}  // namespace nightjar
