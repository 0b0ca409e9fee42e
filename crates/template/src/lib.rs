//! Go's `text/template` language (parse, execute) with the function sets Prometheus and Alertmanager give their templates.
