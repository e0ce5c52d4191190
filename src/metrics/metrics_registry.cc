#include "metrics/metrics_registry.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/log.h"

namespace wa::metrics {
namespace {

bool validName(std::string_view name, bool colon_allowed) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_allowed && c == ':');
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

[[noreturn]] void misuse(std::string_view what, std::string_view name) {
  core::logError("fatal: metrics: ", what, ": ", name);
  std::abort();
}

void checkNames(std::string_view name, const Labels& labels) {
  if (!validName(name, true)) misuse("invalid metric name", name);
  for (const auto& [label, value] : labels) {
    // "le" belongs to histogram buckets; "__" names are reserved for Prometheus itself.
    if (!validName(label, false) || label == "le" || label.rfind("__", 0) == 0) {
      misuse("invalid label name", label);
    }
  }
}

// HELP text escapes only backslash and newline.
std::string escapeHelp(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void header(std::string& out, std::string_view name, std::string_view help, const char* type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += escapeHelp(help);
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, std::string_view name, std::string_view labels, double value) {
  out += name;
  out += labels;
  out += ' ';
  out += formatMetricValue(value);
  out += '\n';
}

// Labels plus one more pair at the end (le for buckets), rendered.
std::string withLabel(const std::string& rendered, std::string_view name, std::string_view value) {
  std::string extra = std::string(name) + "=\"" + std::string(value) + "\"";
  if (rendered.empty()) return "{" + extra + "}";
  return rendered.substr(0, rendered.size() - 1) + "," + extra + "}";
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1) {}

void Histogram::observe(double value) {
  if (std::isnan(value)) return;
  // Buckets are "less than or equal": the first bound not below value.
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
  ++counts_[static_cast<size_t>(it - bounds_.begin())];
  ++count_;
  sum_ += value;
}

std::string renderLabels(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (const auto& [name, value] : labels) {
    if (out.size() > 1) out += ',';
    out += name;
    out += "=\"";
    for (char c : value) {
      if (c == '\\') {
        out += "\\\\";
      } else if (c == '"') {
        out += "\\\"";
      } else if (c == '\n') {
        out += "\\n";
      } else {
        out += c;
      }
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::string formatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  const double magnitude = std::fabs(value);
  // Whole numbers (counts, bytes) as integers; other ordinary magnitudes in plain decimal
  // (0.0005 rather than 5e-04); only the extremes in exponent form. All shortest
  // round-trip, so nothing is lost.
  std::to_chars_result r{};
  if (magnitude < 9007199254740992.0 && value == std::trunc(value)) {
    r = std::to_chars(buffer, buffer + sizeof buffer, static_cast<int64_t>(value));
  } else if (magnitude >= 1e-6 && magnitude < 1e15) {
    r = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed);
  } else {
    r = std::to_chars(buffer, buffer + sizeof buffer, value);
  }
  if (r.ec != std::errc()) return "NaN";
  const char* const end = r.ptr;
  return std::string(static_cast<const char*>(buffer), end);
}

void MetricsWriter::gauge(std::string_view name, std::string_view help, const Labels& labels,
                          double value) {
  add(name, help, "gauge", labels, value);
}

void MetricsWriter::counter(std::string_view name, std::string_view help, const Labels& labels,
                            double value) {
  add(name, help, "counter", labels, value);
}

void MetricsWriter::add(std::string_view name, std::string_view help, const char* type,
                        const Labels& labels, double value) {
  checkNames(name, labels);
  auto it = std::find_if(families_.begin(), families_.end(),
                         [&](const Family& f) { return f.name == name; });
  if (it == families_.end()) {
    families_.push_back(Family{std::string(name), std::string(help), type, {}});
    it = families_.end() - 1;
  } else if (std::strcmp(it->type, type) != 0) {
    misuse("metric reported with two types", name);
  }
  it->series.emplace_back(renderLabels(labels), value);
}

MetricsRegistry::Family& MetricsRegistry::family(std::string_view name, std::string_view help,
                                                 const char* type) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    order_.emplace_back(name);
    it = families_.emplace(std::string(name), Family{std::string(help), type, {}, {}, {}}).first;
  } else if (std::strcmp(it->second.type, type) != 0) {
    misuse("metric registered with two types", name);
  }
  return it->second;
}

Counter& MetricsRegistry::counter(std::string_view name, std::string_view help,
                                  const Labels& labels) {
  checkNames(name, labels);
  Family& f = family(name, help, "counter");
  auto& slot = f.counters[renderLabels(labels)];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Histogram& MetricsRegistry::histogram(std::string_view name, std::string_view help,
                                      const std::vector<double>& bounds, const Labels& labels) {
  checkNames(name, labels);
  if (!std::is_sorted(bounds.begin(), bounds.end()) ||
      std::adjacent_find(bounds.begin(), bounds.end()) != bounds.end()) {
    misuse("histogram buckets not strictly ascending", name);
  }
  Family& f = family(name, help, "histogram");
  if (f.histograms.empty()) {
    f.bounds = bounds;
  } else if (f.bounds != bounds) {
    misuse("histogram registered with two sets of buckets", name);
  }
  auto& slot = f.histograms[renderLabels(labels)];
  if (!slot) slot = std::make_unique<Histogram>(bounds);
  return *slot;
}

std::string MetricsRegistry::render() const {
  std::string out;
  for (const std::string& name : order_) {
    const Family& f = families_.find(name)->second;
    header(out, name, f.help, f.type);
    for (const auto& [labels, counter] : f.counters) sample(out, name, labels, counter->value());
    for (const auto& [labels, histogram] : f.histograms) {
      uint64_t cumulative = 0;
      const auto& counts = histogram->bucketCounts();
      for (size_t i = 0; i < counts.size(); ++i) {
        cumulative += counts[i];
        const std::string le =
            i < f.bounds.size() ? formatMetricValue(f.bounds[i]) : std::string("+Inf");
        sample(out, name + "_bucket", withLabel(labels, "le", le), static_cast<double>(cumulative));
      }
      sample(out, name + "_sum", labels, histogram->sum());
      sample(out, name + "_count", labels, static_cast<double>(histogram->count()));
    }
  }
  MetricsWriter writer;
  for (const Collector& collect : collectors_) collect(writer);
  for (MetricsWriter::Family& f : writer.families_) {
    if (families_.find(f.name) != families_.end())
      misuse("collector reports a registered metric", f.name);
    header(out, f.name, f.help, f.type);
    std::stable_sort(f.series.begin(), f.series.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [labels, value] : f.series) sample(out, f.name, labels, value);
  }
  return out;
}

}  // namespace wa::metrics
