//! Prometheus recording and alerting rules: rule files with positions, group evaluation, alert states, and the `promtool test rules` runner.
