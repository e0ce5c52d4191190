// MetricsRegistry: the text exposition format, byte for byte.
#include "metrics/metrics_registry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace wa::metrics {
namespace {

TEST(MetricsRegistryTest, CountersByLabelsSortedWithHeaders) {
  MetricsRegistry r;
  r.counter("wa_requests_total", "Requests.", {{"route", "/jobs"}, {"status", "202"}}).inc();
  r.counter("wa_requests_total", "Requests.", {{"route", "/health"}, {"status", "200"}}).inc(2);
  r.counter("wa_requests_total", "Requests.", {{"route", "/jobs"}, {"status", "202"}}).inc();
  r.counter("wa_plain_total", "No labels.").inc(0.5);
  EXPECT_EQ(r.render(),
            "# HELP wa_requests_total Requests.\n"
            "# TYPE wa_requests_total counter\n"
            "wa_requests_total{route=\"/health\",status=\"200\"} 2\n"
            "wa_requests_total{route=\"/jobs\",status=\"202\"} 2\n"
            "# HELP wa_plain_total No labels.\n"
            "# TYPE wa_plain_total counter\n"
            "wa_plain_total 0.5\n");
}

TEST(MetricsRegistryTest, CountersNeverGoDown) {
  Counter c;
  c.inc(3);
  c.inc(-1);
  EXPECT_EQ(c.value(), 3);
}

TEST(MetricsRegistryTest, HistogramBucketsAreCumulative) {
  MetricsRegistry r;
  Histogram& h = r.histogram("wa_wait_seconds", "Wait.", {0.1, 1, 10});
  h.observe(0.05);
  h.observe(0.1);  // on the bound: that bucket
  h.observe(5);
  h.observe(100);
  EXPECT_EQ(r.render(),
            "# HELP wa_wait_seconds Wait.\n"
            "# TYPE wa_wait_seconds histogram\n"
            "wa_wait_seconds_bucket{le=\"0.1\"} 2\n"
            "wa_wait_seconds_bucket{le=\"1\"} 2\n"
            "wa_wait_seconds_bucket{le=\"10\"} 3\n"
            "wa_wait_seconds_bucket{le=\"+Inf\"} 4\n"
            "wa_wait_seconds_sum 105.15\n"
            "wa_wait_seconds_count 4\n");
}

TEST(MetricsRegistryTest, HistogramWithLabelsPutsLeLast) {
  MetricsRegistry r;
  r.histogram("wa_h", "H.", {1}, {{"kind", "a"}}).observe(2);
  const std::string text = r.render();
  EXPECT_NE(text.find("wa_h_bucket{kind=\"a\",le=\"1\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("wa_h_bucket{kind=\"a\",le=\"+Inf\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("wa_h_count{kind=\"a\"} 1\n"), std::string::npos) << text;
}

TEST(MetricsRegistryTest, CollectorsRunAtRenderTime) {
  MetricsRegistry r;
  double depth = 1;
  r.addCollector([&depth](MetricsWriter& w) {
    w.gauge("wa_queue_depth", "Queued jobs.", {}, depth);
    w.gauge("wa_zone_celsius", "Zones.", {{"zone", "b"}}, 40);
    w.gauge("wa_zone_celsius", "Zones.", {{"zone", "a"}}, 30.5);
  });
  depth = 7;
  EXPECT_EQ(r.render(),
            "# HELP wa_queue_depth Queued jobs.\n"
            "# TYPE wa_queue_depth gauge\n"
            "wa_queue_depth 7\n"
            "# HELP wa_zone_celsius Zones.\n"
            "# TYPE wa_zone_celsius gauge\n"
            "wa_zone_celsius{zone=\"a\"} 30.5\n"
            "wa_zone_celsius{zone=\"b\"} 40\n");
}

TEST(MetricsRegistryTest, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(renderLabels({{"path", "a\"b\\c\nd"}}), "{path=\"a\\\"b\\\\c\\nd\"}");
  MetricsRegistry r;
  r.counter("wa_x_total", "Line one\nback\\slash").inc();
  EXPECT_EQ(r.render().substr(0, 40), "# HELP wa_x_total Line one\\nback\\\\slash\n");
}

TEST(MetricsRegistryTest, ValueFormatting) {
  EXPECT_EQ(formatMetricValue(0), "0");
  EXPECT_EQ(formatMetricValue(42), "42");
  EXPECT_EQ(formatMetricValue(0.25), "0.25");
  EXPECT_EQ(formatMetricValue(0.0005), "0.0005");
  EXPECT_EQ(formatMetricValue(1e21), "1e+21");
  EXPECT_EQ(formatMetricValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(formatMetricValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(formatMetricValue(std::nan("")), "NaN");
}

TEST(MetricsRegistryDeathTest, MisuseAborts) {
  EXPECT_DEATH(MetricsRegistry().counter("bad name", "x"), "invalid metric name");
  EXPECT_DEATH(MetricsRegistry().counter("ok_total", "x", {{"le", "1"}}), "invalid label name");
  EXPECT_DEATH(
      {
        MetricsRegistry r;
        r.counter("same", "x");
        r.histogram("same", "x", {1});
      },
      "two types");
}

}  // namespace
}  // namespace wa::metrics
