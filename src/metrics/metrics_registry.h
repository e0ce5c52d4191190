// MetricsRegistry: counters and histograms that the daemon updates as things happen, plus
// collectors that report values kept elsewhere (queue depth, host samples) when scraped,
// all rendered in the Prometheus text exposition format (version 0.0.4).
// Loop-thread only; series are created on first use and live as long as the registry.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wa::metrics {

// Label name/value pairs, in the order they are written out.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  // by must be >= 0: a counter only goes up (a negative step is ignored).
  void inc(double by = 1.0) {
    if (by > 0) value_ += by;
  }
  double value() const { return value_; }

 private:
  double value_ = 0;
};

class Histogram {
 public:
  // bounds: the buckets' upper bounds, ascending; "+Inf" is implied.
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  const std::vector<double>& bounds() const { return bounds_; }
  // Observations per bucket, not cumulative; one more entry than bounds (the +Inf one).
  const std::vector<uint64_t>& bucketCounts() const { return counts_; }
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  double sum_ = 0;
};

// What a collector reports during one render. All series of one name must come from the
// same collector; a name is one type with one help text.
class MetricsWriter {
 public:
  void gauge(std::string_view name, std::string_view help, const Labels& labels, double value);
  void counter(std::string_view name, std::string_view help, const Labels& labels, double value);

 private:
  friend class MetricsRegistry;
  struct Family {
    std::string name;
    std::string help;
    const char* type;
    std::vector<std::pair<std::string, double>> series;  // rendered labels, value
  };
  void add(std::string_view name, std::string_view help, const char* type, const Labels& labels,
           double value);
  std::vector<Family> families_;
};

class MetricsRegistry {
 public:
  // The series of name with these labels, created on first use. A name must match
  // [a-zA-Z_:][a-zA-Z0-9_:]* and label names [a-zA-Z_][a-zA-Z0-9_]*, and a name keeps one
  // type and one set of buckets: metric names come from code, so breaking this aborts.
  Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& histogram(std::string_view name, std::string_view help,
                       const std::vector<double>& bounds, const Labels& labels = {});

  using Collector = std::function<void(MetricsWriter&)>;
  // Collectors run at each render, after the registry's own series are written.
  void addCollector(Collector collector) { collectors_.push_back(std::move(collector)); }

  // The text exposition: per name "# HELP", "# TYPE", then its series sorted by labels.
  std::string render() const;

  // Content-Type of render()'s output.
  static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  struct Family {
    std::string help;
    const char* type;
    std::vector<double> bounds;                                    // histograms only
    std::map<std::string, std::unique_ptr<Counter>> counters;      // by rendered labels
    std::map<std::string, std::unique_ptr<Histogram>> histograms;  // by rendered labels
  };
  Family& family(std::string_view name, std::string_view help, const char* type);

  std::vector<std::string> order_;  // family names, first use first
  std::map<std::string, Family, std::less<>> families_;
  std::vector<Collector> collectors_;
};

// `{a="x",b="y"}` with values escaped (\\, \", \n), or "" for no labels.
std::string renderLabels(const Labels& labels);
// A sample value as the format writes it: shortest round-trip decimal, "+Inf", "NaN".
std::string formatMetricValue(double value);

}  // namespace wa::metrics
