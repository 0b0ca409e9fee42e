//! Reading a workflow file against the schema table: every key and value checked
//! (unknown keys, types, required keys, duplicates without regard to case, the
//! "which kind of job/step is this" narrowing), scalars coerced to strings where a
//! string is wanted, and every `${{ }}` parsed against the named values and
//! functions its place allows. The result is a token tree plus every problem, each
//! with its line and column.

use andon_expr::{expression_spans, parse};
use andon_spec::diag::Pos;
use andon_spec::yaml::{Node, Value as Y};

use crate::schema::{Mapping, Ty, allowed};
use crate::token::{Kind, Token};

/// A problem in a workflow file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub pos: Option<Pos>,
    pub message: String,
}

impl Problem {
    pub fn at(pos: Pos, message: impl Into<String>) -> Problem {
        Problem { pos: Some(pos), message: message.into() }
    }

    /// `file (Line: L, Col: C): message`, as GitHub words it.
    pub fn render(&self, file: &str) -> String {
        match self.pos {
            Some(p) => format!("{file} (Line: {}, Col: {}): {}", p.line, p.col, self.message),
            None => format!("{file}: {}", self.message),
        }
    }
}

pub(crate) struct Reader {
    pub problems: Vec<Problem>,
    depth: usize,
    max_depth: usize,
}

const INSERT_EMBEDDED: &str = "The directive 'insert' is not allowed in this context. Directives are not supported for expressions that are embedded within a string. Directives are only supported when the entire value is an expression.";

/// A number as .NET writes it with `G15`, the way the runner turns numbers into
/// strings: 15 significant digits, scientific notation from an exponent of 15 up or
/// below -4.
pub fn g15(n: f64) -> String {
    if let Some(s) = andon_expr::special_number(n) {
        return s;
    }
    let (digits, exp) = andon_expr::significant_digits(n, Some(15));
    let digits = digits.as_str();
    let sign = if n < 0.0 { "-" } else { "" };
    if (-5 < exp) && exp < 15 {
        let k = digits.len() as i32;
        let s = if exp >= 0 {
            let int_len = (exp + 1) as usize;
            if digits.len() <= int_len {
                format!("{digits}{}", "0".repeat(int_len - digits.len()))
            } else {
                format!("{}.{}", &digits[..int_len], &digits[int_len..])
            }
        } else {
            format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
        };
        let _ = k;
        format!("{sign}{s}")
    } else {
        let rest = &digits[1..];
        let m = if rest.is_empty() {
            digits[..1].to_string()
        } else {
            format!("{}.{rest}", &digits[..1])
        };
        format!("{sign}{m}E{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    }
}

/// A YAML scalar's text as a string value (what a string field receives).
fn scalar_text(v: &Y) -> Option<String> {
    Some(match v {
        Y::Null => String::new(),
        Y::Bool(b) => b.to_string(),
        Y::Int(i) => g15(*i as f64),
        Y::Float(f) => g15(*f),
        Y::Str(s) => s.clone(),
        Y::Seq(_) | Y::Map(_) => return None,
    })
}

/// Whether a scalar is of a type.
fn fits(ty: &Ty, v: &Y) -> bool {
    match (ty, v) {
        (Ty::Null, Y::Null) | (Ty::Bool, Y::Bool(_)) => true,
        (Ty::Number, Y::Int(_) | Y::Float(_)) => true,
        (Ty::Str, Y::Str(_)) => true,
        (Ty::NonEmpty, Y::Str(s)) => !s.is_empty(),
        (Ty::Const(c), Y::Str(s)) => s == c,
        (Ty::Values(vs), Y::Str(s)) => vs.contains(&s.as_str()),
        _ => false,
    }
}

/// How a rejected scalar is quoted in messages.
fn shown(v: &Y) -> String {
    scalar_text(v).unwrap_or_default()
}

fn literal(n: &Node) -> Token {
    let kind = match &n.value {
        Y::Null => Kind::Null,
        Y::Bool(b) => Kind::Bool(*b),
        Y::Int(i) => Kind::Number(*i as f64),
        Y::Float(f) => Kind::Number(*f),
        Y::Str(s) => Kind::String(s.clone()),
        Y::Seq(items) => Kind::Seq(items.iter().map(literal).collect()),
        Y::Map(entries) => {
            Kind::Map(entries.iter().map(|(k, v)| (literal(k), literal(v))).collect())
        }
    };
    Token::new(kind, n.pos)
}

impl Reader {
    pub(crate) fn new(max_depth: usize) -> Reader {
        Reader { problems: Vec::new(), depth: 0, max_depth }
    }

    /// Enters a collection; false (and one problem) past the depth limit.
    fn enter(&mut self) -> bool {
        self.depth += 1;
        if self.depth > self.max_depth {
            if !self.problems.iter().any(|p| p.pos.is_none()) {
                self.problems
                    .push(Problem { pos: None, message: "Maximum object depth exceeded".into() });
            }
            return false;
        }
        true
    }

    fn err(&mut self, pos: Pos, message: impl Into<String>) {
        self.problems.push(Problem::at(pos, message));
    }

    /// A string that may hold `${{ }}`: a literal string, one expression, or a
    /// `format(…)` joining the pieces. `None` after a problem.
    fn template(&mut self, s: &str, pos: Pos, ctx: &[&str]) -> Option<Token> {
        if !s.contains("${{") {
            return Some(Token::new(Kind::String(s.to_string()), pos));
        }
        if ctx.is_empty() {
            self.err(pos, "A template expression is not allowed in this context");
            return None;
        }
        let spans = match expression_spans(s) {
            Ok(spans) => spans,
            Err(_) => {
                self.err(
                    pos,
                    "The expression is not closed. An unescaped ${{ sequence was found, but the closing }} sequence was not found.",
                );
                return None;
            }
        };
        let allowed = allowed(ctx);
        let mut literal = String::new();
        let mut args = Vec::new();
        let mut last = 0;
        for (start, inner, end, after) in &spans {
            literal.push_str(&s[last..*start].replace('{', "{{").replace('}', "}}"));
            let expr = s[*inner..*end].trim_matches(char::is_whitespace);
            if expr.is_empty() {
                self.err(pos, "An expression was expected");
                return None;
            }
            let whole = spans.len() == 1 && *start == 0 && *after == s.len();
            if expr.eq_ignore_ascii_case("insert") {
                if whole {
                    return Some(Token::new(Kind::Insert, pos));
                }
                self.err(pos, INSERT_EMBEDDED);
                return None;
            }
            match parse(expr, &allowed) {
                Err(e) => {
                    self.err(pos, e.describe(expr));
                    return None;
                }
                // A lone string literal is just that string.
                Ok(Some(andon_expr::Node::Literal(andon_expr::Value::String(lit)))) if whole => {
                    return Some(Token::new(Kind::String(lit.to_string()), pos));
                }
                Ok(_) if whole => return Some(Token::new(Kind::Expr(expr.to_string()), pos)),
                Ok(_) => {}
            }
            literal.push_str(&format!("{{{}}}", args.len()));
            args.push(expr.to_string());
            last = *after;
        }
        literal.push_str(&s[last..].replace('{', "{{").replace('}', "}}"));
        let mut f = String::from("format('");
        f.push_str(&literal.replace('\'', "''"));
        f.push('\'');
        for a in &args {
            f.push_str(", ");
            f.push_str(a);
        }
        f.push(')');
        if f.encode_utf16().count() > andon_expr::MAX_LENGTH {
            self.err(pos, format!("Exceeded max expression length {}", andon_expr::MAX_LENGTH));
            return None;
        }
        Some(Token::new(Kind::Expr(f), pos))
    }

    /// Reads `n` as type `ty`; expressions may use `ctx`.
    pub(crate) fn read(&mut self, n: &Node, ty: &Ty, ctx: &[&str]) -> Option<Token> {
        if matches!(n.value, Y::Seq(_) | Y::Map(_)) {
            let t = if self.enter() { self.read_inner(n, ty, ctx) } else { None };
            self.depth -= 1;
            return t;
        }
        self.read_inner(n, ty, ctx)
    }

    fn read_inner(&mut self, n: &Node, ty: &Ty, ctx: &[&str]) -> Option<Token> {
        match ty {
            Ty::Ctx(list, inner) => self.read_inner(n, inner, list),
            Ty::Any => self.any(n, ctx),
            Ty::OneOf(alts) => match &n.value {
                Y::Seq(_) => match alts.iter().find(|a| matches!(a, Ty::Seq(_))) {
                    Some(a) => self.read_inner(n, a, ctx),
                    None => {
                        self.err(n.pos, "A sequence was not expected");
                        None
                    }
                },
                Y::Map(_) => {
                    let maps: Vec<&Mapping> = alts
                        .iter()
                        .filter_map(|a| match a {
                            Ty::Map(m) => Some(*m),
                            _ => None,
                        })
                        .collect();
                    match maps.as_slice() {
                        [] => {
                            self.err(n.pos, "A mapping was not expected");
                            None
                        }
                        _ => self.mapping(n, &maps, ctx),
                    }
                }
                _ => self.scalar(n, alts, ctx),
            },
            Ty::Seq(item) => match &n.value {
                Y::Seq(items) => {
                    let mut out = Vec::new();
                    for i in items {
                        if let Some(t) = self.read(i, item, ctx) {
                            out.push(t);
                        }
                    }
                    Some(Token::new(Kind::Seq(out), n.pos))
                }
                Y::Map(_) => {
                    self.err(n.pos, "A mapping was not expected");
                    None
                }
                _ => self.scalar(n, &[ty], ctx),
            },
            Ty::Map(m) => match &n.value {
                Y::Map(_) => self.mapping(n, &[m], ctx),
                Y::Seq(_) => {
                    self.err(n.pos, "A sequence was not expected");
                    None
                }
                _ => self.scalar(n, &[ty], ctx),
            },
            _ => match &n.value {
                Y::Seq(_) => {
                    self.err(n.pos, "A sequence was not expected");
                    None
                }
                Y::Map(_) => {
                    self.err(n.pos, "A mapping was not expected");
                    None
                }
                _ => self.scalar(n, &[ty], ctx),
            },
        }
    }

    fn any(&mut self, n: &Node, ctx: &[&str]) -> Option<Token> {
        if matches!(n.value, Y::Seq(_) | Y::Map(_)) {
            let t = if self.enter() { self.any_inner(n, ctx) } else { None };
            self.depth -= 1;
            return t;
        }
        self.any_inner(n, ctx)
    }

    fn any_inner(&mut self, n: &Node, ctx: &[&str]) -> Option<Token> {
        match &n.value {
            Y::Str(s) => self.template(s, n.pos, ctx),
            Y::Seq(items) => {
                let out = items.iter().filter_map(|i| self.any(i, ctx)).collect();
                Some(Token::new(Kind::Seq(out), n.pos))
            }
            Y::Map(entries) => {
                let mut out = Vec::new();
                for (k, v) in entries {
                    let key = Token::new(Kind::String(shown(&k.value)), k.pos);
                    if let Some(v) = self.any(v, ctx) {
                        out.push((key, v));
                    }
                }
                Some(Token::new(Kind::Map(out), n.pos))
            }
            _ => Some(literal(n)),
        }
    }

    fn scalar(&mut self, n: &Node, alts: &[&Ty], ctx: &[&str]) -> Option<Token> {
        if let Y::Str(s) = &n.value
            && s.contains("${{")
        {
            return self.scalar_template(n, s, alts, ctx);
        }
        if alts.iter().any(|a| fits(a, &n.value)) {
            return Some(literal(n));
        }
        if !matches!(n.value, Y::Str(_))
            && let Some(text) = scalar_text(&n.value)
        {
            let as_str = Y::Str(text.clone());
            if alts.iter().any(|a| fits(a, &as_str)) {
                return Some(Token::new(Kind::String(text), n.pos));
            }
        }
        self.err(n.pos, format!("Unexpected value '{}'", shown(&n.value)));
        None
    }

    fn scalar_template(&mut self, n: &Node, s: &str, alts: &[&Ty], ctx: &[&str]) -> Option<Token> {
        let takes = |v: &Y| alts.iter().any(|a| fits(a, v));
        let before = self.problems.len();
        let Some(t) = self.template(s, n.pos, ctx) else {
            // The text stays as written: a string field takes it; others refuse it too.
            if !ctx.is_empty() && !takes(&n.value) && self.problems.len() > before {
                self.err(n.pos, format!("Unexpected value '{s}'"));
            }
            return None;
        };
        match &t.kind {
            Kind::Insert => {
                self.err(n.pos, INSERT_EMBEDDED);
                None
            }
            // An expression that was only a string literal is that string.
            Kind::String(lit) if !takes(&Y::Str(lit.clone())) => {
                self.err(n.pos, format!("Unexpected value '{lit}'"));
                None
            }
            _ => Some(t),
        }
    }

    /// A mapping read against one or more candidate shapes (a job, a step), narrowed
    /// key by key.
    fn mapping(&mut self, n: &Node, cands: &[&Mapping], ctx: &[&str]) -> Option<Token> {
        let Y::Map(entries) = &n.value else { return None };
        let mut left: Vec<&Mapping> = cands.to_vec();
        let mut out = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        let mut expr_key = false;
        for (k, v) in entries {
            let key = shown(&k.value);
            if seen.iter().any(|s| s.eq_ignore_ascii_case(&key)) {
                self.err(k.pos, format!("'{key}' is already defined"));
                continue;
            }
            seen.push(key.clone());
            if key.contains("${{") {
                let loose_ctx = ctx;
                match self.template(&key, k.pos, loose_ctx) {
                    Some(kt) => {
                        expr_key = true;
                        if let Some(vt) = self.any(v, ctx) {
                            out.push((kt, vt));
                        }
                    }
                    None => continue,
                }
                continue;
            }
            let having: Vec<&Mapping> =
                left.iter().copied().filter(|m| m.props.iter().any(|p| p.name == key)).collect();
            if let Some(prop) = having.first().and_then(|m| m.props.iter().find(|p| p.name == key))
            {
                left = having;
                if let Some(vt) = self.read(v, prop.ty, ctx) {
                    out.push((Token::new(Kind::String(key), k.pos), vt));
                }
                continue;
            }
            match left.iter().find_map(|m| m.loose) {
                Some((kt, vt)) => {
                    let Some(key_tok) = self.read(k, kt, &[]) else { continue };
                    let key_tok = match key_tok.kind {
                        Kind::String(_) => key_tok,
                        _ => Token::new(Kind::String(key), k.pos),
                    };
                    if let Some(val) = self.read(v, vt, ctx) {
                        out.push((key_tok, val));
                    }
                }
                None => self.err(k.pos, format!("Unexpected value '{key}'")),
            }
        }
        if left.len() > 1 {
            let mut unique: Vec<&str> = Vec::new();
            for m in &left {
                for p in m.props {
                    let count =
                        left.iter().filter(|o| o.props.iter().any(|q| q.name == p.name)).count();
                    if count == 1 && !unique.contains(&p.name) {
                        unique.push(p.name);
                    }
                }
            }
            unique.sort_unstable();
            self.err(
                n.pos,
                format!(
                    "There's not enough info to determine what you meant. Add one of these properties: {}",
                    unique.join(", ")
                ),
            );
        } else if let Some(m) = left.first()
            && !expr_key
        {
            for p in m.props.iter().filter(|p| p.required) {
                if !seen.iter().any(|s| s == p.name) {
                    self.err(n.pos, format!("Required property is missing: {}", p.name));
                }
            }
        }
        Some(Token::new(Kind::Map(out), n.pos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_the_runner_writes_them_into_strings() {
        for (n, want) in [
            (1587106672383762434.0, "1.58710667238376E+18"),
            (1.7976931348623157e308, "1.79769313486232E+308"),
            (0.845_512_408_225_570_1, "0.84551240822557"),
            (123456.123456, "123456.123456"),
            (5.0, "5"),
            (13313073.0, "13313073"),
            (0.0001, "0.0001"),
            (0.00001, "1E-05"),
            (-2.5, "-2.5"),
            (1e15, "1E+15"),
            (123456789012345.0, "123456789012345"),
        ] {
            assert_eq!(g15(n), want, "{n}");
        }
    }
}
