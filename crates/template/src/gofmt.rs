//! Go's `fmt` and `strconv` output as templates see it: `print`, `println`, `printf`, how an
//! action prints its value, and Go's float formatting (`%e`, `%f`, `%g`, shortest forms).

use std::collections::BTreeMap;

use crate::gotime;
use crate::value::Value;

/// How maps of strings print: Go's `map[k:v]`, or Alertmanager's label sets `k=v, k2=v2`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Style {
    pub kv: bool,
}

/// `fmt.Sprint`: operands printed with `%v`, a space between two operands when neither is a string.
pub(crate) fn sprint(args: &[Value], style: Style) -> String {
    let mut p = Printer::new(style);
    let mut prev_string = false;
    for (i, a) in args.iter().enumerate() {
        let is_string = matches!(a, Value::Str(_));
        if i > 0 && !is_string && !prev_string {
            p.buf.push(' ');
        }
        p.print_arg(a, 'v');
        prev_string = is_string;
    }
    p.buf
}

/// `fmt.Sprintln`: operands printed with `%v`, always separated by spaces, then a newline.
pub(crate) fn sprintln(args: &[Value], style: Style) -> String {
    let mut p = Printer::new(style);
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            p.buf.push(' ');
        }
        p.print_arg(a, 'v');
    }
    p.buf.push('\n');
    p.buf
}

/// `fmt.Sprintf`.
pub(crate) fn sprintf(format: &str, args: &[Value], style: Style) -> String {
    let mut p = Printer::new(style);
    p.do_printf(format, args);
    p.buf
}

/// The text of `%v` for one value (what `{{ value }}` prints for everything but nil).
pub(crate) fn display(v: &Value, style: Style) -> String {
    let mut p = Printer::new(style);
    p.print_arg(v, 'v');
    p.buf
}

/// The `String()` form of an Alertmanager label set: `alertname` first, then sorted keys.
pub(crate) fn kv_string(m: &BTreeMap<String, Value>) -> String {
    let mut out = String::new();
    for (i, (k, v)) in kv_sorted(m).into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v.as_str().unwrap_or_default());
    }
    out
}

/// The pairs of a label set in Alertmanager's order: `alertname` first, the rest sorted.
pub(crate) fn kv_sorted(m: &BTreeMap<String, Value>) -> Vec<(&str, &Value)> {
    let mut out: Vec<(&str, &Value)> = Vec::with_capacity(m.len());
    if let Some(v) = m.get("alertname") {
        out.push(("alertname", v));
    }
    out.extend(m.iter().filter(|(k, _)| k.as_str() != "alertname").map(|(k, v)| (k.as_str(), v)));
    out
}

/// A list of `{Name, Value}` string maps, the shape `SortedPairs` returns.
fn as_pairs(l: &[Value]) -> Option<String> {
    if l.is_empty() {
        return None;
    }
    let mut out = String::new();
    for (i, e) in l.iter().enumerate() {
        let Value::Map(m) = e else { return None };
        if m.len() != 2 {
            return None;
        }
        let (Some(Value::Str(n)), Some(Value::Str(v))) = (m.get("Name"), m.get("Value")) else {
            return None;
        };
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(n);
        out.push('=');
        out.push_str(v);
    }
    Some(out)
}

#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    plus_v: bool,
    sharp_v: bool,
    wid: Option<usize>,
    prec: Option<usize>,
}

/// Widths and precisions above this are treated as absent, as Go does.
const TOO_LARGE: usize = 1_000_000;

struct Printer {
    buf: String,
    f: Flags,
    style: Style,
    good_arg_num: bool,
    reordered: bool,
}

impl Printer {
    fn new(style: Style) -> Printer {
        Printer {
            buf: String::new(),
            f: Flags::default(),
            style,
            good_arg_num: true,
            reordered: false,
        }
    }

    fn write_padding(&mut self, n: usize) {
        let c = if self.f.zero { '0' } else { ' ' };
        self.buf.extend(std::iter::repeat_n(c, n));
    }

    /// Appends `s`, padded to the width on the left (or the right with `-`).
    fn pad(&mut self, s: &str) {
        let Some(w) = self.f.wid.filter(|w| *w > 0) else {
            self.buf.push_str(s);
            return;
        };
        let n = w.saturating_sub(s.chars().count());
        if self.f.minus {
            self.buf.push_str(s);
            self.write_padding(n);
        } else {
            self.write_padding(n);
            self.buf.push_str(s);
        }
    }

    fn pad_no_zero(&mut self, s: &str) {
        let z = self.f.zero;
        self.f.zero = false;
        self.pad(s);
        self.f.zero = z;
    }

    fn do_printf(&mut self, format: &str, args: &[Value]) {
        let fb = format.as_bytes();
        let end = fb.len();
        let mut arg_num = 0usize;
        let mut after_index;
        self.reordered = false;
        let mut i = 0usize;
        'outer: while i < end {
            self.good_arg_num = true;
            let last = i;
            while i < end && fb[i] != b'%' {
                i += 1;
            }
            if i > last {
                self.buf.push_str(&format[last..i]);
            }
            if i >= end {
                break;
            }
            i += 1; // the '%'
            self.f = Flags::default();
            while i < end {
                match fb[i] {
                    b'#' => self.f.sharp = true,
                    b'0' => self.f.zero = !self.f.minus,
                    b'+' => self.f.plus = true,
                    b'-' => {
                        self.f.minus = true;
                        self.f.zero = false;
                    }
                    b' ' => self.f.space = true,
                    c => {
                        if c.is_ascii_lowercase() && arg_num < args.len() {
                            // A simple verb with no width, precision or index.
                            if c == b'v' {
                                self.f.sharp_v = self.f.sharp;
                                self.f.sharp = false;
                                self.f.plus_v = self.f.plus;
                                self.f.plus = false;
                            }
                            self.print_arg(&args[arg_num], char::from(c));
                            arg_num += 1;
                            i += 1;
                            continue 'outer;
                        }
                        break;
                    }
                }
                i += 1;
            }

            (arg_num, i, after_index) = self.arg_number(arg_num, format, i, args.len());

            // Width.
            if i < end && fb[i] == b'*' {
                i += 1;
                let (w, ok, next) = int_from_arg(args, arg_num);
                arg_num = next;
                if ok {
                    if w < 0 {
                        self.f.minus = true;
                        self.f.zero = false;
                    }
                    self.f.wid = Some(w.unsigned_abs() as usize);
                } else {
                    self.f.wid = None;
                    self.buf.push_str("%!(BADWIDTH)");
                }
                after_index = false;
            } else {
                let (w, ok, next) = parse_num(fb, i, end);
                self.f.wid = if ok { Some(w) } else { None };
                i = next;
                if after_index && ok {
                    self.good_arg_num = false;
                }
            }

            // Precision.
            if i + 1 < end && fb[i] == b'.' {
                i += 1;
                if after_index {
                    self.good_arg_num = false;
                }
                (arg_num, i, after_index) = self.arg_number(arg_num, format, i, args.len());
                if i < end && fb[i] == b'*' {
                    i += 1;
                    let (p, ok, next) = int_from_arg(args, arg_num);
                    arg_num = next;
                    if ok && p >= 0 {
                        self.f.prec = Some(p as usize);
                    } else {
                        self.f.prec = None;
                    }
                    if !ok {
                        self.buf.push_str("%!(BADPREC)");
                    }
                    after_index = false;
                } else {
                    let (p, ok, next) = parse_num(fb, i, end);
                    i = next;
                    self.f.prec = Some(if ok { p } else { 0 });
                }
            }

            if !after_index {
                (arg_num, i, _) = self.arg_number(arg_num, format, i, args.len());
            }

            if i >= end {
                self.buf.push_str("%!(NOVERB)");
                break;
            }

            let verb = format[i..].chars().next().unwrap_or('%');
            i += verb.len_utf8();

            if verb == '%' {
                self.buf.push('%');
            } else if !self.good_arg_num {
                self.buf.push_str("%!");
                self.buf.push(verb);
                self.buf.push_str("(BADINDEX)");
            } else if arg_num >= args.len() {
                self.buf.push_str("%!");
                self.buf.push(verb);
                self.buf.push_str("(MISSING)");
            } else {
                if verb == 'v' {
                    self.f.sharp_v = self.f.sharp;
                    self.f.sharp = false;
                    self.f.plus_v = self.f.plus;
                    self.f.plus = false;
                }
                self.print_arg(&args[arg_num], verb);
                arg_num += 1;
            }
        }

        if !self.reordered && arg_num < args.len() {
            self.f = Flags::default();
            self.buf.push_str("%!(EXTRA ");
            for (k, a) in args[arg_num..].iter().enumerate() {
                if k > 0 {
                    self.buf.push_str(", ");
                }
                if matches!(a, Value::Nil) {
                    self.buf.push_str("<nil>");
                } else {
                    self.buf.push_str(a.type_name());
                    self.buf.push('=');
                    self.print_arg(a, 'v');
                }
            }
            self.buf.push(')');
        }
    }

    /// An explicit argument index `[n]` at `i`, if any.
    fn arg_number(
        &mut self,
        arg_num: usize,
        format: &str,
        i: usize,
        nargs: usize,
    ) -> (usize, usize, bool) {
        let fb = format.as_bytes();
        if i >= fb.len() || fb[i] != b'[' {
            return (arg_num, i, false);
        }
        self.reordered = true;
        let (index, wid, ok) = parse_arg_number(&fb[i..]);
        if ok && index >= 0 && (index as usize) < nargs {
            return (index as usize, i + wid, true);
        }
        self.good_arg_num = false;
        (arg_num, i + wid, ok)
    }

    fn bad_verb(&mut self, v: &Value, verb: char) {
        self.buf.push_str("%!");
        self.buf.push(verb);
        self.buf.push('(');
        if matches!(v, Value::Nil) {
            self.buf.push_str("<nil>");
        } else {
            self.buf.push_str(v.type_name());
            self.buf.push('=');
            self.print_arg(v, 'v');
        }
        self.buf.push(')');
    }

    fn print_arg(&mut self, v: &Value, verb: char) {
        if let Value::Nil = v {
            match verb {
                'T' | 'v' => self.pad("<nil>"),
                _ => self.bad_verb(v, verb),
            }
            return;
        }
        if verb == 'T' {
            self.fmt_s(v.type_name());
            return;
        }
        self.print_value(v, verb);
    }

    fn print_value(&mut self, v: &Value, verb: char) {
        // Values with a String method print through it for the string verbs.
        if !self.f.sharp_v && matches!(verb, 'v' | 's' | 'x' | 'X' | 'q') {
            let stringer = match v {
                Value::Time(t) => Some(gotime::time_string(t)),
                Value::Duration(d) => Some(gotime::duration_string(*d)),
                Value::Map(m) if self.style.kv && !m.is_empty() && v.is_string_map() => {
                    Some(kv_string(m))
                }
                Value::List(l) if self.style.kv => as_pairs(l),
                _ => None,
            };
            if let Some(s) = stringer {
                self.fmt_string(&s, verb);
                return;
            }
        }
        match v {
            Value::Nil => {
                if self.f.sharp_v {
                    self.fmt_s("interface {}(nil)");
                } else {
                    self.fmt_s("<nil>");
                }
            }
            Value::Bool(b) => match verb {
                't' | 'v' => self.pad(if *b { "true" } else { "false" }),
                _ => self.bad_verb(v, verb),
            },
            Value::Int(i) => self.fmt_int(*i, verb, v),
            Value::Duration(d) => self.fmt_int(*d, verb, v),
            Value::Float(x) => match verb {
                'v' => self.fmt_float(*x, b'g', -1),
                'b' | 'g' | 'G' | 'x' | 'X' => self.fmt_float(*x, verb as u8, -1),
                'f' | 'e' | 'E' => self.fmt_float(*x, verb as u8, 6),
                'F' => self.fmt_float(*x, b'f', 6),
                _ => self.bad_verb(v, verb),
            },
            Value::Str(s) => self.fmt_string(s, verb),
            Value::Time(_) => self.bad_verb(v, verb),
            Value::List(l) => {
                if self.f.sharp_v {
                    self.buf.push_str("[]interface {}{");
                    for (i, e) in l.iter().enumerate() {
                        if i > 0 {
                            self.buf.push_str(", ");
                        }
                        self.print_value(e, verb);
                    }
                    self.buf.push('}');
                    return;
                }
                self.buf.push('[');
                for (i, e) in l.iter().enumerate() {
                    if i > 0 {
                        self.buf.push(' ');
                    }
                    self.print_value(e, verb);
                }
                self.buf.push(']');
            }
            Value::Map(m) => {
                if self.f.sharp_v {
                    self.buf.push_str("map[string]interface {}{");
                } else {
                    self.buf.push_str("map[");
                }
                for (i, (k, e)) in m.iter().enumerate() {
                    if i > 0 {
                        self.buf.push_str(if self.f.sharp_v { ", " } else { " " });
                    }
                    self.fmt_string(k, verb);
                    self.buf.push(':');
                    self.print_value(e, verb);
                }
                self.buf.push(if self.f.sharp_v { '}' } else { ']' });
            }
        }
    }

    fn fmt_int(&mut self, i: i64, verb: char, v: &Value) {
        let u = i as u64;
        match verb {
            'v' | 'd' => self.fmt_integer(u, 10, true, verb, false),
            'b' => self.fmt_integer(u, 2, true, verb, false),
            'o' | 'O' => self.fmt_integer(u, 8, true, verb, false),
            'x' => self.fmt_integer(u, 16, true, verb, false),
            'X' => self.fmt_integer(u, 16, true, verb, true),
            'c' => self.fmt_c(u),
            'q' => {
                if u <= 0x10FFFF {
                    self.fmt_qc(u)
                } else {
                    self.bad_verb(v, verb)
                }
            }
            'U' => self.fmt_unicode(u),
            _ => self.bad_verb(v, verb),
        }
    }

    fn fmt_integer(&mut self, u: u64, base: u64, signed: bool, verb: char, upper: bool) {
        let digits: &[u8; 17] = if upper { b"0123456789ABCDEFX" } else { b"0123456789abcdefx" };
        let negative = signed && (u as i64) < 0;
        let mut u = if negative { (u as i64).unsigned_abs() } else { u };
        let mut prec = 0usize;
        if let Some(p) = self.f.prec {
            prec = p;
            if p == 0 && u == 0 {
                let z = self.f.zero;
                self.f.zero = false;
                self.write_padding(self.f.wid.unwrap_or(0));
                self.f.zero = z;
                return;
            }
        } else if let (true, Some(w)) = (self.f.zero, self.f.wid) {
            prec = w;
            if negative || self.f.plus || self.f.space {
                prec = prec.saturating_sub(1);
            }
        }
        // Digits are produced right to left.
        let mut out: Vec<u8> = Vec::with_capacity(24 + prec);
        loop {
            out.push(digits[(u % base) as usize]);
            u /= base;
            if u == 0 {
                break;
            }
        }
        while out.len() < prec {
            out.push(b'0');
        }
        if self.f.sharp {
            match base {
                2 => out.extend_from_slice(b"b0"),
                8 if out.last() != Some(&b'0') => out.push(b'0'),
                16 => {
                    out.push(digits[16]);
                    out.push(b'0');
                }
                _ => {}
            }
        }
        if verb == 'O' {
            out.extend_from_slice(b"o0");
        }
        if negative {
            out.push(b'-');
        } else if self.f.plus {
            out.push(b'+');
        } else if self.f.space {
            out.push(b' ');
        }
        out.reverse();
        let s = String::from_utf8_lossy(&out).into_owned();
        self.pad_no_zero(&s);
    }

    fn fmt_c(&mut self, c: u64) {
        let ch = u32::try_from(c).ok().and_then(char::from_u32).unwrap_or('\u{FFFD}');
        self.pad(&ch.to_string());
    }

    fn fmt_qc(&mut self, c: u64) {
        let ch = u32::try_from(c).ok().and_then(char::from_u32).unwrap_or('\u{FFFD}');
        let s = quote_rune(ch, self.f.plus);
        self.pad(&s);
    }

    fn fmt_unicode(&mut self, u: u64) {
        let mut prec = 4;
        if let Some(p) = self.f.prec.filter(|p| *p > 4) {
            prec = p;
        }
        let mut s = format!("U+{u:0prec$X}");
        if self.f.sharp
            && let Some(ch) = u32::try_from(u).ok().and_then(char::from_u32)
            && is_print(ch)
        {
            s.push_str(" '");
            s.push(ch);
            s.push('\'');
        }
        self.pad_no_zero(&s);
    }

    fn fmt_string(&mut self, s: &str, verb: char) {
        match verb {
            'v' => {
                if self.f.sharp_v {
                    self.fmt_q(s)
                } else {
                    self.fmt_s(s)
                }
            }
            's' => self.fmt_s(s),
            'x' => self.fmt_sx(s, false),
            'X' => self.fmt_sx(s, true),
            'q' => self.fmt_q(s),
            _ => self.bad_verb(&Value::Str(s.to_owned()), verb),
        }
    }

    fn truncate<'s>(&self, s: &'s str) -> &'s str {
        if let Some(p) = self.f.prec
            && let Some((i, _)) = s.char_indices().nth(p)
        {
            return &s[..i];
        }
        s
    }

    fn fmt_s(&mut self, s: &str) {
        let s = self.truncate(s);
        self.pad(s);
    }

    fn fmt_sx(&mut self, s: &str, upper: bool) {
        let digits: &[u8; 17] = if upper { b"0123456789ABCDEFX" } else { b"0123456789abcdefx" };
        let b = s.as_bytes();
        let mut length = b.len();
        if let Some(p) = self.f.prec
            && p < length
        {
            length = p;
        }
        let mut width = 2 * length;
        if width > 0 {
            if self.f.space {
                if self.f.sharp {
                    width *= 2;
                }
                width += length - 1;
            } else if self.f.sharp {
                width += 2;
            }
        } else {
            if let Some(w) = self.f.wid {
                self.write_padding(w);
            }
            return;
        }
        let wid = self.f.wid.unwrap_or(0);
        if wid > width && !self.f.minus {
            self.write_padding(wid - width);
        }
        let mut out = String::with_capacity(width);
        if self.f.sharp {
            out.push('0');
            out.push(char::from(digits[16]));
        }
        for (i, c) in b[..length].iter().enumerate() {
            if self.f.space && i > 0 {
                out.push(' ');
                if self.f.sharp {
                    out.push('0');
                    out.push(char::from(digits[16]));
                }
            }
            out.push(char::from(digits[usize::from(c >> 4)]));
            out.push(char::from(digits[usize::from(c & 0xF)]));
        }
        self.buf.push_str(&out);
        if wid > width && self.f.minus {
            self.write_padding(wid - width);
        }
    }

    fn fmt_q(&mut self, s: &str) {
        let s = self.truncate(s);
        if self.f.sharp && can_backquote(s) {
            let q = format!("`{s}`");
            self.pad(&q);
            return;
        }
        let q = quote(s, self.f.plus);
        self.pad(&q);
    }

    fn fmt_float(&mut self, v: f64, verb: u8, default_prec: i32) {
        let prec = self.f.prec.map_or(default_prec, |p| p as i32);
        let s = format_float(v, verb, prec);
        let mut num: Vec<u8> = if s.starts_with('-') || s.starts_with('+') {
            s.into_bytes()
        } else {
            let mut n = vec![b'+'];
            n.extend_from_slice(s.as_bytes());
            n
        };
        if self.f.space && num[0] == b'+' && !self.f.plus {
            num[0] = b' ';
        }
        if num[1] == b'I' || num[1] == b'N' {
            if num[1] == b'N' && !self.f.space && !self.f.plus {
                num.remove(0);
            }
            let t = String::from_utf8_lossy(&num).into_owned();
            self.pad_no_zero(&t);
            return;
        }
        if self.f.sharp && verb != b'b' {
            let mut digits: i32 = 0;
            if matches!(verb, b'v' | b'g' | b'G' | b'x') {
                digits = if prec == -1 { 6 } else { prec };
            }
            let mut tail: Vec<u8> = Vec::new();
            let mut has_point = false;
            let mut saw_nonzero = false;
            let mut i = 1;
            while i < num.len() {
                match num[i] {
                    b'.' => has_point = true,
                    b'p' | b'P' => {
                        tail = num.split_off(i);
                        break;
                    }
                    b'e' | b'E' if verb != b'x' && verb != b'X' => {
                        tail = num.split_off(i);
                        break;
                    }
                    c => {
                        if c != b'0' {
                            saw_nonzero = true;
                        }
                        if saw_nonzero {
                            digits -= 1;
                        }
                    }
                }
                i += 1;
            }
            if !has_point {
                if num.len() == 2 && num[1] == b'0' {
                    digits -= 1;
                }
                num.push(b'.');
            }
            while digits > 0 {
                num.push(b'0');
                digits -= 1;
            }
            num.extend_from_slice(&tail);
        }
        let text = String::from_utf8_lossy(&num).into_owned();
        if self.f.plus || num[0] != b'+' {
            if let Some(w) = self.f.wid
                && self.f.zero
                && !self.f.minus
                && w > num.len()
            {
                self.buf.push(char::from(num[0]));
                self.write_padding(w - num.len());
                self.buf.push_str(&text[1..]);
                return;
            }
            self.pad(&text);
            return;
        }
        self.pad(&text[1..]);
    }
}

fn parse_num(fb: &[u8], start: usize, end: usize) -> (usize, bool, usize) {
    if start >= end {
        return (0, false, end);
    }
    let mut num = 0usize;
    let mut isnum = false;
    let mut i = start;
    while i < end && fb[i].is_ascii_digit() {
        if num > TOO_LARGE {
            return (0, false, end);
        }
        num = num * 10 + usize::from(fb[i] - b'0');
        isnum = true;
        i += 1;
    }
    (num, isnum, i)
}

/// Parses `[n]` at the start of `fb`: (zero-based index, bytes consumed, ok).
fn parse_arg_number(fb: &[u8]) -> (i64, usize, bool) {
    if fb.len() < 3 {
        return (0, 1, false);
    }
    for i in 1..fb.len() {
        if fb[i] == b']' {
            let (n, ok, next) = parse_num(fb, 1, i);
            if !ok || next != i {
                return (0, i + 1, false);
            }
            return (n as i64 - 1, i + 1, true);
        }
    }
    (0, 1, false)
}

fn int_from_arg(args: &[Value], arg_num: usize) -> (i64, bool, usize) {
    if arg_num >= args.len() {
        return (0, false, arg_num);
    }
    let (n, ok) = match &args[arg_num] {
        Value::Int(i) | Value::Duration(i) => (*i, true),
        _ => (0, false),
    };
    if n.unsigned_abs() > TOO_LARGE as u64 {
        return (0, false, arg_num + 1);
    }
    (n, ok, arg_num + 1)
}

/// Decimal digits of a float: `0.d1d2d3… × 10^dp`, trailing zeros removed (Go's `decimal`).
struct Digits {
    d: Vec<u8>,
    dp: i32,
}

impl Digits {
    /// Parses Rust's `{:e}` output (`1.2345e6`) of a non-negative finite float.
    fn parse(s: &str) -> Digits {
        let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let mut d: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
        while d.last() == Some(&b'0') {
            d.pop();
        }
        if d.is_empty() {
            return Digits { d, dp: 0 };
        }
        Digits { d, dp: exp + 1 }
    }

    /// The shortest digits that read back as `v`.
    fn shortest(v: f64) -> Digits {
        Digits::parse(&format!("{v:e}"))
    }

    /// `v` rounded (half to even on the exact value) to `n >= 1` significant digits.
    fn rounded(v: f64, n: i32) -> Digits {
        let p = (n.max(1) - 1) as usize;
        Digits::parse(&format!("{v:.p$e}"))
    }

    fn nd(&self) -> i32 {
        self.d.len() as i32
    }
}

/// Go's `strconv.FormatFloat(v, fmt, prec, 64)`.
pub(crate) fn format_float(v: f64, fmt: u8, prec: i32) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let mut out = String::new();
    if v.is_sign_negative() {
        out.push('-');
    }
    let a = v.abs();
    match fmt {
        b'b' => {
            fmt_b(&mut out, a);
            return out;
        }
        b'x' | b'X' => {
            fmt_x(&mut out, a, prec, fmt);
            return out;
        }
        b'e' | b'E' | b'f' | b'g' | b'G' => {}
        _ => {
            out.clear();
            out.push('%');
            out.push(char::from(fmt));
            return out;
        }
    }
    let shortest = prec < 0;
    let (digits, prec) = if shortest {
        let d = Digits::shortest(a);
        let p = match fmt {
            b'e' | b'E' => d.nd() - 1,
            b'f' => (d.nd() - d.dp).max(0),
            _ => d.nd(),
        };
        (d, p)
    } else {
        match fmt {
            b'e' | b'E' => (Digits::rounded(a, prec + 1), prec),
            b'f' => {
                out.push_str(&format!("{a:.p$}", p = prec as usize));
                return out;
            }
            _ => {
                let p = if prec == 0 { 1 } else { prec };
                (Digits::rounded(a, p), p)
            }
        }
    };
    format_digits(&mut out, shortest, &digits, prec, fmt);
    out
}

fn format_digits(out: &mut String, shortest: bool, d: &Digits, prec: i32, fmt: u8) {
    match fmt {
        b'e' | b'E' => fmt_e(out, d, prec, fmt),
        b'f' => fmt_f(out, d, prec),
        _ => {
            let mut eprec = prec;
            if eprec > d.nd() && d.nd() >= d.dp {
                eprec = d.nd();
            }
            if shortest {
                eprec = 6;
            }
            let exp = d.dp - 1;
            let mut prec = prec;
            if exp < -4 || exp >= eprec {
                if prec > d.nd() {
                    prec = d.nd();
                }
                fmt_e(out, d, prec - 1, fmt + b'e' - b'g');
                return;
            }
            if prec > d.dp {
                prec = d.nd();
            }
            fmt_f(out, d, (prec - d.dp).max(0));
        }
    }
}

fn fmt_e(out: &mut String, d: &Digits, prec: i32, fmt: u8) {
    out.push(char::from(d.d.first().copied().unwrap_or(b'0')));
    if prec > 0 {
        out.push('.');
        let mut i = 1;
        let m = d.nd().min(prec + 1);
        while i < m {
            out.push(char::from(d.d[i as usize]));
            i += 1;
        }
        while i <= prec {
            out.push('0');
            i += 1;
        }
    }
    out.push(char::from(fmt));
    let mut exp = if d.d.is_empty() { 0 } else { d.dp - 1 };
    if exp < 0 {
        out.push('-');
        exp = -exp;
    } else {
        out.push('+');
    }
    if exp < 10 {
        out.push('0');
    }
    out.push_str(&exp.to_string());
}

fn fmt_f(out: &mut String, d: &Digits, prec: i32) {
    if d.dp > 0 {
        let m = d.nd().min(d.dp);
        for i in 0..m {
            out.push(char::from(d.d[i as usize]));
        }
        for _ in m..d.dp {
            out.push('0');
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            let j = d.dp + i - 1;
            let ch = if j >= 0 && j < d.nd() { d.d[j as usize] } else { b'0' };
            out.push(char::from(ch));
        }
    }
}

/// `%b`: decimal mantissa and binary exponent, `4503599627370496p-52`.
fn fmt_b(out: &mut String, a: f64) {
    let bits = a.to_bits();
    let mut exp = ((bits >> 52) & 0x7ff) as i64;
    let mut mant = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        exp += 1;
    } else {
        mant |= 1u64 << 52;
    }
    exp += -1023 - 52;
    out.push_str(&mant.to_string());
    out.push('p');
    if exp >= 0 {
        out.push('+');
    }
    out.push_str(&exp.to_string());
}

/// `%x`: hexadecimal mantissa and binary exponent, `0x1.8p+01`.
fn fmt_x(out: &mut String, a: f64, prec: i32, fmt: u8) {
    let bits = a.to_bits();
    let mut exp = ((bits >> 52) & 0x7ff) as i64;
    let mut mant = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        exp += 1;
    } else {
        mant |= 1u64 << 52;
    }
    exp -= 1023;
    if mant == 0 {
        exp = 0;
    }
    mant <<= 60 - 52;
    while mant != 0 && mant & (1u64 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    if (0..15).contains(&prec) {
        let shift = (prec * 4) as u32;
        let extra = (mant << shift) & ((1u64 << 60) - 1);
        mant >>= 60 - shift;
        if extra | (mant & 1) > 1u64 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1u64 << 61) != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let hex: &[u8; 16] = if fmt == b'X' { b"0123456789ABCDEF" } else { b"0123456789abcdef" };
    out.push('0');
    out.push(char::from(fmt));
    out.push(char::from(b'0' + ((mant >> 60) & 1) as u8));
    mant <<= 4;
    if prec < 0 && mant != 0 {
        out.push('.');
        while mant != 0 {
            out.push(char::from(hex[((mant >> 60) & 15) as usize]));
            mant <<= 4;
        }
    } else if prec > 0 {
        out.push('.');
        for _ in 0..prec {
            out.push(char::from(hex[((mant >> 60) & 15) as usize]));
            mant <<= 4;
        }
    }
    out.push(if fmt == b'X' { 'P' } else { 'p' });
    if exp < 0 {
        out.push('-');
        exp = -exp;
    } else {
        out.push('+');
    }
    if exp < 10 {
        out.push('0');
    }
    out.push_str(&exp.to_string());
}

/// Go's `unicode.IsPrint`, approximated: graphic characters and the ASCII space.
pub(crate) fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = c as u32;
    let format_char = matches!(u,
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F
        | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB
        | 0x110BD | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F);
    let private = matches!(u, 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD);
    let nonchar = (u & 0xFFFE) == 0xFFFE || (0xFDD0..=0xFDEF).contains(&u);
    !(format_char || private || nonchar)
}

fn escape_rune(out: &mut String, c: char, quote: char, ascii_only: bool) {
    if c == quote || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if ascii_only {
        if c.is_ascii() && is_print(c) {
            out.push(c);
            return;
        }
    } else if is_print(c) {
        out.push(c);
        return;
    }
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        _ => {
            let u = c as u32;
            if u < 0x20 || u == 0x7f {
                out.push_str(&format!("\\x{u:02x}"));
            } else if u < 0x10000 {
                out.push_str(&format!("\\u{u:04x}"));
            } else {
                out.push_str(&format!("\\U{u:08x}"));
            }
        }
    }
}

/// Go's `strconv.Quote` (or `QuoteToASCII` when `ascii_only`).
pub(crate) fn quote(s: &str, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        escape_rune(&mut out, c, '"', ascii_only);
    }
    out.push('"');
    out
}

/// Go's `strconv.QuoteRune` (or `QuoteRuneToASCII`).
fn quote_rune(c: char, ascii_only: bool) -> String {
    let mut out = String::from("'");
    escape_rune(&mut out, c, '\'', ascii_only);
    out.push('\'');
    out
}

/// Go's `strconv.CanBackquote`.
fn can_backquote(s: &str) -> bool {
    s.chars().all(|c| {
        if c.len_utf8() > 1 {
            return c != '\u{FEFF}';
        }
        !((c < ' ' && c != '\t') || c == '`' || c == '\u{7F}')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(format: &str, args: Vec<Value>) -> String {
        sprintf(format, &args, Style::default())
    }

    #[test]
    fn strconv_float_formats() {
        let cases: &[(f64, u8, i32, &str)] = &[
            (1.0, b'e', 6, "1.000000e+00"),
            (1234.5678e3, b'e', 6, "1.234568e+06"),
            (1234.5678e-8, b'e', 6, "1.234568e-05"),
            (-7.0, b'e', 6, "-7.000000e+00"),
            (1234.5678e3, b'f', 6, "1234567.800000"),
            (1234.5678e-8, b'f', 6, "0.000012"),
            (-1e-9, b'f', 6, "-0.000000"),
            (1234.5678e3, b'g', -1, "1.2345678e+06"),
            (1234.5678e-8, b'g', -1, "1.2345678e-05"),
            (-7.0, b'g', -1, "-7"),
            (-1e-9, b'g', -1, "-1e-09"),
            (1.23456789e3, b'g', -1, "1234.56789"),
            (1.23456789e-3, b'g', -1, "0.00123456789"),
            (1.23456789e20, b'g', -1, "1.23456789e+20"),
            (1e6, b'g', -1, "1e+06"),
            (100000.0, b'g', -1, "100000"),
            (0.1, b'g', -1, "0.1"),
            (1e-5, b'g', -1, "1e-05"),
            (0.0001, b'g', -1, "0.0001"),
            (0.0, b'g', -1, "0"),
            (1.353755652e9, b'g', -1, "1.353755652e+09"),
            (1234567.0, b'g', 4, "1.235e+06"),
            (120.00000000000001, b'g', 4, "120"),
            (1.0, b'g', 4, "1"),
            (9.223372036854776, b'g', 4, "9.223"),
            (1.8446744073709552e21, b'g', 4, "1.845e+21"),
            (1.0, b'b', -1, "4503599627370496p-52"),
            (1.0, b'x', -1, "0x1p+00"),
            (1.0, b'x', 3, "0x1.000p+00"),
            (123.0, b'x', 4, "0x1.ec00p+06"),
            (0.0, b'x', 3, "0x0.000p+00"),
            (1e300, b'e', 2, "1.00e+300"),
            (f64::INFINITY, b'g', -1, "+Inf"),
            (f64::NEG_INFINITY, b'f', 2, "-Inf"),
            (f64::NAN, b'e', 2, "NaN"),
            (2.5, b'f', 0, "2"),
            (3.5, b'f', 0, "4"),
            (0.125, b'e', 1, "1.2e-01"),
        ];
        for (v, fmt, prec, want) in cases {
            assert_eq!(format_float(*v, *fmt, *prec), *want, "{v} {} {prec}", char::from(*fmt));
        }
    }

    #[test]
    fn printf_strings() {
        let s = |x: &str| vec![Value::from(x)];
        assert_eq!(f("%s", s("abc")), "abc");
        assert_eq!(f("%q", s("abc")), "\"abc\"");
        assert_eq!(f("%x", s("abc")), "616263");
        assert_eq!(f("% x", s("xyz")), "78 79 7a");
        assert_eq!(f("%#x", s("xyz")), "0x78797a");
        assert_eq!(f("%# X", s("xyz")), "0X78 0X79 0X7A");
        assert_eq!(f("%x", s("")), "");
        assert_eq!(f("%#q", s("abc")), "`abc`");
        assert_eq!(f("%#q", s("\n")), "\"\\n\"");
        assert_eq!(f("%q", s("\u{7}\u{8}\u{c}\n\r\t\u{b}\"\\")), r#""\a\b\f\n\r\t\v\"\\""#);
        assert_eq!(f("%q", s("日本語")), "\"日本語\"");
        assert_eq!(f("%+q", s("日本語")), r#""\u65e5\u672c\u8a9e""#);
        assert_eq!(f("%#+q", s("日本語")), "`日本語`");
        assert_eq!(f("%+q", s("\u{10ffff}")), r#""\U0010ffff""#);
        assert_eq!(f("%10q", s("⌘")), "       \"⌘\"");
        assert_eq!(f("%+10q", s("⌘")), "  \"\\u2318\"");
        assert_eq!(f("%-10q", s("⌘")), "\"⌘\"       ");
        assert_eq!(f("%010q", s("⌘")), "0000000\"⌘\"");
        assert_eq!(f("%-010q", s("⌘")), "\"⌘\"       ");
        assert_eq!(f("%#-8q", s("\t")), "`\t`     ");
        assert_eq!(f("%5s", s("abc")), "  abc");
        assert_eq!(f("%2s", s("☺")), " ☺");
        assert_eq!(f("%-5s", s("abc")), "abc  ");
        assert_eq!(f("%05s", s("abc")), "00abc");
        assert_eq!(f("%0-5s", s("abc")), "abc  ");
        assert_eq!(f("%.5s", s("abcdefghijklmnopqrstuvwxyz")), "abcde");
        assert_eq!(f("%.0s", s("日本語日本語")), "");
        assert_eq!(f("%.5s", s("日本語日本語")), "日本語日本");
        assert_eq!(f("%.3q", s("日本語日本語")), "\"日本語\"");
        assert_eq!(f("%.1x", s("日本語")), "e6");
        assert_eq!(f("%10.1q", s("日本語日本語")), "       \"日\"");
        assert_eq!(f("%20.5s", s("qwertyuiop")), "               qwert");
        assert_eq!(f("%-20.5s", s("qwertyuiop")), "qwert               ");
        assert_eq!(f("% 02x", s("")), "00");
        assert_eq!(f("%#08x", s("\u{ab}")), "000xc2ab");
        assert_eq!(f("%# 10x", s("ab")), " 0x61 0x62");
        assert_eq!(f("%-10X", s("a")), "61        ");
    }

    #[test]
    fn printf_integers() {
        let i = |x: i64| vec![Value::Int(x)];
        assert_eq!(f("%d", i(12345)), "12345");
        assert_eq!(f("%v", i(-12345)), "-12345");
        assert_eq!(f("%.d", i(0)), "");
        assert_eq!(f("%6.0d", i(0)), "      ");
        assert_eq!(f("%06.0d", i(0)), "      ");
        assert_eq!(f("% d", i(12345)), " 12345");
        assert_eq!(f("%+d", i(12345)), "+12345");
        assert_eq!(f("%+v", i(12345)), "12345");
        assert_eq!(f("%b", i(7)), "111");
        assert_eq!(f("%b", i(-6)), "-110");
        assert_eq!(f("%#b", i(-6)), "-0b110");
        assert_eq!(f("%o", i(0o1234)), "1234");
        assert_eq!(f("%#o", i(-0o1234)), "-01234");
        assert_eq!(f("%O", i(-0o1234)), "-0o1234");
        assert_eq!(f("%#X", i(0)), "0X0");
        assert_eq!(f("%x", i(0x12abcdef)), "12abcdef");
        assert_eq!(f("%X", i(0x12abcdef)), "12ABCDEF");
        assert_eq!(f("%x", i(-255)), "-ff");
        assert_eq!(f("%.20b", i(7)), "00000000000000000111");
        assert_eq!(f("%10d", i(-12345)), "    -12345");
        assert_eq!(f("%010d", i(-12345)), "-000012345");
        assert_eq!(f("%20.8d", i(-1234)), "           -00001234");
        assert_eq!(f("%020.8d", i(1234)), "            00001234");
        assert_eq!(f("%-20.8d", i(-1234)), "-00001234           ");
        assert_eq!(f("%-#20.8x", i(0x1234abc)), "0x01234abc          ");
        assert_eq!(f("%-#20.8o", i(0o1234)), "00001234            ");
        assert_eq!(f("%d", i(i64::MIN)), "-9223372036854775808");
        assert_eq!(f("%c", i(0x672c)), "本");
        assert_eq!(f("%3c", i('⌘' as i64)), "  ⌘");
        assert_eq!(f("%c", i(-1)), "\u{FFFD}");
        assert_eq!(f("%c", i(0xDC80)), "\u{FFFD}");
        assert_eq!(f("%q", i('x' as i64)), "'x'");
        assert_eq!(f("%q", i('\'' as i64)), "'\\''");
        assert_eq!(f("%q", i('"' as i64)), "'\"'");
        assert_eq!(f("%+q", i('☺' as i64)), "'\\u263a'");
        assert_eq!(f("%q", i(0)), "'\\x00'");
        assert_eq!(f("%q", i(-1)), "%!q(int=-1)");
        assert_eq!(f("%q", i(0x110000)), "%!q(int=1114112)");
        assert_eq!(f("%U", i(0)), "U+0000");
        assert_eq!(f("%U", i(-1)), "U+FFFFFFFFFFFFFFFF");
        assert_eq!(f("%#U", i('☺' as i64)), "U+263A '☺'");
        assert_eq!(f("%#U", i('\n' as i64)), "U+000A");
        assert_eq!(f("%#14.6U", i('⌘' as i64)), "  U+002318 '⌘'");
        assert_eq!(f("%#-014.6U", i('⌘' as i64)), "U+002318 '⌘'  ");
    }

    #[test]
    fn printf_floats() {
        let x = |v: f64| vec![Value::Float(v)];
        assert_eq!(f("%+.3e", x(0.0)), "+0.000e+00");
        assert_eq!(f("%+.3x", x(1.0)), "+0x1.000p+00");
        assert_eq!(f("%+.3F", x(-1.0)), "-1.000");
        assert_eq!(f("%+07.2f", x(1.0)), "+001.00");
        assert_eq!(f("%+07.2f", x(-1.0)), "-001.00");
        assert_eq!(f("%-07.2f", x(1.0)), "1.00   ");
        assert_eq!(f("%+-07.2f", x(-1.0)), "-1.00  ");
        assert_eq!(f("%+10.2f", x(1.0)), "     +1.00");
        assert_eq!(f("% .3E", x(-1.0)), "-1.000E+00");
        assert_eq!(f("% .3e", x(1.0)), " 1.000e+00");
        assert_eq!(f("% .3X", x(-1.0)), "-0X1.000P+00");
        assert_eq!(f("%+.3g", x(0.0)), "+0");
        assert_eq!(f("% .3g", x(1.0)), " 1");
        assert_eq!(f("%b", x(1.0)), "4503599627370496p-52");
        assert_eq!(f("%#g", x(1e-323)), "1.00000e-323");
        assert_eq!(f("%#g", x(-1.0)), "-1.00000");
        assert_eq!(f("%#g", x(123456.0)), "123456.");
        assert_eq!(f("%#g", x(1234567.0)), "1.234567e+06");
        assert_eq!(f("%#g", x(1230000.0)), "1.23000e+06");
        assert_eq!(f("%#.0f", x(1.0)), "1.");
        assert_eq!(f("%#.0e", x(1.0)), "1.e+00");
        assert_eq!(f("%#.0x", x(1.0)), "0x1.p+00");
        assert_eq!(f("%#.0g", x(1100000.0)), "1.e+06");
        assert_eq!(f("%#.4g", x(100000.0)), "1.000e+05");
        assert_eq!(f("%#.4g", x(0.012)), "0.01200");
        assert_eq!(f("%#.4g", x(0.0)), "0.000");
        assert_eq!(f("%#.4x", x(123.0)), "0x1.ec00p+06");
        assert_eq!(f("%#9.4g", x(1.0)), "    1.000");
        assert_eq!(f("%#b", x(1.0)), "4503599627370496p-52");
        assert_eq!(f("%.4b", x(-1.0)), "-4503599627370496p-52");
        assert_eq!(f("%f", x(f64::INFINITY)), "+Inf");
        assert_eq!(f("%.1f", x(f64::NEG_INFINITY)), "-Inf");
        assert_eq!(f("% f", x(f64::NAN)), " NaN");
        assert_eq!(f("%20f", x(f64::INFINITY)), "                +Inf");
        assert_eq!(f("% 20F", x(f64::INFINITY)), "                 Inf");
        assert_eq!(f("% +20E", x(f64::NAN)), "                +NaN");
        assert_eq!(f("% -20g", x(f64::NAN)), " NaN                ");
        assert_eq!(f("%+020e", x(f64::INFINITY)), "                +Inf");
        assert_eq!(f("%-020f", x(f64::NEG_INFINITY)), "-Inf                ");
        assert_eq!(f("%20.6e", x(1.2345e3)), "        1.234500e+03");
        assert_eq!(f("%20f", x(12_345_678_901.234_568)), "  12345678901.234568");
        assert_eq!(f("%20.8f", x(1.23456789e-3)), "          0.00123457");
        assert_eq!(f("% 07.2f", x(1.0)), " 001.00");
        assert_eq!(f("% +07.2f", x(-1.0)), "-001.00");
        assert_eq!(f("%-05.1f", x(1.0)), "1.0  ");
        assert_eq!(f("%v", x(1.2345678)), "1.2345678");
        assert_eq!(f("%#v", x(1.0)), "1");
        assert_eq!(f("%#v", x(1000000.0)), "1e+06");
        assert_eq!(f("%0.2f", x(3720.01)), "3720.01");
        assert_eq!(f("%.68f", x(1.0)), format!("1.{}", "0".repeat(68)));
    }

    #[test]
    fn printf_composites_and_errors() {
        let list =
            Value::from(vec![Value::Int(1), Value::from("hello"), Value::Float(2.5), Value::Nil]);
        assert_eq!(f("%v", vec![list.clone()]), "[1 hello 2.5 <nil>]");
        assert_eq!(f("%#v", vec![list]), "[]interface {}{1, \"hello\", 2.5, interface {}(nil)}");
        let ints = Value::from(vec![1i64, 2, 15]);
        assert_eq!(f("%#x", vec![ints.clone()]), "[0x1 0x2 0xf]");
        assert_eq!(f("%x", vec![ints.clone()]), "[1 2 f]");
        assert_eq!(f("% d", vec![ints.clone()]), "[ 1  2  15]");
        assert_eq!(f("%+d", vec![ints.clone()]), "[+1 +2 +15]");
        assert_eq!(f("%6v", vec![ints]), "[     1      2     15]");
        assert_eq!(f("%q", vec![Value::from(vec!["a", "b"])]), "[\"a\" \"b\"]");
        let mixed = Value::from(vec![Value::Float(10.0), Value::Int(10)]);
        assert_eq!(f("%06v", vec![mixed]), "[000010 000010]");
        let mixed = Value::from(vec![Value::Float(-10.0), Value::Int(10)]);
        assert_eq!(f("%06v", vec![mixed]), "[-00010 000010]");
        let mixed = Value::from(vec![Value::Int(1), Value::Float(2.0), Value::from("x")]);
        assert_eq!(f("%03.6v", vec![mixed]), "[000001 002 00x]");
        let mixed = Value::from(vec![Value::Int(0), Value::Float(2.0), Value::from("x")]);
        assert_eq!(f("%03.0v", vec![mixed]), "[    002 000]");
        let m = Value::map([("a", Value::Int(1)), ("b", Value::from("x"))]);
        assert_eq!(f("%v", vec![m.clone()]), "map[a:1 b:x]");
        assert_eq!(f("%#v", vec![m]), "map[string]interface {}{\"a\":1, \"b\":\"x\"}");
        assert_eq!(f("%d", vec![Value::from("x")]), "%!d(string=x)");
        assert_eq!(f("%d", vec![Value::Bool(true)]), "%!d(bool=true)");
        assert_eq!(f("%s", vec![Value::Int(5)]), "%!s(int=5)");
        assert_eq!(f("%t", vec![Value::Float(1.5)]), "%!t(float64=1.5)");
        assert_eq!(f("%☠", vec![Value::Nil]), "%!☠(<nil>)");
        assert_eq!(f("%☠", vec![Value::from(vec![0i64, 1])]), "[%!☠(int=0) %!☠(int=1)]");
        assert_eq!(f("%10v", vec![Value::Nil]), "     <nil>");
        assert_eq!(f("%-10T", vec![Value::Nil]), "<nil>     ");
        assert_eq!(f("%T", vec![Value::Float(1.0)]), "float64");
        assert_eq!(f("%p", vec![Value::Int(27)]), "%!p(int=27)");
        assert_eq!(f("", vec![Value::Nil]), "%!(EXTRA <nil>)");
        assert_eq!(f("", vec![Value::Int(2)]), "%!(EXTRA int=2)");
        assert_eq!(f("no args", vec![Value::from("hello")]), "no args%!(EXTRA string=hello)");
        assert_eq!(f("%s %", vec![Value::from("hello")]), "hello %!(NOVERB)");
        assert_eq!(f("%s %.2", vec![Value::from("hello")]), "hello %!(NOVERB)");
        assert_eq!(
            f("%017091901790959340919092959340919017929593813360", vec![Value::Int(0)]),
            "%!(NOVERB)%!(EXTRA int=0)"
        );
        assert_eq!(f("%010.2", vec![Value::from("12345")]), "%!(NOVERB)%!(EXTRA string=12345)");
        assert_eq!(f("%.", vec![Value::Int(3)]), "%!.(int=3)");
        assert_eq!(f("%s %s", vec![Value::from("a")]), "a %!s(MISSING)");
        assert_eq!(f("%d%%", vec![Value::Int(5)]), "5%");
        assert_eq!(f("%!", vec![]), "%!!(MISSING)");
    }

    #[test]
    fn printf_indexes_and_stars() {
        let se = |v: Vec<Value>| v;
        let i = Value::Int;
        let x = Value::Float;
        assert_eq!(f("%[1]d", se(vec![i(1)])), "1");
        assert_eq!(f("%[2]d %[1]d", se(vec![i(1), i(2)])), "2 1");
        assert_eq!(f("%[2]*[1]d", se(vec![i(2), i(5)])), "    2");
        assert_eq!(f("%[3]*.[2]*[1]f", se(vec![x(12.0), i(2), i(6)])), " 12.00");
        assert_eq!(f("%[1]*.[2]*[3]f", se(vec![i(6), i(2), x(12.0)])), " 12.00");
        assert_eq!(f("%.[1]*[3]f", se(vec![i(6), i(99), x(12.0)])), "12.000000");
        assert_eq!(f("%[1]*.[3]f", se(vec![i(6), i(3), x(12.0)])), "    12");
        assert_eq!(
            f("%d %d %d %#[1]o %#o %#o", se(vec![i(11), i(12), i(13)])),
            "11 12 13 013 014 015"
        );
        assert_eq!(f("%[d", se(vec![i(2), i(1)])), "%!d(BADINDEX)");
        assert_eq!(f("%]d", se(vec![i(2), i(1)])), "%!](int=2)d%!(EXTRA int=1)");
        assert_eq!(f("%[]d", se(vec![i(2), i(1)])), "%!d(BADINDEX)");
        assert_eq!(f("%[-3]d", se(vec![i(2), i(1)])), "%!d(BADINDEX)");
        assert_eq!(f("%[99]d", se(vec![i(2), i(1)])), "%!d(BADINDEX)");
        assert_eq!(f("%[3]", se(vec![i(2), i(1)])), "%!(NOVERB)");
        assert_eq!(f("%[1].2d", se(vec![i(5), i(6)])), "%!d(BADINDEX)");
        assert_eq!(f("%3.[2]d", se(vec![i(7)])), "%!d(BADINDEX)");
        assert_eq!(f("%[5]d %[2]d %d", se(vec![i(1), i(2), i(3)])), "%!d(BADINDEX) 2 3");
        assert_eq!(f("%d %[3]d %d", se(vec![i(1), i(2)])), "1 %!d(BADINDEX) 2");
        assert_eq!(f("%.[]", se(vec![])), "%!](BADINDEX)");
        assert_eq!(f("%.-3d", se(vec![i(42)])), "%!-(int=42)3d");
        assert_eq!(f("%2147483648d", se(vec![i(42)])), "%!(NOVERB)%!(EXTRA int=42)");
        assert_eq!(f("%*d", se(vec![i(5), i(42)])), "   42");
        assert_eq!(f("%*d", se(vec![i(-5), i(42)])), "42   ");
        assert_eq!(f("%.*f", se(vec![i(1), x(2.25)])), "2.2");
        assert_eq!(f("%*d", se(vec![Value::from("x"), i(42)])), "%!(BADWIDTH)42");
        assert_eq!(f("%.*d", se(vec![Value::from("x"), i(42)])), "%!(BADPREC)42");
    }

    #[test]
    fn print_and_println_spacing() {
        let st = Style::default();
        let args =
            vec![Value::Int(1), Value::Int(2), Value::from("a"), Value::Int(3), Value::from("b")];
        assert_eq!(sprint(&args, st), "1 2a3b");
        assert_eq!(sprint(&[Value::from("a"), Value::from("b")], st), "ab");
        assert_eq!(sprint(&[Value::Nil, Value::Nil], st), "<nil> <nil>");
        assert_eq!(sprintln(&args, st), "1 2 a 3 b\n");
        assert_eq!(sprintln(&[], st), "\n");
    }

    #[test]
    fn label_sets_print_like_alertmanager_in_kv_style() {
        let m = Value::map([("job", "api"), ("alertname", "Down"), ("a", "x")]);
        assert_eq!(display(&m, Style { kv: true }), "alertname=Down, a=x, job=api");
        assert_eq!(display(&m, Style::default()), "map[a:x alertname:Down job:api]");
        let pairs = Value::from(vec![Value::map([("Name", "a"), ("Value", "1")])]);
        assert_eq!(display(&pairs, Style { kv: true }), "a=1");
        assert_eq!(
            display(&Value::map(Vec::<(String, Value)>::new()), Style { kv: true }),
            "map[]"
        );
    }
}
