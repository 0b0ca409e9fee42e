//! Parses template text into a tree: control structures, pipelines, commands and operands.
//! Variables and function names are checked here, as Go does, so a template that refers to
//! `$undefined` or an unknown function never runs.

use std::fmt;

use crate::funcs::{Func, Funcs};
use crate::lex::{Kw, Tok, Token, lex};

pub(crate) type List = Vec<Node>;

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Text(String),
    Action(Pipe),
    If(Branch),
    Range(Branch),
    With(Branch),
    Template { pos: usize, name: String, pipe: Option<Pipe> },
    Break,
    Continue,
}

#[derive(Debug, Clone)]
pub(crate) struct Branch {
    pub pos: usize,
    pub pipe: Pipe,
    pub list: List,
    pub else_list: Option<List>,
}

#[derive(Debug, Clone)]
pub(crate) struct Pipe {
    pub pos: usize,
    pub is_assign: bool,
    pub decl: Vec<String>,
    pub cmds: Vec<Cmd>,
}

#[derive(Debug, Clone)]
pub(crate) struct Cmd {
    pub pos: usize,
    pub args: Vec<Arg>,
}

/// A number literal as Go's templates treat it when its type is not forced.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Num {
    Int(i64),
    Float(f64),
    /// Fits an unsigned 64-bit integer but not `int`: an error when used.
    Overflow,
}

#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Field { pos: usize, names: Vec<String> },
    Variable { pos: usize, name: String, fields: Vec<String> },
    Chain { pos: usize, node: Box<Arg>, fields: Vec<String> },
    Func { pos: usize, name: String, func: Func },
    Dot(usize),
    Nil(usize),
    Bool(usize, bool),
    Number { pos: usize, text: String, value: Num },
    Str { pos: usize, quoted: String, value: String },
    Pipe(Box<Pipe>),
}

impl Arg {
    pub(crate) fn pos(&self) -> usize {
        match self {
            Arg::Field { pos, .. }
            | Arg::Variable { pos, .. }
            | Arg::Chain { pos, .. }
            | Arg::Func { pos, .. }
            | Arg::Dot(pos)
            | Arg::Nil(pos)
            | Arg::Bool(pos, _)
            | Arg::Number { pos, .. }
            | Arg::Str { pos, .. } => *pos,
            Arg::Pipe(p) => p.pos,
        }
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Field { names, .. } => {
                for n in names {
                    write!(f, ".{n}")?;
                }
                Ok(())
            }
            Arg::Variable { name, fields, .. } => {
                f.write_str(name)?;
                for n in fields {
                    write!(f, ".{n}")?;
                }
                Ok(())
            }
            Arg::Chain { node, fields, .. } => {
                if let Arg::Pipe(p) = node.as_ref() {
                    write!(f, "({p})")?;
                } else {
                    write!(f, "{node}")?;
                }
                for n in fields {
                    write!(f, ".{n}")?;
                }
                Ok(())
            }
            Arg::Func { name, .. } => f.write_str(name),
            Arg::Dot(_) => f.write_str("."),
            Arg::Nil(_) => f.write_str("nil"),
            Arg::Bool(_, b) => write!(f, "{b}"),
            Arg::Number { text, .. } => f.write_str(text),
            Arg::Str { quoted, .. } => f.write_str(quoted),
            Arg::Pipe(p) => write!(f, "({p})"),
        }
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            f.write_str(&self.decl.join(", "))?;
            f.write_str(if self.is_assign { " = " } else { " := " })?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

/// A parse failure: byte offset and message.
pub(crate) type PErr = (usize, String);

/// A `define` or `block` found in the text.
#[derive(Debug, Clone)]
pub(crate) struct Definition {
    pub name: String,
    pub list: List,
}

/// The result of parsing one text.
#[derive(Debug, Clone)]
pub(crate) struct Parsed {
    pub main: List,
    pub defs: Vec<Definition>,
}

/// Parentheses may nest this deep.
const MAX_PAREN_DEPTH: usize = 100;
/// Control structures may nest this deep.
const MAX_NESTING: usize = 100;
/// A pipeline may have this many commands.
const MAX_PIPELINE: usize = 1000;

/// Parses `text`; `vars` are the variables the top level may use besides `$`.
pub(crate) fn parse(text: &str, funcs: Funcs, vars: &[&str]) -> Result<Parsed, PErr> {
    let mut p = Parser {
        toks: lex(text),
        i: 0,
        vars: Vec::new(),
        range_depth: 0,
        funcs,
        paren_depth: 0,
        nesting: 0,
        defs: Vec::new(),
    };
    let main = p.parse_top(vars)?;
    Ok(Parsed { main, defs: p.defs })
}

/// The markers that end item lists.
enum Item {
    Node(Node),
    End(usize),
    /// `{{else}}`; `chained` when an `if`/`with` keyword follows and is left unread.
    Else {
        pos: usize,
        chained: bool,
    },
}

struct Parser {
    toks: Vec<Token>,
    i: usize,
    vars: Vec<String>,
    range_depth: usize,
    funcs: Funcs,
    paren_depth: usize,
    nesting: usize,
    defs: Vec<Definition>,
}

/// Go's short form of a token in "unexpected ..." messages.
fn tok_string(t: &Tok) -> String {
    let q = |s: &str| {
        if s.chars().count() > 10 {
            let short: String = s.chars().take(10).collect();
            format!("{short:?}...")
        } else {
            format!("{s:?}")
        }
    };
    match t {
        Tok::Eof => "EOF".into(),
        Tok::Error(m) => m.clone(),
        Tok::Keyword(k) => {
            let w = match k {
                Kw::Block => "block",
                Kw::Break => "break",
                Kw::Continue => "continue",
                Kw::Define => "define",
                Kw::Else => "else",
                Kw::End => "end",
                Kw::If => "if",
                Kw::Range => "range",
                Kw::Nil => "nil",
                Kw::Template => "template",
                Kw::With => "with",
            };
            format!("<{w}>")
        }
        Tok::Text(s)
        | Tok::CharConst(s)
        | Tok::Number(s)
        | Tok::Complex(s)
        | Tok::Str(s)
        | Tok::RawStr(s)
        | Tok::Ident(s)
        | Tok::Variable(s) => q(s),
        Tok::Field(s) => q(&format!(".{s}")),
        Tok::LeftDelim => q("{{"),
        Tok::RightDelim => q("}}"),
        Tok::Space => q(" "),
        Tok::Bool(b) => q(if *b { "true" } else { "false" }),
        Tok::Dot => q("."),
        Tok::Assign => q("="),
        Tok::Declare => q(":="),
        Tok::Pipe => q("|"),
        Tok::LeftParen => q("("),
        Tok::RightParen => q(")"),
        Tok::Char(c) => q(&c.to_string()),
    }
}

impl Parser {
    fn next(&mut self) -> Result<Token, PErr> {
        let t = self.toks.get(self.i).cloned().unwrap_or(Token { tok: Tok::Eof, pos: 0 });
        if let Tok::Error(m) = &t.tok {
            return Err((t.pos, m.clone()));
        }
        if self.i < self.toks.len() {
            self.i += 1;
        }
        Ok(t)
    }

    fn backup(&mut self) {
        self.i = self.i.saturating_sub(1);
    }

    fn peek(&mut self) -> Result<Token, PErr> {
        let t = self.next()?;
        self.backup();
        Ok(t)
    }

    fn next_non_space(&mut self) -> Result<Token, PErr> {
        loop {
            let t = self.next()?;
            if t.tok != Tok::Space {
                return Ok(t);
            }
        }
    }

    fn peek_non_space(&mut self) -> Result<Token, PErr> {
        let t = self.next_non_space()?;
        self.backup();
        Ok(t)
    }

    fn unexpected<T>(&self, t: &Token, context: &str) -> Result<T, PErr> {
        Err((t.pos, format!("unexpected {} in {context}", tok_string(&t.tok))))
    }

    fn expect_right_delim(&mut self, context: &str) -> Result<Token, PErr> {
        let t = self.next_non_space()?;
        if t.tok != Tok::RightDelim {
            return self.unexpected(&t, context);
        }
        Ok(t)
    }

    fn add_def(&mut self, pos: usize, name: String, list: List) -> Result<(), PErr> {
        if let Some(old) = self.defs.iter_mut().find(|d| d.name == name) {
            if is_empty_list(&old.list) {
                old.list = list;
            } else if !is_empty_list(&list) {
                return Err((pos, format!("template: multiple definition of template {name:?}")));
            }
            return Ok(());
        }
        self.defs.push(Definition { name, list });
        Ok(())
    }

    fn parse_top(&mut self, vars: &[&str]) -> Result<List, PErr> {
        let mut root = Vec::new();
        // Variables declared at the top level stay visible to later top-level actions.
        let mut top_vars: Vec<String> =
            std::iter::once("$").chain(vars.iter().copied()).map(String::from).collect();
        loop {
            let t = self.peek()?;
            if t.tok == Tok::Eof {
                return Ok(root);
            }
            if t.tok == Tok::LeftDelim {
                let save = self.i;
                self.next()?;
                let k = self.next_non_space()?;
                if k.tok == Tok::Keyword(Kw::Define) {
                    self.vars = vec!["$".into()];
                    self.definition(k.pos)?;
                    continue;
                }
                self.i = save;
            }
            self.vars = std::mem::take(&mut top_vars);
            let item = self.text_or_action()?;
            top_vars = std::mem::take(&mut self.vars);
            match item {
                Item::Node(n) => root.push(n),
                Item::End(pos) => return Err((pos, "unexpected {{end}}".into())),
                Item::Else { pos, .. } => return Err((pos, "unexpected {{else}}".into())),
            }
        }
    }

    fn definition(&mut self, pos: usize) -> Result<(), PErr> {
        let context = "define clause";
        let t = self.next_non_space()?;
        let name = self.template_name(&t, context)?;
        self.expect_right_delim(context)?;
        let (list, end) = self.item_list()?;
        match end {
            Item::End(_) => {}
            Item::Else { pos, .. } => {
                return Err((pos, format!("unexpected {{{{else}}}} in {context}")));
            }
            Item::Node(_) => {}
        }
        self.add_def(pos, name, list)
    }

    fn template_name(&self, t: &Token, context: &str) -> Result<String, PErr> {
        match &t.tok {
            Tok::Str(s) | Tok::RawStr(s) => unquote(s).map_err(|m| (t.pos, m)),
            _ => self.unexpected(t, context),
        }
    }

    fn item_list(&mut self) -> Result<(List, Item), PErr> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            let pos = self.peek()?.pos;
            return Err((pos, "control structures nested too deeply".into()));
        }
        let mut list = Vec::new();
        loop {
            let t = self.peek_non_space()?;
            if t.tok == Tok::Eof {
                return Err((t.pos, "unexpected EOF".into()));
            }
            match self.text_or_action()? {
                Item::Node(n) => list.push(n),
                end => {
                    self.nesting -= 1;
                    return Ok((list, end));
                }
            }
        }
    }

    fn text_or_action(&mut self) -> Result<Item, PErr> {
        let t = self.next_non_space()?;
        match t.tok {
            Tok::Text(s) => Ok(Item::Node(Node::Text(s))),
            Tok::LeftDelim => self.action(),
            _ => self.unexpected(&t, "input"),
        }
    }

    fn action(&mut self) -> Result<Item, PErr> {
        let t = self.next_non_space()?;
        match t.tok {
            Tok::Keyword(Kw::Block) => self.block(t.pos).map(Item::Node),
            Tok::Keyword(Kw::Break) | Tok::Keyword(Kw::Continue) => {
                let is_break = t.tok == Tok::Keyword(Kw::Break);
                let word = if is_break { "{{break}}" } else { "{{continue}}" };
                let n = self.next_non_space()?;
                if n.tok != Tok::RightDelim {
                    return self.unexpected(&n, word);
                }
                if self.range_depth == 0 {
                    return Err((t.pos, format!("{word} outside {{{{range}}}}")));
                }
                Ok(Item::Node(if is_break { Node::Break } else { Node::Continue }))
            }
            Tok::Keyword(Kw::Else) => {
                let p = self.peek_non_space()?;
                if matches!(p.tok, Tok::Keyword(Kw::If) | Tok::Keyword(Kw::With)) {
                    return Ok(Item::Else { pos: t.pos, chained: true });
                }
                self.expect_right_delim("else")?;
                Ok(Item::Else { pos: t.pos, chained: false })
            }
            Tok::Keyword(Kw::End) => {
                self.expect_right_delim("end")?;
                Ok(Item::End(t.pos))
            }
            Tok::Keyword(Kw::If) => self.control("if", t.pos).map(|b| Item::Node(Node::If(b))),
            Tok::Keyword(Kw::Range) => {
                self.control("range", t.pos).map(|b| Item::Node(Node::Range(b)))
            }
            Tok::Keyword(Kw::With) => {
                self.control("with", t.pos).map(|b| Item::Node(Node::With(b)))
            }
            Tok::Keyword(Kw::Template) => {
                let context = "template clause";
                let nt = self.next_non_space()?;
                let name = self.template_name(&nt, context)?;
                let after = self.next_non_space()?;
                let pipe = if after.tok == Tok::RightDelim {
                    None
                } else {
                    self.backup();
                    Some(self.pipeline(context, &Tok::RightDelim)?)
                };
                Ok(Item::Node(Node::Template { pos: t.pos, name, pipe }))
            }
            _ => {
                self.backup();
                Ok(Item::Node(Node::Action(self.pipeline("command", &Tok::RightDelim)?)))
            }
        }
    }

    fn block(&mut self, pos: usize) -> Result<Node, PErr> {
        let context = "block clause";
        let t = self.next_non_space()?;
        let name = self.template_name(&t, context)?;
        let pipe = self.pipeline(context, &Tok::RightDelim)?;
        let outer_vars = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let outer_range = std::mem::replace(&mut self.range_depth, 0);
        let result = self.item_list();
        self.vars = outer_vars;
        self.range_depth = outer_range;
        let (list, end) = result?;
        if let Item::Else { pos, .. } = end {
            return Err((pos, format!("unexpected {{{{else}}}} in {context}")));
        }
        self.add_def(pos, name.clone(), list)?;
        Ok(Node::Template { pos, name, pipe: Some(pipe) })
    }

    fn control(&mut self, context: &str, pos: usize) -> Result<Branch, PErr> {
        let mark = self.vars.len();
        let result = self.control_inner(context, pos);
        self.vars.truncate(mark);
        result
    }

    fn control_inner(&mut self, context: &str, pos: usize) -> Result<Branch, PErr> {
        let pipe = self.pipeline(context, &Tok::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let listed = self.item_list();
        if context == "range" {
            self.range_depth -= 1;
        }
        let (list, next) = listed?;
        let else_list = match next {
            Item::End(_) => None,
            Item::Else { chained, .. } => {
                let p = self.peek()?;
                if chained && context == "if" && p.tok == Tok::Keyword(Kw::If) {
                    self.next()?;
                    let inner = self.control("if", p.pos)?;
                    Some(vec![Node::If(inner)])
                } else if chained && context == "with" && p.tok == Tok::Keyword(Kw::With) {
                    self.next()?;
                    let inner = self.control("with", p.pos)?;
                    Some(vec![Node::With(inner)])
                } else {
                    let (l, n) = self.item_list()?;
                    match n {
                        Item::End(_) => Some(l),
                        Item::Else { pos, .. } => {
                            return Err((pos, "expected end; found {{else}}".into()));
                        }
                        Item::Node(_) => Some(l),
                    }
                }
            }
            Item::Node(_) => None,
        };
        Ok(Branch { pos, pipe, list, else_list })
    }

    fn pipeline(&mut self, context: &str, end: &Tok) -> Result<Pipe, PErr> {
        let start = self.peek_non_space()?;
        let mut pipe =
            Pipe { pos: start.pos, is_assign: false, decl: Vec::new(), cmds: Vec::new() };
        let mark = self.vars.len();
        loop {
            let v = self.peek_non_space()?;
            let Tok::Variable(name) = &v.tok else { break };
            let name = name.clone();
            let var_index = self.i;
            self.next()?;
            let next = self.peek_non_space()?;
            match &next.tok {
                Tok::Assign | Tok::Declare => {
                    pipe.is_assign = next.tok == Tok::Assign;
                    self.next_non_space()?;
                    pipe.decl.push(name.clone());
                    self.vars.push(name);
                    break;
                }
                Tok::Char(',') => {
                    self.next_non_space()?;
                    pipe.decl.push(name.clone());
                    self.vars.push(name);
                    if context == "range" && pipe.decl.len() < 2 {
                        let p = self.peek_non_space()?;
                        match p.tok {
                            Tok::Variable(_) | Tok::RightDelim | Tok::RightParen => continue,
                            _ => return Err((p.pos, "range can only initialize variables".into())),
                        }
                    }
                    return Err((v.pos, format!("too many declarations in {context}")));
                }
                _ => {
                    self.i = var_index;
                    break;
                }
            }
        }
        if pipe.is_assign
            && let Some(name) = pipe.decl.iter().find(|n| !self.vars[..mark].contains(n))
        {
            return Err((pipe.pos, format!("undefined variable {name:?}")));
        }
        loop {
            let t = self.next_non_space()?;
            if &t.tok == end {
                if pipe.cmds.is_empty() {
                    return Err((t.pos, format!("missing value for {context}")));
                }
                for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
                    if matches!(
                        c.args.first(),
                        Some(
                            Arg::Bool(..)
                                | Arg::Dot(_)
                                | Arg::Nil(_)
                                | Arg::Number { .. }
                                | Arg::Str { .. }
                        )
                    ) {
                        return Err((
                            c.pos,
                            format!("non executable command in pipeline stage {}", i + 1),
                        ));
                    }
                }
                return Ok(pipe);
            }
            match t.tok {
                Tok::Bool(_)
                | Tok::CharConst(_)
                | Tok::Complex(_)
                | Tok::Dot
                | Tok::Field(_)
                | Tok::Ident(_)
                | Tok::Number(_)
                | Tok::Keyword(Kw::Nil)
                | Tok::RawStr(_)
                | Tok::Str(_)
                | Tok::Variable(_)
                | Tok::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                    if pipe.cmds.len() > MAX_PIPELINE {
                        return Err((t.pos, "pipeline too long".into()));
                    }
                }
                _ => return self.unexpected(&t, context),
            }
        }
    }

    fn command(&mut self) -> Result<Cmd, PErr> {
        let start = self.peek_non_space()?;
        let mut cmd = Cmd { pos: start.pos, args: Vec::new() };
        loop {
            self.peek_non_space()?;
            if let Some(a) = self.operand()? {
                cmd.args.push(a);
            }
            let t = self.next()?;
            match t.tok {
                Tok::Space => continue,
                Tok::RightDelim | Tok::RightParen => self.backup(),
                Tok::Pipe => {}
                _ => return self.unexpected(&t, "operand"),
            }
            break;
        }
        if cmd.args.is_empty() {
            return Err((cmd.pos, "empty command".into()));
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> Result<Option<Arg>, PErr> {
        let Some(node) = self.term()? else { return Ok(None) };
        let p = self.peek()?;
        if !matches!(p.tok, Tok::Field(_)) {
            return Ok(Some(node));
        }
        let mut fields = Vec::new();
        while let Tok::Field(f) = self.peek()?.tok {
            self.next()?;
            fields.push(f);
        }
        Ok(Some(match node {
            Arg::Field { pos, mut names } => {
                names.extend(fields);
                Arg::Field { pos, names }
            }
            Arg::Variable { pos, name, fields: mut fs } => {
                fs.extend(fields);
                Arg::Variable { pos, name, fields: fs }
            }
            Arg::Bool(..) | Arg::Str { .. } | Arg::Number { .. } | Arg::Nil(_) | Arg::Dot(_) => {
                return Err((p.pos, format!("unexpected . after term {:?}", node.to_string())));
            }
            other => Arg::Chain { pos: p.pos, node: Box::new(other), fields },
        }))
    }

    fn term(&mut self) -> Result<Option<Arg>, PErr> {
        let t = self.next_non_space()?;
        let pos = t.pos;
        Ok(Some(match t.tok {
            Tok::Ident(name) => {
                let Some(func) = crate::funcs::lookup(&name, self.funcs) else {
                    return Err((pos, format!("function {name:?} not defined")));
                };
                Arg::Func { pos, name, func }
            }
            Tok::Dot => Arg::Dot(pos),
            Tok::Keyword(Kw::Nil) => Arg::Nil(pos),
            Tok::Variable(name) => {
                if !self.vars.contains(&name) {
                    return Err((pos, format!("undefined variable {name:?}")));
                }
                Arg::Variable { pos, name, fields: Vec::new() }
            }
            Tok::Field(name) => Arg::Field { pos, names: vec![name] },
            Tok::Bool(b) => Arg::Bool(pos, b),
            Tok::CharConst(text) => {
                let c = unquote_char(&text).map_err(|m| (pos, m))?;
                Arg::Number { pos, text, value: Num::Int(i64::from(u32::from(c))) }
            }
            Tok::Complex(_) => return Err((pos, "complex numbers are not supported".into())),
            Tok::Number(text) => {
                let value = parse_number(&text).map_err(|m| (pos, m))?;
                Arg::Number { pos, text, value }
            }
            Tok::LeftParen => {
                if self.paren_depth >= MAX_PAREN_DEPTH {
                    return Err((pos, "max expression depth exceeded".into()));
                }
                self.paren_depth += 1;
                let p = self.pipeline("parenthesized pipeline", &Tok::RightParen);
                self.paren_depth -= 1;
                Arg::Pipe(Box::new(p?))
            }
            Tok::Str(quoted) | Tok::RawStr(quoted) => {
                let value = unquote(&quoted).map_err(|m| (pos, m))?;
                Arg::Str { pos, quoted, value }
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }
}

/// Go's `parse.IsEmptyTree`: only whitespace text.
pub(crate) fn is_empty_list(list: &List) -> bool {
    list.iter().all(|n| matches!(n, Node::Text(t) if t.trim().is_empty()))
}

/// Go's `strconv.Unquote` for `"…"` and `` `…` `` literals.
pub(crate) fn unquote(s: &str) -> Result<String, String> {
    let bad = || "invalid syntax".to_owned();
    if let Some(raw) = s.strip_prefix('`').and_then(|r| r.strip_suffix('`')) {
        return Ok(raw.replace('\r', ""));
    }
    let body = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')).ok_or_else(bad)?;
    let mut out: Vec<u8> = Vec::with_capacity(body.len());
    let mut rest = body;
    while !rest.is_empty() {
        if rest.starts_with('"') {
            return Err(bad());
        }
        let (piece, tail) = unquote_one(rest, '"')?;
        out.extend_from_slice(&piece);
        rest = tail;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Decodes one character or escape of a quoted literal into its bytes.
fn unquote_one(s: &str, quote: char) -> Result<(Vec<u8>, &str), String> {
    let bad = || "invalid syntax".to_owned();
    let mut chars = s.chars();
    let c = chars.next().ok_or_else(bad)?;
    if c != '\\' {
        if c == '\n' {
            return Err(bad());
        }
        let mut buf = [0u8; 4];
        return Ok((c.encode_utf8(&mut buf).as_bytes().to_vec(), chars.as_str()));
    }
    let e = chars.next().ok_or_else(bad)?;
    let rest = chars.as_str();
    let simple = match e {
        'a' => Some(7u8),
        'b' => Some(8),
        'f' => Some(12),
        'n' => Some(b'\n'),
        'r' => Some(b'\r'),
        't' => Some(b'\t'),
        'v' => Some(11),
        '\\' => Some(b'\\'),
        '\'' | '"' if e == quote => Some(e as u8),
        _ => None,
    };
    if let Some(b) = simple {
        return Ok((vec![b], rest));
    }
    let hex = |n: usize| -> Result<(u32, &str), String> {
        let digits = rest.get(..n).ok_or_else(bad)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        Ok((u32::from_str_radix(digits, 16).map_err(|_| bad())?, &rest[n..]))
    };
    match e {
        'x' => {
            let (v, tail) = hex(2)?;
            Ok((vec![v as u8], tail))
        }
        'u' | 'U' => {
            let (v, tail) = hex(if e == 'u' { 4 } else { 8 })?;
            let c = char::from_u32(v).ok_or_else(bad)?;
            let mut buf = [0u8; 4];
            Ok((c.encode_utf8(&mut buf).as_bytes().to_vec(), tail))
        }
        '0'..='7' => {
            let digits = s.get(1..4).ok_or_else(bad)?;
            if !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
                return Err(bad());
            }
            let v = u32::from_str_radix(digits, 8).map_err(|_| bad())?;
            if v > 255 {
                return Err(bad());
            }
            Ok((vec![v as u8], &s[4..]))
        }
        _ => Err(bad()),
    }
}

/// The value of a character constant such as `'a'` or `'\n'`.
fn unquote_char(s: &str) -> Result<char, String> {
    let body = s.strip_prefix('\'').ok_or_else(|| "invalid syntax".to_owned())?;
    let (bytes, tail) = unquote_one(body, '\'')?;
    if tail != "'" {
        return Err(format!("malformed character constant: {s}"));
    }
    let text = String::from_utf8(bytes.clone()).ok();
    match text.as_deref().and_then(|t| t.chars().next()) {
        Some(c) if text.as_deref().map(str::chars).map(Iterator::count) == Some(1) => Ok(c),
        _ => Ok(char::from(bytes.first().copied().unwrap_or(0))),
    }
}

/// How an integer literal parsed.
enum IntParse {
    Ok(i128),
    /// Well-formed but too large for 128 bits.
    TooBig,
    Bad,
}

/// Whether underscores in `digits` only separate digits (a base prefix counts as a digit).
fn underscores_ok(digits: &str, prefixed: bool) -> bool {
    let mut prev_digit = prefixed;
    let mut chars = digits.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '_' {
            if !prev_digit || !chars.peek().is_some_and(char::is_ascii_alphanumeric) {
                return false;
            }
            prev_digit = false;
        } else {
            prev_digit = c.is_ascii_alphanumeric();
        }
    }
    true
}

/// Go's integer syntax with base prefixes and underscores.
fn parse_go_int(text: &str) -> IntParse {
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d, true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d, true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d, true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..], true)
    } else {
        (10, lower.as_str(), false)
    };
    if digits.is_empty() || !underscores_ok(digits, prefixed) {
        return IntParse::Bad;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    if clean.is_empty() || !clean.chars().all(|c| c.is_digit(radix)) {
        return IntParse::Bad;
    }
    match u128::from_str_radix(&clean, radix).ok().and_then(|v| i128::try_from(v).ok()) {
        Some(v) => IntParse::Ok(if neg { -v } else { v }),
        None => IntParse::TooBig,
    }
}

/// Go's float syntax, decimal or hexadecimal (`0x1p-2`), with underscores.
pub(crate) fn parse_go_float(text: &str) -> Option<f64> {
    let unsigned = text.trim_start_matches(['+', '-']);
    let hex = unsigned.len() > 1 && unsigned[..2].eq_ignore_ascii_case("0x");
    if !underscores_ok(if hex { &unsigned[2..] } else { unsigned }, hex) {
        return None;
    }
    let clean: String = text.chars().filter(|c| *c != '_').collect();
    let (neg, body) = match clean.as_bytes().first()? {
        b'-' => (true, &clean[1..]),
        b'+' => (false, &clean[1..]),
        _ => (false, clean.as_str()),
    };
    let lower = body.to_ascii_lowercase();
    let v = if let Some(h) = lower.strip_prefix("0x") {
        let (mant, exp) = h.split_once('p')?;
        let exp: i32 = exp.parse().ok()?;
        let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        let mut v = 0f64;
        for c in int.chars() {
            v = v * 16.0 + f64::from(c.to_digit(16)?);
        }
        let mut scale = 1.0 / 16.0;
        for c in frac.chars() {
            v += f64::from(c.to_digit(16)?) * scale;
            scale /= 16.0;
        }
        v * 2f64.powi(exp)
    } else {
        if !lower.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'+' | b'-')) {
            return None;
        }
        lower.parse::<f64>().ok()?
    };
    Some(if neg { -v } else { v })
}

/// A number literal's value, following Go's rules for untyped template constants.
fn parse_number(text: &str) -> Result<Num, String> {
    if text.ends_with('i') {
        return Err("complex numbers are not supported".into());
    }
    let is_hex_int = {
        let t = text.trim_start_matches(['+', '-']);
        t.len() > 2 && (t.starts_with("0x") || t.starts_with("0X")) && !t.contains(['p', 'P'])
    };
    let int = parse_go_int(text);
    match int {
        IntParse::Ok(i) => {
            if let Ok(v) = i64::try_from(i) {
                return Ok(Num::Int(v));
            }
            if u64::try_from(i).is_ok() {
                return Ok(Num::Overflow);
            }
            return Err(format!("integer overflow: {text:?}"));
        }
        IntParse::TooBig => return Err(format!("integer overflow: {text:?}")),
        IntParse::Bad => {}
    }
    let looks_float = text.contains(['.', 'e', 'E', 'p', 'P']) && !is_hex_int;
    match parse_go_float(text) {
        Some(f) if looks_float => Ok(Num::Float(f)),
        _ => Err(format!("illegal number syntax: {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipe_str(src: &str) -> String {
        let p = parse(src, Funcs::Prometheus, &[]).unwrap();
        match &p.main[0] {
            Node::Action(pipe) => pipe.to_string(),
            other => format!("{other:?}"),
        }
    }

    fn err(src: &str) -> String {
        parse(src, Funcs::Prometheus, &[]).err().map(|e| e.1).unwrap_or_else(|| "no error".into())
    }

    #[test]
    fn pipelines_print_back() {
        assert_eq!(pipe_str("{{.X}}"), ".X");
        assert_eq!(pipe_str("{{ .X.Y | printf \"%d\" }}"), ".X.Y | printf \"%d\"");
        assert_eq!(pipe_str("{{$x := 1}}"), "$x := 1");
        assert_eq!(pipe_str("{{(query `up`).Labels.job}}"), "(query `up`).Labels.job");
        assert_eq!(pipe_str("{{ $.Labels.x }}"), "$.Labels.x");
        assert_eq!(pipe_str("{{ 'a' }}"), "'a'");
        assert_eq!(pipe_str("{{ nil }}"), "nil");
    }

    #[test]
    fn numbers_follow_go() {
        let n = |t: &str| match parse_number(t) {
            Ok(Num::Int(i)) => format!("int {i}"),
            Ok(Num::Float(f)) => format!("float {f}"),
            Ok(Num::Overflow) => "overflow".into(),
            Err(e) => e,
        };
        assert_eq!(n("42"), "int 42");
        assert_eq!(n("-7"), "int -7");
        assert_eq!(n("0x1F"), "int 31");
        assert_eq!(n("0o17"), "int 15");
        assert_eq!(n("017"), "int 15");
        assert_eq!(n("0b101"), "int 5");
        assert_eq!(n("1_000"), "int 1000");
        assert_eq!(n("1.5"), "float 1.5");
        assert_eq!(n("1e3"), "float 1000");
        assert_eq!(n(".5"), "float 0.5");
        assert_eq!(n("0x1p-2"), "float 0.25");
        assert_eq!(n("1.0"), "float 1");
        assert_eq!(n("18446744073709551615"), "overflow");
        assert_eq!(n("99999999999999999999999"), "integer overflow: \"99999999999999999999999\"");
        assert_eq!(n("1__0"), "illegal number syntax: \"1__0\"");
        assert_eq!(n("-"), "illegal number syntax: \"-\"");
        assert_eq!(n("08"), "illegal number syntax: \"08\"");
    }

    #[test]
    fn strings_unquote_like_go() {
        assert_eq!(unquote(r#""a\tb\n\x41\101\u00e9\U0001F600\\\"""#).unwrap(), "a\tb\nAAé😀\\\"");
        assert_eq!(unquote("`a\\n\r`").unwrap(), "a\\n");
        assert_eq!(unquote(r#""\q""#), Err("invalid syntax".into()));
        assert_eq!(unquote(r#""\'""#), Err("invalid syntax".into()));
        assert_eq!(unquote_char("'\\''"), Ok('\''));
        assert_eq!(unquote_char("'é'"), Ok('é'));
        assert_eq!(unquote_char("'ab'"), Err("malformed character constant: 'ab'".into()));
    }

    #[test]
    fn parse_errors() {
        assert_eq!(err("{{end}}"), "unexpected {{end}}");
        assert_eq!(err("{{else}}"), "unexpected {{else}}");
        assert_eq!(err("{{if true}}"), "unexpected EOF");
        assert_eq!(err("{{if}}{{end}}"), "missing value for if");
        assert_eq!(err("{{}}"), "missing value for command");
        assert_eq!(err("{{ $x }}"), "undefined variable \"$x\"");
        assert_eq!(err("{{ $x = 1 }}"), "undefined variable \"$x\"");
        assert_eq!(err("{{ foo }}"), "function \"foo\" not defined");
        assert_eq!(err("{{ 1 | 2 }}"), "non executable command in pipeline stage 2");
        assert_eq!(err("{{break}}"), "{{break}} outside {{range}}");
        assert_eq!(err("{{continue}}"), "{{continue}} outside {{range}}");
        assert_eq!(err("{{range .}}{{break 1}}{{end}}"), "unexpected \"1\" in {{break}}");
        assert_eq!(err("{{template .X}}"), "unexpected \".X\" in template clause");
        assert_eq!(
            err("{{define \"a\"}}{{end}}{{define \"a\"}}x{{end}}{{define \"a\"}}y{{end}}"),
            "template: multiple definition of template \"a\""
        );
        assert_eq!(err("{{if 1}}{{define \"a\"}}{{end}}{{end}}"), "unexpected <define> in command");
        assert_eq!(err("{{range $i, $j, $k := .}}{{end}}"), "too many declarations in range");
        assert_eq!(err("{{with $i, $j := .}}{{end}}"), "too many declarations in with");
        assert_eq!(err("{{range $i, 3}}{{end}}"), "range can only initialize variables");
        assert_eq!(err("{{if 1}}{{else}}{{else}}{{end}}"), "expected end; found {{else}}");
        assert_eq!(err("{{ \"x\".y }}"), "unexpected . after term \"\\\"x\\\"\"");
        assert_eq!(err("{{ 1i }}"), "complex numbers are not supported");
        assert_eq!(err("{{ .a\"b\" }}"), "bad character U+0022 '\"'");
        assert_eq!(err("{{ (1)\"b\" }}"), "unexpected \"\\\"b\\\"\" in operand");
        assert_eq!(err("{{ 3 = 4 }}"), "unexpected \"=\" in operand");
        assert_eq!(
            err(&format!("{{{{ {}1{} }}}}", "(".repeat(101), ")".repeat(101))),
            "max expression depth exceeded"
        );
        assert_eq!(err(&"{{if 1}}".repeat(101)), "control structures nested too deeply");
    }

    #[test]
    fn variables_scope_to_their_control_structure() {
        assert_eq!(err("{{if true}}{{$x := 1}}{{end}}{{$x}}"), "undefined variable \"$x\"");
        assert_eq!(err("{{with $x := 1}}{{else}}{{$x}}{{end}}{{$x}}"), "undefined variable \"$x\"");
        assert_eq!(err("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}"), "no error");
        assert_eq!(err("{{define \"a\"}}{{$x}}{{end}}{{$x := 1}}"), "undefined variable \"$x\"");
        assert_eq!(err("{{$x := 1}}{{define \"a\"}}{{$x}}{{end}}"), "undefined variable \"$x\"");
        assert_eq!(err("{{range $i, $e := .}}{{$i}}{{$e}}{{end}}"), "no error");
        assert_eq!(err("{{block \"b\" .}}{{$}}{{end}}"), "no error");
    }

    #[test]
    fn definitions_are_collected() {
        let p =
            parse("a{{define \"x\"}}X{{end}}b{{block \"y\" .}}Y{{end}}", Funcs::Prometheus, &[])
                .unwrap();
        let names: Vec<_> = p.defs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["x", "y"]);
        assert_eq!(p.main.len(), 3);
    }
}
