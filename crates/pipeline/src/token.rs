//! The tree a workflow file is read into: GitHub's "template tokens" — strings,
//! sequences, mappings, expressions, booleans, numbers, null — each with its line and
//! column. Values that hold expressions stay tokens until the runner evaluates them
//! with the contexts of the moment (`env`, `with`, `runs-on`, …).

use andon_expr::{Host, Object, Value};
use andon_spec::diag::Pos;

/// One node of a read workflow.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub kind: Kind,
    pub pos: Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Seq(Vec<Token>),
    Map(Vec<(Token, Token)>),
    /// An expression (`${{ … }}` without the braces; a string with several pieces
    /// is one `format(…)` expression).
    Expr(String),
    /// `${{ insert }}` as a mapping key: the value's entries go into the mapping.
    Insert,
}

impl Token {
    pub fn new(kind: Kind, pos: Pos) -> Token {
        Token { kind, pos }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Token, Token)]> {
        match &self.kind {
            Kind::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Token]> {
        match &self.kind {
            Kind::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The value under `key` of a mapping (keys compared without regard to case).
    pub fn get(&self, key: &str) -> Option<&Token> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str().is_some_and(|s| s.eq_ignore_ascii_case(key)))
            .map(|(_, v)| v)
    }

    /// A string, or the items of a sequence of strings (filters, `needs`, labels).
    pub fn strings(&self) -> Vec<String> {
        match &self.kind {
            Kind::String(s) => vec![s.clone()],
            Kind::Seq(items) => {
                items.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect()
            }
            _ => Vec::new(),
        }
    }

    /// Whether an expression appears anywhere in the token.
    pub fn has_expressions(&self) -> bool {
        match &self.kind {
            Kind::Expr(_) => true,
            Kind::Seq(items) => items.iter().any(Token::has_expressions),
            Kind::Map(entries) => {
                entries.iter().any(|(k, v)| k.has_expressions() || v.has_expressions())
            }
            _ => false,
        }
    }

    /// The token as a plain value (expressions as their text); for display.
    pub fn literal(&self) -> Value {
        match &self.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Number(n) => Value::Number(*n),
            Kind::String(s) => Value::from(s.as_str()),
            Kind::Expr(e) => Value::from(format!("${{{{ {e} }}}}")),
            Kind::Insert => Value::from("${{ insert }}"),
            Kind::Seq(items) => Value::from(items.iter().map(Token::literal).collect::<Vec<_>>()),
            Kind::Map(entries) => Value::from(
                entries
                    .iter()
                    .map(|(k, v)| (k.literal().to_display(), v.literal()))
                    .collect::<Object>(),
            ),
        }
    }

    /// The text as written, near enough for display: a string as it is, an
    /// expression as `${{ … }}`, a `format(…)` built from a string with pieces as
    /// that string with each expression shown as `${{ … }}`.
    pub fn source_text(&self) -> String {
        match &self.kind {
            Kind::String(s) => s.clone(),
            Kind::Expr(e) => {
                let Some(rest) = e.strip_prefix("format('") else {
                    return format!("${{{{ {e} }}}}");
                };
                let mut out = String::new();
                let mut chars = rest.chars().peekable();
                while let Some(c) = chars.next() {
                    match c {
                        '\'' if chars.peek() == Some(&'\'') => {
                            chars.next();
                            out.push('\'');
                        }
                        '\'' => break,
                        '{' if chars.peek() == Some(&'{') => {
                            chars.next();
                            out.push('{');
                        }
                        '}' if chars.peek() == Some(&'}') => {
                            chars.next();
                            out.push('}');
                        }
                        '{' => {
                            for d in chars.by_ref() {
                                if d == '}' {
                                    break;
                                }
                            }
                            out.push_str("${{ … }}");
                        }
                        c => out.push(c),
                    }
                }
                out
            }
            _ => self.literal().to_display(),
        }
    }

    /// Evaluates the token with the contexts of the moment: expressions are
    /// evaluated (named values and functions were checked when the file was read),
    /// everything else becomes the plain value.
    pub fn evaluate(&self, host: &dyn Host) -> Result<Value, andon_expr::Error> {
        Ok(match &self.kind {
            Kind::Expr(e) => andon_expr::eval_str(e, crate::schema::everything(), host)?,
            Kind::Seq(items) => {
                Value::from(items.iter().map(|t| t.evaluate(host)).collect::<Result<Vec<_>, _>>()?)
            }
            Kind::Map(entries) => {
                let mut o = Object::new();
                for (k, v) in entries {
                    let value = v.evaluate(host)?;
                    if k.kind == Kind::Insert {
                        if let Value::Object(inserted) = &value {
                            for (ik, iv) in inserted.iter() {
                                o.insert(ik, iv.clone());
                            }
                        }
                        continue;
                    }
                    o.insert(k.evaluate(host)?.to_display(), value);
                }
                Value::from(o)
            }
            _ => self.literal(),
        })
    }

    /// Evaluates to a string (expressions' values written as strings).
    pub fn evaluate_string(&self, host: &dyn Host) -> Result<String, andon_expr::Error> {
        self.evaluate(host).map(|v| v.to_display())
    }
}
