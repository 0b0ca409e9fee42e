//! SLO specs — Sloth `prometheus/v1`, Sloth's Kubernetes `PrometheusServiceLevel`, OpenSLO — read and turned into Prometheus recording and alerting rules the way Sloth generates them.
