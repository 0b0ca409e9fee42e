//! Lexing and parsing: tokens with their position (in UTF-16 units, as the runner
//! counts), a recursive-descent parser with the runner's precedence (`!`, then
//! `< <= > >=`, then `== !=`, then `&&`, then `||`), its depth limit (50) and
//! length limit (21,000), and its checks of named values and function arity at
//! parse time.

use crate::value::{Value, parse_number};
use crate::{Error, ErrorKind};

pub const MAX_DEPTH: usize = 50;
pub const MAX_LENGTH: usize = 21_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Bang,
    BangEq,
    EqEq,
    Gt,
    Ge,
    Lt,
    Le,
    And,
    Or,
    Star,
    Number,
    String,
    Ident,
    True,
    False,
    Null,
    Eof,
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    lexeme: String,
    /// The number or the unquoted string.
    value: Option<Value>,
    /// 0-based offset in UTF-16 units.
    pos: usize,
}

impl Token {
    /// How the token is named in messages.
    fn shown(&self) -> String {
        match (self.tok, &self.value) {
            (Tok::Eof, _) => "EOF".into(),
            (Tok::String, Some(Value::String(s))) => s.to_string(),
            _ => self.lexeme.clone(),
        }
    }
}

/// The operators of binary comparisons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// An index: `[*]`/`.*`, or an expression (`.name` is the string literal `name`).
#[derive(Clone, Debug)]
pub enum Index {
    Star,
    Expr(Box<Node>),
}

/// A parsed expression.
#[derive(Clone, Debug)]
pub enum Node {
    Literal(Value),
    /// A named value (context), by its name as written.
    Named(String),
    Index(Box<Node>, Index),
    Not(Box<Node>),
    Binary(BinOp, Box<Node>, Box<Node>),
    /// `&&` (true) or `||` (false) over two or more operands.
    Logical(bool, Vec<Node>),
    Group(Box<Node>),
    /// A function call; the name lower-cased.
    Call(String, Vec<Node>),
}

impl Node {
    /// Whether a call to one of `names` (lower case) appears anywhere in the tree.
    pub fn calls_any(&self, names: &[&str]) -> bool {
        match self {
            Node::Literal(_) | Node::Named(_) => false,
            Node::Index(t, i) => {
                t.calls_any(names) || matches!(i, Index::Expr(e) if e.calls_any(names))
            }
            Node::Not(e) | Node::Group(e) => e.calls_any(names),
            Node::Binary(_, a, b) => a.calls_any(names) || b.calls_any(names),
            Node::Logical(_, args) => args.iter().any(|a| a.calls_any(names)),
            Node::Call(n, args) => {
                names.contains(&n.as_str()) || args.iter().any(|a| a.calls_any(names))
            }
        }
    }

    /// The named values the expression reads (lower case, without duplicates).
    pub fn named_values(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.walk(&mut |n| {
            if let Node::Named(name) = n {
                let l = name.to_ascii_lowercase();
                if !out.contains(&l) {
                    out.push(l);
                }
            }
        });
        out
    }

    fn walk(&self, f: &mut dyn FnMut(&Node)) {
        f(self);
        match self {
            Node::Literal(_) | Node::Named(_) => {}
            Node::Index(t, i) => {
                t.walk(f);
                if let Index::Expr(e) = i {
                    e.walk(f);
                }
            }
            Node::Not(e) | Node::Group(e) => e.walk(f),
            Node::Binary(_, a, b) => {
                a.walk(f);
                b.walk(f);
            }
            Node::Logical(_, args) | Node::Call(_, args) => args.iter().for_each(|a| a.walk(f)),
        }
    }
}

/// A function: its name and how many arguments it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Function {
    pub name: &'static str,
    pub min: usize,
    pub max: usize,
}

/// The functions every expression may call.
pub const BUILTINS: &[Function] = &[
    Function { name: "case", min: 3, max: usize::MAX },
    Function { name: "contains", min: 2, max: 2 },
    Function { name: "endswith", min: 2, max: 2 },
    Function { name: "format", min: 1, max: 255 },
    Function { name: "fromjson", min: 1, max: 1 },
    Function { name: "join", min: 1, max: 2 },
    Function { name: "startswith", min: 2, max: 2 },
    Function { name: "tojson", min: 1, max: 1 },
];

/// What a parse may refer to besides literals and the built-in functions.
#[derive(Clone, Debug, Default)]
pub struct Allowed {
    /// Named values (contexts), compared without regard to case.
    pub named_values: Vec<String>,
    /// Functions beyond the built-in ones (status functions, `hashFiles`).
    pub functions: Vec<Function>,
}

impl Allowed {
    fn has_named(&self, name: &str) -> bool {
        self.named_values.iter().any(|n| n.eq_ignore_ascii_case(name))
    }

    fn function(&self, name: &str) -> Option<Function> {
        BUILTINS
            .iter()
            .chain(self.functions.iter())
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .copied()
    }
}

fn is_boundary(c: char) -> bool {
    matches!(c, '(' | '[' | ')' | ']' | ',' | '.' | '!' | '>' | '<' | '=' | '&' | '|')
        || c.is_whitespace()
}

fn is_identifier(s: &str) -> bool {
    let mut cs = s.chars();
    match cs.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {
            cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        }
        _ => false,
    }
}

fn lex(input: &str) -> Result<Vec<Token>, Error> {
    let chars: Vec<char> = input.chars().collect();
    // UTF-16 offset of each char, and one past the end.
    let mut offs = Vec::with_capacity(chars.len() + 1);
    let mut o = 0;
    for c in &chars {
        offs.push(o);
        o += c.len_utf16();
    }
    offs.push(o);
    let mut toks: Vec<Token> = Vec::new();
    let mut i = 0;
    let unexpected = |start: usize, end: usize| {
        let lexeme: String = chars[start..end].iter().collect();
        Error::new(ErrorKind::Lexing, format!("Unexpected symbol: '{lexeme}'"), Some(offs[start]))
    };
    let prev = |toks: &Vec<Token>| toks.last().map_or(Tok::Eof, |t| t.tok);
    while i < chars.len() {
        let start = i;
        let c = chars[i];
        i += 1;
        let simple = |tok: Tok, end: usize| Token {
            tok,
            lexeme: chars[start..end].iter().collect(),
            value: None,
            pos: offs[start],
        };
        let next_is = |ch: char| chars.get(i) == Some(&ch);
        let read_word = |i: &mut usize, dots: bool| {
            while *i < chars.len() && (!is_boundary(chars[*i]) || (dots && chars[*i] == '.')) {
                *i += 1;
            }
        };
        match c {
            '(' => toks.push(simple(Tok::LParen, i)),
            ')' => toks.push(simple(Tok::RParen, i)),
            '[' => toks.push(simple(Tok::LBracket, i)),
            ']' => toks.push(simple(Tok::RBracket, i)),
            ',' => toks.push(simple(Tok::Comma, i)),
            '*' => toks.push(simple(Tok::Star, i)),
            ' ' | '\r' | '\t' | '\n' => {}
            '.' if matches!(prev(&toks), Tok::Ident | Tok::RBracket | Tok::RParen | Tok::Star) => {
                toks.push(simple(Tok::Dot, i));
            }
            '!' | '<' | '>' => {
                let eq = next_is('=');
                if eq {
                    i += 1;
                }
                let tok = match (c, eq) {
                    ('!', false) => Tok::Bang,
                    ('!', true) => Tok::BangEq,
                    ('<', false) => Tok::Lt,
                    ('<', true) => Tok::Le,
                    ('>', false) => Tok::Gt,
                    _ => Tok::Ge,
                };
                toks.push(simple(tok, i));
            }
            '=' | '&' | '|' => {
                if next_is(c) {
                    i += 1;
                    let tok = match c {
                        '=' => Tok::EqEq,
                        '&' => Tok::And,
                        _ => Tok::Or,
                    };
                    toks.push(simple(tok, i));
                } else {
                    read_word(&mut i, false);
                    return Err(unexpected(start, i));
                }
            }
            '\'' => {
                let mut value = String::new();
                loop {
                    match chars.get(i) {
                        None => return Err(unexpected(start, chars.len())),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            value.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            value.push(*ch);
                            i += 1;
                        }
                    }
                }
                let mut t = simple(Tok::String, i);
                t.value = Some(Value::from(value));
                toks.push(t);
            }
            c if c == '.' || c == '-' || c == '+' || c.is_ascii_digit() => {
                read_word(&mut i, true);
                let lexeme: String = chars[start..i].iter().collect();
                let n = parse_number(&lexeme);
                if n.is_nan() || lexeme.trim() != lexeme {
                    return Err(unexpected(start, i));
                }
                let mut t = simple(Tok::Number, i);
                t.value = Some(Value::Number(n));
                toks.push(t);
            }
            _ => {
                read_word(&mut i, false);
                let lexeme: String = chars[start..i].iter().collect();
                let mut t = simple(Tok::Ident, i);
                if prev(&toks) != Tok::Dot {
                    match lexeme.as_str() {
                        "true" => t.tok = Tok::True,
                        "false" => t.tok = Tok::False,
                        "null" => t.tok = Tok::Null,
                        "NaN" => {
                            t.tok = Tok::Number;
                            t.value = Some(Value::Number(f64::NAN));
                        }
                        "Infinity" => {
                            t.tok = Tok::Number;
                            t.value = Some(Value::Number(f64::INFINITY));
                        }
                        _ => {}
                    }
                }
                if !is_identifier(&lexeme) {
                    return Err(unexpected(start, i));
                }
                toks.push(t);
            }
        }
    }
    toks.push(Token { tok: Tok::Eof, lexeme: String::new(), value: None, pos: offs[chars.len()] });
    Ok(toks)
}

struct Parser<'a> {
    toks: Vec<Token>,
    i: usize,
    depth: usize,
    allowed: &'a Allowed,
}

/// Parses an expression (the text inside `${{ }}`). `None` for an empty one, which
/// evaluates to null.
pub fn parse(input: &str, allowed: &Allowed) -> Result<Option<Node>, Error> {
    if input.encode_utf16().count() > MAX_LENGTH {
        return Err(Error::new(
            ErrorKind::Parsing,
            format!("Exceeded max expression length {MAX_LENGTH}"),
            None,
        ));
    }
    let toks = lex(input)?;
    let mut p = Parser { toks, i: 0, depth: 0, allowed };
    if p.at_end() {
        return Ok(None);
    }
    let e = p.expression()?;
    if !p.at_end() {
        return Err(p.error("Unexpected symbol", p.peek().clone()));
    }
    Ok(Some(e))
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.toks[self.i.min(self.toks.len() - 1)]
    }

    fn previous(&self) -> Token {
        self.toks[self.i.saturating_sub(1)].clone()
    }

    fn at_end(&self) -> bool {
        self.peek().tok == Tok::Eof
    }

    fn check(&self, t: Tok) -> bool {
        !self.at_end() && self.peek().tok == t
    }

    fn advance(&mut self) -> Token {
        if !self.at_end() {
            self.i += 1;
        }
        self.previous()
    }

    fn matches(&mut self, ts: &[Tok]) -> bool {
        if ts.iter().any(|t| self.check(*t)) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn error(&self, what: &str, tok: Token) -> Error {
        Error::new(ErrorKind::Parsing, format!("{what}: '{}'", tok.shown()), Some(tok.pos))
    }

    fn consume(&mut self, t: Tok) -> Result<(), Error> {
        if self.check(t) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.error("Unexpected symbol", self.peek().clone()))
        }
    }

    fn deeper(&mut self) -> Result<(), Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(
                &format!("Exceeded max expression depth {MAX_DEPTH}"),
                self.peek().clone(),
            ));
        }
        Ok(())
    }

    fn expression(&mut self) -> Result<Node, Error> {
        self.deeper()?;
        let e = self.logical(false);
        self.depth -= 1;
        e
    }

    /// `||` (`and` false) over `&&` operands, or `&&` over equalities.
    fn logical(&mut self, and: bool) -> Result<Node, Error> {
        let op = if and { Tok::And } else { Tok::Or };
        let operand = |p: &mut Self| if and { p.equality() } else { p.logical(true) };
        let first = operand(self)?;
        if !self.check(op) {
            return Ok(first);
        }
        self.deeper()?;
        let mut args = vec![first];
        while self.matches(&[op]) {
            match operand(self) {
                Ok(e) => args.push(e),
                Err(e) => return Err(e),
            }
        }
        self.depth -= 1;
        Ok(Node::Logical(and, args))
    }

    fn equality(&mut self) -> Result<Node, Error> {
        let mut e = self.comparison()?;
        while self.matches(&[Tok::BangEq, Tok::EqEq]) {
            let op = if self.previous().tok == Tok::EqEq { BinOp::Eq } else { BinOp::Ne };
            let r = self.comparison()?;
            e = Node::Binary(op, Box::new(e), Box::new(r));
        }
        Ok(e)
    }

    fn comparison(&mut self) -> Result<Node, Error> {
        let mut e = self.unary()?;
        while self.matches(&[Tok::Gt, Tok::Ge, Tok::Lt, Tok::Le]) {
            let op = match self.previous().tok {
                Tok::Gt => BinOp::Gt,
                Tok::Ge => BinOp::Ge,
                Tok::Lt => BinOp::Lt,
                _ => BinOp::Le,
            };
            let r = self.unary()?;
            e = Node::Binary(op, Box::new(e), Box::new(r));
        }
        Ok(e)
    }

    fn unary(&mut self) -> Result<Node, Error> {
        if self.matches(&[Tok::Bang]) {
            self.deeper()?;
            let e = self.unary()?;
            self.depth -= 1;
            return Ok(Node::Not(Box::new(e)));
        }
        self.index()
    }

    fn index(&mut self) -> Result<Node, Error> {
        let mut e = self.call()?;
        if !matches!(e, Node::Group(_) | Node::Call(..) | Node::Named(_)) {
            return Ok(e);
        }
        let mut added = 0;
        loop {
            if self.matches(&[Tok::LBracket]) {
                let idx = if self.matches(&[Tok::Star]) {
                    Index::Star
                } else {
                    Index::Expr(Box::new(self.expression()?))
                };
                self.consume(Tok::RBracket)?;
                self.deeper()?;
                added += 1;
                e = Node::Index(Box::new(e), idx);
            } else if self.matches(&[Tok::Dot]) {
                self.deeper()?;
                added += 1;
                if self.matches(&[Tok::Ident]) {
                    let name = self.previous().lexeme;
                    e = Node::Index(
                        Box::new(e),
                        Index::Expr(Box::new(Node::Literal(Value::from(name)))),
                    );
                } else if self.matches(&[Tok::Star]) {
                    e = Node::Index(Box::new(e), Index::Star);
                } else {
                    return Err(self.error("Unexpected symbol", self.peek().clone()));
                }
            } else {
                break;
            }
        }
        self.depth -= added;
        Ok(e)
    }

    fn call(&mut self) -> Result<Node, Error> {
        if !self.check(Tok::Ident) {
            return self.primary();
        }
        let ident = self.advance();
        if !self.matches(&[Tok::LParen]) {
            if !self.allowed.has_named(&ident.lexeme) {
                return Err(self.error("Unrecognized named-value", ident));
            }
            return Ok(Node::Named(ident.lexeme));
        }
        let mut args = Vec::new();
        while !self.matches(&[Tok::RParen]) {
            args.push(self.expression()?);
            if !self.check(Tok::RParen) {
                self.consume(Tok::Comma)?;
            }
        }
        let Some(f) = self.allowed.function(&ident.lexeme) else {
            return Err(self.error("Unrecognized function", ident));
        };
        if args.len() < f.min {
            return Err(self.error("Too few parameters supplied", ident));
        }
        if args.len() > f.max {
            return Err(self.error("Too many parameters supplied", ident));
        }
        if f.name == "case" && args.len() % 2 == 0 {
            return Err(self.error(
                "Even number of parameters supplied, requires an odd number of parameters",
                ident,
            ));
        }
        Ok(Node::Call(f.name.to_string(), args))
    }

    fn primary(&mut self) -> Result<Node, Error> {
        let literal = |t: &Token| t.value.clone().unwrap_or(Value::Null);
        if self.matches(&[Tok::False]) {
            return Ok(Node::Literal(Value::Bool(false)));
        }
        if self.matches(&[Tok::True]) {
            return Ok(Node::Literal(Value::Bool(true)));
        }
        if self.matches(&[Tok::Null]) {
            return Ok(Node::Literal(Value::Null));
        }
        if self.matches(&[Tok::Number, Tok::String]) {
            return Ok(Node::Literal(literal(&self.previous())));
        }
        if self.matches(&[Tok::LParen]) {
            let e = self.expression()?;
            if self.at_end() {
                return Err(self.error("Unexpected end of expression", self.previous()));
            }
            self.consume(Tok::RParen)?;
            return Ok(Node::Group(Box::new(e)));
        }
        if self.at_end() {
            return Err(self.error("Unexpected end of expression", self.previous()));
        }
        Err(self.error("Unexpected symbol", self.peek().clone()))
    }
}
