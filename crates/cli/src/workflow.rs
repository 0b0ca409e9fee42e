//! `andon workflow …`: GitHub Actions workflow tools that need no server.

use std::path::Path;

use andon_expr::{Allowed, Function, Host, Object, STATUS_FUNCTIONS, Value};

use crate::output;

/// The contexts a workflow can name; `--context` may add more.
pub const CONTEXTS: &[&str] = &[
    "github", "env", "vars", "job", "jobs", "steps", "runner", "secrets", "strategy", "matrix",
    "needs", "inputs",
];

/// Named values from a context file; the status functions read `job.status`
/// (default `success`), as they would in a step.
struct FileHost(Object);

impl Host for FileHost {
    fn named_value(&self, name: &str) -> Value {
        self.0.named_value(name)
    }

    fn call(&self, name: &str, _args: &[Value]) -> Result<Value, String> {
        let status = match self.0.get("job") {
            Some(Value::Object(j)) => j.get("status").map(Value::to_display),
            _ => None,
        }
        .unwrap_or_else(|| "success".into());
        Ok(Value::Bool(match name {
            "always" => true,
            "success" | "failure" | "cancelled" => status.eq_ignore_ascii_case(name),
            other => return Err(format!("the function {other} is not available here")),
        }))
    }
}

/// `andon workflow expr EXPR [--context FILE]`.
pub fn expr(text: &str, context: Option<&Path>) -> u8 {
    let contexts = match context {
        None => Object::new(),
        Some(path) => {
            let read = std::fs::read_to_string(path)
                .map_err(|e| e.to_string())
                .and_then(|t| andon_expr::parse_json(&t));
            match read {
                Ok(Value::Object(o)) => (*o).clone(),
                Ok(other) => {
                    output::error(&format!(
                        "{}: the contexts must be a JSON object keyed by context name, found {}",
                        path.display(),
                        other.kind()
                    ));
                    return 2;
                }
                Err(e) => {
                    output::error(&format!("{}: {e}", path.display()));
                    return 2;
                }
            }
        }
    };
    let mut named: Vec<String> = CONTEXTS.iter().map(|s| s.to_string()).collect();
    named.extend(contexts.iter().map(|(k, _)| k.to_string()));
    let allowed = Allowed {
        named_values: named,
        functions: STATUS_FUNCTIONS.iter().map(|n| Function { name: n, min: 0, max: 0 }).collect(),
    };
    match andon_expr::eval_str(text, &allowed, &FileHost(contexts)) {
        Ok(v) => {
            output::line(&v.to_json_pretty());
            0
        }
        Err(e) => {
            output::error(&format!("{} error: {}", e.kind.as_str(), e.describe(text)));
            1
        }
    }
}
