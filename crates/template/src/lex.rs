//! Splits template text into tokens: literal text, and inside `{{ }}` the words of actions.
//! Trim markers (`{{- ` and ` -}}`) are applied here, and comments are dropped.

/// Control-structure keywords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kw {
    Block,
    Break,
    Continue,
    Define,
    Else,
    End,
    If,
    Range,
    Nil,
    Template,
    With,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Text(String),
    LeftDelim,
    RightDelim,
    Space,
    Bool(bool),
    /// A character constant with its quotes: `'a'`.
    CharConst(String),
    Number(String),
    Complex(String),
    /// A quoted string with its quotes and escapes as written.
    Str(String),
    /// A raw string with its backquotes.
    RawStr(String),
    Ident(String),
    /// A field name without its leading dot.
    Field(String),
    /// A variable with its `$`.
    Variable(String),
    Dot,
    Assign,
    Declare,
    Pipe,
    LeftParen,
    RightParen,
    /// Any other printable ASCII character inside an action (`,` between range variables).
    Char(char),
    Keyword(Kw),
    Error(String),
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    /// Byte offset of the token in the template text.
    pub pos: usize,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

fn has_left_trim(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && b[0] == b'-' && is_space(char::from(b[1]))
}

fn has_right_trim(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && is_space(char::from(b[0])) && b[1] == b'-'
}

/// Go's `%#U` form of a character: `U+00A0`, with the character quoted when printable.
pub(crate) fn unicode_name(c: char) -> String {
    let mut s = format!("U+{:04X}", c as u32);
    if crate::gofmt::is_print(c) {
        s.push_str(&format!(" '{c}'"));
    }
    s
}

/// Tokenizes a whole template. Lexical errors end the stream with a `Tok::Error`.
pub(crate) fn lex(input: &str) -> Vec<Token> {
    let mut l = Lexer { s: input, pos: 0, toks: Vec::new(), paren_depth: 0 };
    l.run();
    l.toks
}

struct Lexer<'a> {
    s: &'a str,
    pos: usize,
    toks: Vec<Token>,
    paren_depth: i32,
}

type LexResult = Result<(), (usize, String)>;

impl Lexer<'_> {
    fn emit(&mut self, tok: Tok, pos: usize) {
        self.toks.push(Token { tok, pos });
    }

    fn rest(&self) -> &str {
        &self.s[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn next_char(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn run(&mut self) {
        loop {
            let Some(x) = self.rest().find("{{") else {
                if self.pos < self.s.len() {
                    self.emit(Tok::Text(self.rest().to_owned()), self.pos);
                }
                self.emit(Tok::Eof, self.s.len());
                return;
            };
            let delim = self.pos + x;
            let after = delim + 2;
            let trim_left = has_left_trim(&self.s[after..]);
            let mut text_end = delim;
            if trim_left {
                text_end = self.pos + self.s[self.pos..delim].trim_end_matches(is_space).len();
            }
            if text_end > self.pos {
                self.emit(Tok::Text(self.s[self.pos..text_end].to_owned()), self.pos);
            }
            let body = if trim_left { after + 2 } else { after };
            let result = if self.s[body..].starts_with("/*") {
                self.comment(delim, body)
            } else {
                self.emit(Tok::LeftDelim, delim);
                self.pos = body;
                self.paren_depth = 0;
                self.action(delim)
            };
            if let Err((pos, msg)) = result {
                self.emit(Tok::Error(msg), pos);
                return;
            }
        }
    }

    /// Whether a right delimiter starts here, and whether it carries a trim marker.
    fn at_right_delim(&self) -> (bool, bool) {
        let r = self.rest();
        if has_right_trim(r) && r[2..].starts_with("}}") {
            return (true, true);
        }
        (r.starts_with("}}"), false)
    }

    fn skip_leading_space(&mut self) {
        let r = self.rest();
        self.pos += r.len() - r.trim_start_matches(is_space).len();
    }

    fn comment(&mut self, delim: usize, body: usize) -> LexResult {
        let start = body + 2;
        let Some(x) = self.s[start..].find("*/") else {
            return Err((delim, "unclosed comment".into()));
        };
        self.pos = start + x + 2;
        let (at, trim) = self.at_right_delim();
        if !at {
            return Err((delim, "comment ends before closing delimiter".into()));
        }
        self.pos += if trim { 4 } else { 2 };
        if trim {
            self.skip_leading_space();
        }
        Ok(())
    }

    fn right_delim(&mut self, trim: bool) {
        if trim {
            self.pos += 2;
        }
        self.emit(Tok::RightDelim, self.pos);
        self.pos += 2;
        if trim {
            self.skip_leading_space();
        }
    }

    fn at_terminator(&self) -> bool {
        match self.peek() {
            None => true,
            Some(c) if is_space(c) => true,
            Some('.' | ',' | '|' | ':' | ')' | '(') => true,
            Some(_) => self.rest().starts_with("}}"),
        }
    }

    fn action(&mut self, open: usize) -> LexResult {
        loop {
            let (at, trim) = self.at_right_delim();
            if at {
                if self.paren_depth == 0 {
                    self.right_delim(trim);
                    return Ok(());
                }
                return Err((self.pos, "unclosed left paren".into()));
            }
            let start = self.pos;
            let Some(c) = self.next_char() else {
                return Err((open, "unclosed action".into()));
            };
            match c {
                c if is_space(c) => {
                    self.pos = start;
                    let r = self.rest();
                    let n = r.len() - r.trim_start_matches(is_space).len();
                    self.pos += n;
                    // A space run may end in the space of a trimmed right delimiter.
                    if has_right_trim(&self.s[self.pos - 1..])
                        && self.s[self.pos + 1..].starts_with("}}")
                    {
                        self.pos -= 1;
                        if n == 1 {
                            continue;
                        }
                    }
                    self.emit(Tok::Space, start);
                }
                '=' => self.emit(Tok::Assign, start),
                ':' => {
                    if self.next_char() != Some('=') {
                        return Err((start, "expected :=".into()));
                    }
                    self.emit(Tok::Declare, start);
                }
                '|' => self.emit(Tok::Pipe, start),
                '"' => self.quote(start)?,
                '`' => {
                    let Some(x) = self.rest().find('`') else {
                        return Err((start, "unterminated raw quoted string".into()));
                    };
                    self.pos += x + 1;
                    self.emit(Tok::RawStr(self.s[start..self.pos].to_owned()), start);
                }
                '$' => self.field_or_variable(start, true)?,
                '\'' => self.char_const(start)?,
                '.' if self.peek().is_some_and(|d| !d.is_ascii_digit()) => {
                    self.field_or_variable(start, false)?
                }
                '.' | '+' | '-' | '0'..='9' => {
                    self.pos = start;
                    self.number(start)?;
                }
                c if is_alnum(c) => {
                    self.pos = start;
                    self.identifier(start)?;
                }
                '(' => {
                    self.paren_depth += 1;
                    self.emit(Tok::LeftParen, start);
                }
                ')' => {
                    self.paren_depth -= 1;
                    if self.paren_depth < 0 {
                        return Err((start, "unexpected right paren".into()));
                    }
                    self.emit(Tok::RightParen, start);
                }
                c if c.is_ascii() && !c.is_ascii_control() => self.emit(Tok::Char(c), start),
                c => {
                    return Err((
                        start,
                        format!("unrecognized character in action: {}", unicode_name(c)),
                    ));
                }
            }
        }
    }

    fn quote(&mut self, start: usize) -> LexResult {
        loop {
            match self.next_char() {
                Some('\\') => match self.next_char() {
                    Some('\n') | None => {
                        return Err((start, "unterminated quoted string".into()));
                    }
                    Some(_) => {}
                },
                Some('\n') | None => return Err((start, "unterminated quoted string".into())),
                Some('"') => break,
                Some(_) => {}
            }
        }
        self.emit(Tok::Str(self.s[start..self.pos].to_owned()), start);
        Ok(())
    }

    fn char_const(&mut self, start: usize) -> LexResult {
        loop {
            match self.next_char() {
                Some('\\') => match self.next_char() {
                    Some('\n') | None => {
                        return Err((start, "unterminated character constant".into()));
                    }
                    Some(_) => {}
                },
                Some('\n') | None => {
                    return Err((start, "unterminated character constant".into()));
                }
                Some('\'') => break,
                Some(_) => {}
            }
        }
        self.emit(Tok::CharConst(self.s[start..self.pos].to_owned()), start);
        Ok(())
    }

    fn field_or_variable(&mut self, start: usize, variable: bool) -> LexResult {
        if self.at_terminator() {
            let tok = if variable { Tok::Variable("$".into()) } else { Tok::Dot };
            self.emit(tok, start);
            return Ok(());
        }
        while self.peek().is_some_and(is_alnum) {
            self.next_char();
        }
        if !self.at_terminator() {
            let c = self.peek().unwrap_or('\u{FFFD}');
            return Err((self.pos, format!("bad character {}", unicode_name(c))));
        }
        let text = &self.s[start..self.pos];
        let tok = if variable {
            Tok::Variable(text.to_owned())
        } else {
            Tok::Field(text[1..].to_owned())
        };
        self.emit(tok, start);
        Ok(())
    }

    fn identifier(&mut self, start: usize) -> LexResult {
        while self.peek().is_some_and(is_alnum) {
            self.next_char();
        }
        if !self.at_terminator() {
            let c = self.peek().unwrap_or('\u{FFFD}');
            return Err((self.pos, format!("bad character {}", unicode_name(c))));
        }
        let word = &self.s[start..self.pos];
        let tok = match word {
            "block" => Tok::Keyword(Kw::Block),
            "break" => Tok::Keyword(Kw::Break),
            "continue" => Tok::Keyword(Kw::Continue),
            "define" => Tok::Keyword(Kw::Define),
            "else" => Tok::Keyword(Kw::Else),
            "end" => Tok::Keyword(Kw::End),
            "if" => Tok::Keyword(Kw::If),
            "range" => Tok::Keyword(Kw::Range),
            "nil" => Tok::Keyword(Kw::Nil),
            "template" => Tok::Keyword(Kw::Template),
            "with" => Tok::Keyword(Kw::With),
            "true" => Tok::Bool(true),
            "false" => Tok::Bool(false),
            _ => Tok::Ident(word.to_owned()),
        };
        self.emit(tok, start);
        Ok(())
    }

    fn accept(&mut self, valid: &str) -> bool {
        if let Some(c) = self.peek()
            && valid.contains(c)
        {
            self.pos += c.len_utf8();
            return true;
        }
        false
    }

    fn accept_run(&mut self, valid: &str) {
        while self.accept(valid) {}
    }

    fn scan_number(&mut self) -> bool {
        self.accept("+-");
        let mut digits = "0123456789_";
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if digits.len() == 11 && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if digits.len() == 23 && self.accept("pP") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        self.accept("i");
        if self.peek().is_some_and(is_alnum) {
            self.next_char();
            return false;
        }
        true
    }

    fn number(&mut self, start: usize) -> LexResult {
        let bad = |l: &Self| (start, format!("bad number syntax: {:?}", &l.s[start..l.pos]));
        if !self.scan_number() {
            return Err(bad(self));
        }
        if matches!(self.peek(), Some('+' | '-')) {
            if !self.scan_number() || !self.s[..self.pos].ends_with('i') {
                return Err(bad(self));
            }
            self.emit(Tok::Complex(self.s[start..self.pos].to_owned()), start);
            return Ok(());
        }
        self.emit(Tok::Number(self.s[start..self.pos].to_owned()), start);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s).into_iter().map(|t| t.tok).collect()
    }

    fn text(s: &str) -> Tok {
        Tok::Text(s.into())
    }

    #[test]
    fn text_and_actions() {
        assert_eq!(toks(""), vec![Tok::Eof]);
        assert_eq!(toks("now is the time"), vec![text("now is the time"), Tok::Eof]);
        assert_eq!(
            toks("{{.X | f 1.5 \"s\" `r` 'c' $v}}"),
            vec![
                Tok::LeftDelim,
                Tok::Field("X".into()),
                Tok::Space,
                Tok::Pipe,
                Tok::Space,
                Tok::Ident("f".into()),
                Tok::Space,
                Tok::Number("1.5".into()),
                Tok::Space,
                Tok::Str("\"s\"".into()),
                Tok::Space,
                Tok::RawStr("`r`".into()),
                Tok::Space,
                Tok::CharConst("'c'".into()),
                Tok::Space,
                Tok::Variable("$v".into()),
                Tok::RightDelim,
                Tok::Eof
            ]
        );
        assert_eq!(
            toks("{{$x := .}}{{$ = 3}}"),
            vec![
                Tok::LeftDelim,
                Tok::Variable("$x".into()),
                Tok::Space,
                Tok::Declare,
                Tok::Space,
                Tok::Dot,
                Tok::RightDelim,
                Tok::LeftDelim,
                Tok::Variable("$".into()),
                Tok::Space,
                Tok::Assign,
                Tok::Space,
                Tok::Number("3".into()),
                Tok::RightDelim,
                Tok::Eof
            ]
        );
        assert_eq!(
            toks("{{range $i, $e := .a.b}}"),
            vec![
                Tok::LeftDelim,
                Tok::Keyword(Kw::Range),
                Tok::Space,
                Tok::Variable("$i".into()),
                Tok::Char(','),
                Tok::Space,
                Tok::Variable("$e".into()),
                Tok::Space,
                Tok::Declare,
                Tok::Space,
                Tok::Field("a".into()),
                Tok::Field("b".into()),
                Tok::RightDelim,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn trim_markers_and_comments() {
        assert_eq!(
            toks("a  {{- 3 -}}  b"),
            vec![
                text("a"),
                Tok::LeftDelim,
                Tok::Number("3".into()),
                Tok::RightDelim,
                text("b"),
                Tok::Eof
            ]
        );
        assert_eq!(
            toks("a {{-3}} b"),
            vec![
                text("a "),
                Tok::LeftDelim,
                Tok::Number("-3".into()),
                Tok::RightDelim,
                text(" b"),
                Tok::Eof
            ]
        );
        assert_eq!(toks("a {{/* c */}} b"), vec![text("a "), text(" b"), Tok::Eof]);
        assert_eq!(toks("a \n{{- /* c */ -}}\n b"), vec![text("a"), text("b"), Tok::Eof]);
        assert_eq!(
            toks("{{ 1 }}"),
            vec![
                Tok::LeftDelim,
                Tok::Space,
                Tok::Number("1".into()),
                Tok::Space,
                Tok::RightDelim,
                Tok::Eof
            ]
        );
        assert_eq!(
            toks("{{1  -}}"),
            vec![Tok::LeftDelim, Tok::Number("1".into()), Tok::Space, Tok::RightDelim, Tok::Eof]
        );
    }

    #[test]
    fn numbers() {
        for n in ["0", "-7", "+3", "0x1F", "0o17", "0b101", "1_000", "1.5e-3", "0x1p4", ".5", "1."]
        {
            assert_eq!(
                toks(&format!("{{{{{n}}}}}")),
                vec![Tok::LeftDelim, Tok::Number(n.into()), Tok::RightDelim, Tok::Eof],
                "{n}"
            );
        }
        assert_eq!(
            toks("{{1+2i}}"),
            vec![Tok::LeftDelim, Tok::Complex("1+2i".into()), Tok::RightDelim, Tok::Eof]
        );
    }

    #[test]
    fn errors() {
        let err = |s: &str| match lex(s).pop().map(|t| t.tok) {
            Some(Tok::Error(m)) => m,
            other => format!("no error: {other:?}"),
        };
        assert_eq!(err("{{"), "unclosed action");
        assert_eq!(err("{{\u{a0}}}"), "unrecognized character in action: U+00A0");
        assert_eq!(err("{{ € }}"), "unrecognized character in action: U+20AC '€'");
        assert_eq!(err("{{\"abc}}"), "unterminated quoted string");
        assert_eq!(err("{{`abc}}"), "unterminated raw quoted string");
        assert_eq!(err("{{'a}}"), "unterminated character constant");
        assert_eq!(err("{{/* abc }}"), "unclosed comment");
        assert_eq!(err("{{/* abc */ x }}"), "comment ends before closing delimiter");
        assert_eq!(err("{{ 3k }}"), "bad number syntax: \"3k\"");
        assert_eq!(err("{{ (1 }}"), "unclosed left paren");
        assert_eq!(err("{{ 1) }}"), "unexpected right paren");
        assert_eq!(err("{{ a : }}"), "expected :=");
        assert_eq!(err("{{ .a# }}"), "bad character U+0023 '#'");
    }

    #[test]
    fn positions_are_byte_offsets() {
        let t = lex("ab{{ .x }}");
        assert_eq!(t[0].pos, 0);
        assert_eq!(t[1].pos, 2);
        assert_eq!(t[3].pos, 5);
        let t = lex("ab\n{{");
        assert_eq!(t.last().map(|t| t.pos), Some(3));
    }
}
