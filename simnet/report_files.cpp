#include "simnet/report_files.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace nightjar::simnet {

namespace {

std::string ms(const std::optional<double>& v) {
  if (!v) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", *v);
  return buf;
}

std::string status_of(const MessageRecord& r) {
  if (!r.sent_ms) return "not_sent";
  if (r.receptions > 0) return r.acked_ms ? "delivered" : "delivered_unacked";
  if (r.acked_ms) return "acked_lost";
  if (r.failed_ms) return "failed";
  return "unanswered";
}

Result<void, std::string> write_text(const std::filesystem::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return fail("cannot write " + file.string());
  return {};
}

bool have_gnuplot() {
  return std::system("command -v gnuplot >/dev/null 2>&1") == 0;
}

}  // namespace

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

Result<void, std::string> write_csv(const std::filesystem::path& dir,
                                    const std::vector<MessageRecord>& records,
                                    const Report& report) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail("cannot create " + dir.string() + ": " + ec.message());
  std::ostringstream m;
  m << "index,message_id,sender,recipient,bytes,planned_ms,sent_ms,acked_ms,failed_ms,"
       "received_ms,receptions,replicas,attempts,status,failure,path\n";
  for (const auto& r : records) {
    m << r.plan.index << "," << r.message_id << ",client" << r.plan.sender << ",client"
      << r.plan.recipient << "," << r.plan.bytes << "," << ms(r.plan.at_s * 1000) << ","
      << ms(r.sent_ms) << "," << ms(r.acked_ms) << "," << ms(r.failed_ms) << ","
      << ms(r.received_ms) << "," << r.receptions << "," << r.replicas << "," << r.attempts << ","
      << status_of(r) << "," << csv_field(r.failure) << "," << csv_field(r.path) << "\n";
  }
  if (auto w = write_text(dir / "messages.csv", m.str()); !w) return w;
  std::ostringstream n;
  n << "name,id,swarm,running,restarts,cells_relayed,cells_dropped,cells_delivered,"
       "messages_stored,stores_accepted,stats_known\n";
  for (const auto& r : report.node_reports)
    n << r.name << "," << r.id << "," << (r.swarm ? std::to_string(*r.swarm) : "") << ","
      << r.running << "," << r.restarts << "," << r.cells_relayed << "," << r.cells_dropped << ","
      << r.cells_delivered << "," << r.messages_stored << "," << r.stores_accepted << ","
      << r.stats_known << "\n";
  return write_text(dir / "nodes.csv", n.str());
}

std::vector<std::string> write_plots(const std::filesystem::path& dir,
                                     const std::vector<MessageRecord>& records,
                                     const Report& report) {
  if (!have_gnuplot())
    return {"plots skipped: gnuplot is not installed (apt-get install gnuplot-nox)"};
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return {"plots skipped: cannot create " + dir.string() + ": " + ec.message()};

  std::vector<double> stored, received;
  for (const auto& r : records) {
    if (r.sent_ms && r.acked_ms) stored.push_back(*r.acked_ms - *r.sent_ms);
    if (r.sent_ms && r.received_ms) received.push_back(*r.received_ms - *r.sent_ms);
  }
  auto cdf = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    std::ostringstream s;
    for (std::size_t i = 0; i < v.size(); ++i)
      s << v[i] << " " << double(i + 1) / double(v.size()) << "\n";
    if (v.empty()) s << "0 0\n";
    return s.str();
  };
  std::ostringstream load;
  for (std::size_t i = 0; i < report.node_reports.size(); ++i) {
    const auto& n = report.node_reports[i];
    load << i << " " << n.cells_relayed << " " << n.messages_stored << "\n";
  }
  const std::string script =
      "set terminal svg size 800,500 dynamic\n"
      "set output 'latency_cdf.svg'\n"
      "set title 'Latency CDF'\nset xlabel 'milliseconds'\nset ylabel 'fraction of messages'\n"
      "set logscale x\nset key bottom right\nset grid\n"
      "plot 'stored.dat' using 1:2 with steps title 'send to quorum acknowledgement', "
      "'received.dat' using 1:2 with steps title 'send to recipient'\n"
      "unset logscale x\n"
      "set output 'node_load.svg'\n"
      "set title 'Load per node'\nset xlabel 'node index'\nset ylabel 'cells relayed'\n"
      "set y2label 'messages stored'\nset y2tics\nset ytics nomirror\nset style fill solid 0.5\n"
      "set boxwidth 0.4\nset yrange [0:*]\nset y2range [0:*]\nset xrange [-1:*]\n"
      "set key outside top center horizontal\n"
      "plot 'load.dat' using ($1-0.2):2 with boxes title 'cells relayed', "
      "'load.dat' using ($1+0.2):3 axes x1y2 with boxes title 'messages stored'\n";
  for (const auto& [name, text] : {std::pair<const char*, std::string>{"stored.dat", cdf(stored)},
                                   {"received.dat", cdf(received)},
                                   {"load.dat", load.str()},
                                   {"plots.gp", script}})
    if (auto w = write_text(dir / name, text); !w) return {"plots skipped: " + w.error()};
  const std::string cmd = "cd '" + dir.string() + "' && gnuplot plots.gp 2>gnuplot.log";
  if (std::system(cmd.c_str()) != 0)
    return {"plots failed: gnuplot reported errors (see " + (dir / "gnuplot.log").string() + ")"};
  return {"plots written: " + (dir / "latency_cdf.svg").string() + ", " +
          (dir / "node_load.svg").string()};
}

}  // namespace nightjar::simnet
