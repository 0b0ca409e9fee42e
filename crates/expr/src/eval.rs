//! Evaluation: named values come from a [`Host`], as do the functions beyond the
//! built-in ones (status functions, `hashFiles`). `&&`/`||` short-circuit and
//! return an operand; comparisons coerce as the runner does; `*` filters produce
//! arrays to which further indexes apply element-wise. Strings built by functions
//! count against a 1 MiB budget (two bytes a character, as the runner counts).

use std::sync::Arc;

use crate::parse::{BinOp, Index, Node};
use crate::value::{Array, Value, loose_cmp, loose_eq, parse_json};
use crate::{Error, ErrorKind};

/// The evaluation budget for strings functions build, in bytes.
pub const MAX_MEMORY: usize = 1024 * 1024;

/// What an expression reads from its surroundings.
pub trait Host {
    /// A named value (context); an unknown one is null.
    fn named_value(&self, name: &str) -> Value;

    /// A function the parse allowed beyond the built-in ones (lower-case name).
    fn call(&self, name: &str, args: &[Value]) -> Result<Value, String> {
        let _ = args;
        Err(format!("the function {name} is not available here"))
    }
}

/// A host with fixed named values and no extra functions.
impl Host for crate::value::Object {
    fn named_value(&self, name: &str) -> Value {
        self.get(name).cloned().unwrap_or(Value::Null)
    }
}

struct Eval<'a> {
    host: &'a dyn Host,
    memory: usize,
}

/// Evaluates a parsed expression (`None`, the empty expression, is null).
pub fn evaluate(node: Option<&Node>, host: &dyn Host) -> Result<Value, Error> {
    let Some(node) = node else { return Ok(Value::Null) };
    Eval { host, memory: 0 }.eval(node)
}

fn eval_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Evaluation, message, None)
}

/// An index as the runner reads it: as a string (primitives) and as a whole
/// non-negative number.
struct Idx {
    star: bool,
    key: Option<String>,
    int: Option<usize>,
}

impl Idx {
    fn of(v: &Value) -> Idx {
        let f = v.to_number();
        Idx {
            star: false,
            key: v.is_primitive().then(|| v.to_display()),
            int: (f.is_finite() && f >= 0.0).then(|| f.floor() as usize),
        }
    }
}

fn filtered(items: Vec<Value>) -> Value {
    Value::Array(Arc::new(Array { items, filtered: true }))
}

impl Eval<'_> {
    fn eval(&mut self, n: &Node) -> Result<Value, Error> {
        match n {
            Node::Literal(v) => Ok(v.clone()),
            Node::Named(name) => Ok(self.host.named_value(name)),
            Node::Group(e) => self.eval(e),
            Node::Not(e) => Ok(Value::Bool(!self.eval(e)?.truthy())),
            Node::Binary(op, a, b) => {
                let (a, b) = (self.eval(a)?, self.eval(b)?);
                let ord = || loose_cmp(&a, &b);
                use std::cmp::Ordering::{Greater, Less};
                Ok(Value::Bool(match op {
                    BinOp::Eq => loose_eq(&a, &b),
                    BinOp::Ne => !loose_eq(&a, &b),
                    BinOp::Gt => ord() == Some(Greater),
                    BinOp::Lt => ord() == Some(Less),
                    BinOp::Ge => loose_eq(&a, &b) || ord() == Some(Greater),
                    BinOp::Le => loose_eq(&a, &b) || ord() == Some(Less),
                }))
            }
            Node::Logical(and, args) => {
                let mut last = Value::Null;
                for a in args {
                    last = self.eval(a)?;
                    if last.truthy() != *and {
                        break;
                    }
                }
                Ok(last)
            }
            Node::Index(target, index) => {
                let idx = match index {
                    Index::Star => Idx { star: true, key: None, int: None },
                    Index::Expr(e) => Idx::of(&self.eval(e)?),
                };
                let t = self.eval(target)?;
                Ok(index_into(&t, &idx))
            }
            Node::Call(name, args) => {
                let args = args.iter().map(|a| self.eval(a)).collect::<Result<Vec<_>, _>>()?;
                let out = self.call(name, &args)?;
                if let Value::String(s) = &out {
                    self.memory += 2 * s.encode_utf16().count();
                    if self.memory > MAX_MEMORY {
                        return Err(eval_error("The maximum allowed memory size was exceeded"));
                    }
                }
                Ok(out)
            }
        }
    }

    fn call(&mut self, name: &str, a: &[Value]) -> Result<Value, Error> {
        // `contains` folds to lower case, `startsWith`/`endsWith` to upper case, as the
        // runner does (they differ for final sigma and dotted capital I).
        let pair = |x: &Value, y: &Value, fold: fn(&str) -> String| {
            (x.is_primitive() && y.is_primitive())
                .then(|| (fold(&x.to_display()), fold(&y.to_display())))
        };
        let lower_pair = |x: &Value, y: &Value| pair(x, y, str::to_lowercase);
        let upper_pair = |x: &Value, y: &Value| pair(x, y, crate::value::upper);
        Ok(match name {
            "contains" => Value::Bool(match &a[0] {
                Value::Array(arr) => arr.items.iter().any(|v| loose_eq(&a[1], v)),
                x => lower_pair(x, &a[1]).is_some_and(|(s, t)| s.contains(&t)),
            }),
            "startswith" => {
                Value::Bool(upper_pair(&a[0], &a[1]).is_some_and(|(s, t)| s.starts_with(&t)))
            }
            "endswith" => {
                Value::Bool(upper_pair(&a[0], &a[1]).is_some_and(|(s, t)| s.ends_with(&t)))
            }
            "format" => Value::from(format(&a[0].to_display(), &a[1..])?),
            "join" => match &a[0] {
                Value::Array(arr) => {
                    let sep = match a.get(1) {
                        Some(s) if s.is_primitive() => s.to_display(),
                        _ => ",".into(),
                    };
                    Value::from(
                        arr.items.iter().map(Value::to_display).collect::<Vec<_>>().join(&sep),
                    )
                }
                Value::Object(_) => Value::from(""),
                x => Value::from(x.to_display()),
            },
            "tojson" => Value::from(a[0].to_json_pretty()),
            "fromjson" => {
                let text = a[0].to_display();
                parse_json(&text).map_err(|e| eval_error(format!("fromJSON: {e}")))?
            }
            "case" => {
                let mut i = 0;
                while i + 1 < a.len() {
                    match &a[i] {
                        Value::Bool(true) => return Ok(a[i + 1].clone()),
                        Value::Bool(false) => {}
                        _ => {
                            return Err(eval_error(
                                "case predicate must evaluate to a boolean value",
                            ));
                        }
                    }
                    i += 2;
                }
                a[a.len() - 1].clone()
            }
            other => self.host.call(other, a).map_err(eval_error)?,
        })
    }
}

fn index_into(t: &Value, idx: &Idx) -> Value {
    match t {
        Value::Array(arr) if arr.filtered => {
            let mut out = Vec::new();
            for item in &arr.items {
                match item {
                    Value::Object(o) if idx.star => out.extend(o.values().cloned()),
                    Value::Object(o) => {
                        if let Some(v) = idx.key.as_deref().and_then(|k| o.get(k)) {
                            out.push(v.clone());
                        }
                    }
                    Value::Array(inner) if idx.star => out.extend(inner.items.iter().cloned()),
                    Value::Array(inner) => {
                        if let Some(v) = idx.int.and_then(|i| inner.items.get(i)) {
                            out.push(v.clone());
                        }
                    }
                    _ => {}
                }
            }
            filtered(out)
        }
        Value::Array(arr) if idx.star => filtered(arr.items.clone()),
        Value::Array(arr) => idx.int.and_then(|i| arr.items.get(i)).cloned().unwrap_or(Value::Null),
        Value::Object(o) if idx.star => filtered(o.values().cloned().collect()),
        Value::Object(o) => {
            idx.key.as_deref().and_then(|k| o.get(k)).cloned().unwrap_or(Value::Null)
        }
        _ if idx.star => filtered(Vec::new()),
        _ => Value::Null,
    }
}

/// `format('{0} and {1}', …)`: `{N}` replaced by argument N as a string, `{{` and
/// `}}` for literal braces.
pub fn format(fs: &str, args: &[Value]) -> Result<String, Error> {
    let invalid = || eval_error(format!("The following format string is invalid: {fs}"));
    let b = fs.as_bytes();
    let mut out = String::with_capacity(fs.len());
    let mut i = 0;
    while i < b.len() {
        let l = fs[i..].find('{').map(|p| p + i);
        let r = fs[i..].find('}').map(|p| p + i);
        match (l, r) {
            (Some(l), r) if r.is_none_or(|r| r > l) => {
                if b.get(l + 1) == Some(&b'{') {
                    out.push_str(&fs[i..=l]);
                    i = l + 2;
                    continue;
                }
                let digits = b[l + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                match r {
                    // `{N}`, or `{N…}` with format specifiers, which are ignored.
                    Some(r) if digits > 0 && r > l + 1 => {
                        let n: usize = fs[l + 1..l + 1 + digits].parse().map_err(|_| invalid())?;
                        let arg = args.get(n).ok_or_else(|| {
                            eval_error(format!(
                                "The following format string references more arguments than were supplied: {fs}"
                            ))
                        })?;
                        out.push_str(&fs[i..l]);
                        out.push_str(&arg.to_display());
                        i = r + 1;
                    }
                    _ => return Err(invalid()),
                }
            }
            (_, Some(r)) => {
                if b.get(r + 1) == Some(&b'}') {
                    out.push_str(&fs[i..=r]);
                    i = r + 2;
                } else {
                    return Err(invalid());
                }
            }
            (_, None) => {
                out.push_str(&fs[i..]);
                break;
            }
        }
    }
    Ok(out)
}
