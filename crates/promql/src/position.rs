//! Where a parse error is. The parser reports what is wrong but not where,
//! so the expression is re-read with a small tokenizer and a checker for the
//! mistakes people make: unbalanced brackets, an operator or the end of input
//! where an operand belongs, two operands in a row. When that finds nothing
//! (a type error, say), a name the message quotes is looked up instead.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    Open(u8),
    Close(u8),
    Operand,
    /// An identifier (metric or function name, or keyword-like word).
    Ident,
    Op,
    Comma,
    Other,
}

fn tokens(input: &str) -> Vec<(Tok, usize, String)> {
    let b = input.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' | b'\'' | b'`' => {
                i += 1;
                while i < b.len() && b[i] != c {
                    if b[i] == b'\\' && c != b'`' {
                        i += 1;
                    }
                    i += 1;
                }
                i = (i + 1).min(b.len());
                out.push((Tok::Operand, start, input[start..i].to_string()));
                continue;
            }
            b'(' | b'{' | b'[' => {
                i += 1;
                out.push((Tok::Open(c), start, String::new()));
                continue;
            }
            b')' | b'}' | b']' => {
                i += 1;
                out.push((Tok::Close(c), start, String::new()));
                continue;
            }
            b',' => {
                i += 1;
                out.push((Tok::Comma, start, String::new()));
                continue;
            }
            _ => {}
        }
        if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.' || b[i] == b'_') {
                i += 1;
            }
            out.push((Tok::Operand, start, input[start..i].to_string()));
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' || c == b':' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':') {
                i += 1;
            }
            let word = &input[start..i];
            let lower = word.to_ascii_lowercase();
            let t = match lower.as_str() {
                "and" | "or" | "unless" | "atan2" => Tok::Op,
                _ => Tok::Ident,
            };
            out.push((t, start, word.to_string()));
            continue;
        }
        // Operators, longest first.
        let two = input.get(i..i + 2).unwrap_or("");
        let len = if ["==", "!=", "<=", ">=", "=~", "!~"].contains(&two) { 2 } else { 1 };
        i += len.max(input[i..].chars().next().map_or(1, char::len_utf8));
        let op = &input[start..i];
        let t = match op {
            "+" | "-" | "*" | "/" | "%" | "^" | "==" | "!=" | "<=" | ">=" | "<" | ">" => Tok::Op,
            _ => Tok::Other,
        };
        out.push((t, start, op.to_string()));
    }
    out
}

const MODIFIERS: &[&str] = &["by", "without", "on", "ignoring", "group_left", "group_right"];

/// The byte offset of the first problem the checker finds.
fn check(input: &str) -> Option<usize> {
    let toks = tokens(input);
    let mut stack: Vec<(u8, usize)> = Vec::new();
    let mut want_operand = true;
    let mut i = 0;
    while i < toks.len() {
        let (t, pos, text) = &toks[i];
        // Inside braces and brackets the content is not expressions.
        if let Some((open, _)) = stack.last()
            && (*open == b'{' || *open == b'[')
        {
            match t {
                Tok::Close(c) => {
                    let want = if *open == b'{' { b'}' } else { b']' };
                    if *c != want {
                        return Some(*pos);
                    }
                    stack.pop();
                    want_operand = false;
                }
                Tok::Open(_) => return Some(*pos),
                _ => {}
            }
            i += 1;
            continue;
        }
        match t {
            Tok::Open(b'(') => {
                stack.push((b'(', *pos));
                want_operand = true;
            }
            Tok::Open(c) => {
                // `{` starts or continues a selector; `[` follows an operand.
                if *c == b'[' && want_operand {
                    return Some(*pos);
                }
                stack.push((*c, *pos));
            }
            Tok::Close(c) => {
                match stack.pop() {
                    Some((b'(', _)) if *c == b')' => {}
                    _ => return Some(*pos),
                }
                let empty_call = i > 0 && matches!(toks[i - 1].0, Tok::Open(b'('));
                if want_operand && !empty_call {
                    return Some(*pos);
                }
                want_operand = false;
            }
            Tok::Comma => {
                if want_operand || stack.last().is_none() {
                    return Some(*pos);
                }
                want_operand = true;
            }
            Tok::Op => {
                if want_operand {
                    if text == "+" || text == "-" {
                        i += 1;
                        continue;
                    }
                    return Some(*pos);
                }
                want_operand = true;
                // `bool` and matching modifiers may follow.
                while let Some((Tok::Ident, _, w)) = toks.get(i + 1) {
                    let w = w.to_ascii_lowercase();
                    if w == "bool" {
                        i += 1;
                    } else if MODIFIERS.contains(&w.as_str()) {
                        i += 1;
                        if let Some((Tok::Open(b'('), _, _)) = toks.get(i + 1) {
                            i = skip_parens(&toks, i + 1);
                        }
                    } else {
                        break;
                    }
                }
            }
            Tok::Ident => {
                let w = text.to_ascii_lowercase();
                if !want_operand && MODIFIERS.contains(&w.as_str()) {
                    // `sum(x) by (a)`.
                    if let Some((Tok::Open(b'('), _, _)) = toks.get(i + 1) {
                        i = skip_parens(&toks, i + 1);
                    }
                } else if !want_operand && w == "offset" {
                    if let Some((Tok::Op, _, s)) = toks.get(i + 1)
                        && s == "-"
                    {
                        i += 1;
                    }
                    if !matches!(toks.get(i + 1), Some((Tok::Operand, _, _))) {
                        return Some(toks.get(i + 1).map_or(input.len(), |t| t.1));
                    }
                    i += 1;
                } else if want_operand {
                    want_operand = false;
                    // An aggregation may put its modifier first: `sum by (a) (x)`.
                    if let Some((Tok::Ident, _, m)) = toks.get(i + 1)
                        && MODIFIERS[..2].contains(&m.to_ascii_lowercase().as_str())
                        && let Some((Tok::Open(b'('), _, _)) = toks.get(i + 2)
                    {
                        i = skip_parens(&toks, i + 2);
                    }
                    // A call's arguments follow.
                    if let Some((Tok::Open(b'('), _, _)) = toks.get(i + 1) {
                        want_operand = true;
                    }
                } else {
                    return Some(*pos);
                }
            }
            Tok::Operand => {
                if !want_operand {
                    return Some(*pos);
                }
                want_operand = false;
            }
            Tok::Other => {
                // `@` and `:` (in subquery brackets) need no checking here.
                if text != "@" && text != ":" {
                    return Some(*pos);
                }
                if text == "@" {
                    want_operand = false;
                    match toks.get(i + 1) {
                        Some((Tok::Operand, _, _)) => i += 1,
                        Some((Tok::Ident, _, w)) if w == "start" || w == "end" => {
                            i = skip_parens(&toks, i + 2);
                        }
                        Some((Tok::Op, _, s)) if s == "-" || s == "+" => i += 2,
                        other => return Some(other.map_or(input.len(), |t| t.1)),
                    }
                }
            }
        }
        i += 1;
    }
    if let Some((_, pos)) = stack.last() {
        return Some(*pos);
    }
    if want_operand {
        return Some(input.len());
    }
    None
}

/// Index of the token closing the parenthesis opened at `open`.
fn skip_parens(toks: &[(Tok, usize, String)], open: usize) -> usize {
    let mut depth = 0;
    for (j, t) in toks.iter().enumerate().skip(open) {
        match t.0 {
            Tok::Open(b'(') => depth += 1,
            Tok::Close(b')') => {
                depth -= 1;
                if depth == 0 {
                    return j;
                }
            }
            _ => {}
        }
    }
    toks.len()
}

/// Line and column (1-based, in characters) of a byte offset.
pub(crate) fn line_col(input: &str, offset: usize) -> (usize, usize) {
    let before = &input[..offset.min(input.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The position of the problem `message` describes in `input`.
pub(crate) fn locate(input: &str, message: &str) -> Option<(usize, usize)> {
    if let Some(off) = check(input) {
        return Some(line_col(input, off));
    }
    // A quoted name in the message (`function 'rate'`, `"foo"`).
    for q in ['\'', '"'] {
        let mut parts = message.split(q);
        parts.next();
        if let Some(name) = parts.next()
            && !name.is_empty()
            && let Some(off) = input.find(name)
        {
            return Some(line_col(input, off));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(q: &str) -> Option<(usize, usize)> {
        check(q).map(|o| line_col(q, o))
    }

    #[test]
    fn finds_the_mistake() {
        assert_eq!(at("sum(up"), Some((1, 4)));
        assert_eq!(at("foo{a=\"b\"} + "), Some((1, 14)));
        assert_eq!(at("1 +* 2"), Some((1, 4)));
        assert_eq!(at("rate(x[5m)"), Some((1, 10)));
        assert_eq!(at("foo bar"), Some((1, 5)));
        assert_eq!(at("sum(x))"), Some((1, 7)));
        assert_eq!(at("up{job=\"a\""), Some((1, 3)));
        assert_eq!(at("sum by (a)\n(x) +"), Some((2, 6)));
    }

    #[test]
    fn valid_expressions_pass() {
        for q in [
            "sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m])) / ignoring(code) group_left sum(x)",
            "-foo offset -5m @ start()",
            "time()",
            "x[5m:1m] @ 100",
            "a > bool on(b) group_right(c) d",
            "topk(3, sum(rate(x[1m])) without (instance))",
            "{__name__=~\"a|b\"} and on() vector(1)",
            "histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))",
            "1 - -2 ^ 3",
        ] {
            assert_eq!(check(q), None, "{q}");
        }
    }

    #[test]
    fn type_errors_point_at_the_quoted_name() {
        assert_eq!(
            locate("x + rate(y)", "expected type matrix in call to function 'rate', got vector"),
            Some((1, 5))
        );
    }
}
