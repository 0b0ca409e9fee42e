//! Runs a parsed template against data: walks the tree, evaluates pipelines, calls
//! functions, and enforces the limits on output size, work and template recursion.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use regex::Regex;

use crate::funcs::{self, Ctx, FnErr, Func, Funcs};
use crate::gofmt::{self, Style};
use crate::gotime;
use crate::parse::{Arg, Branch, Cmd, List, Node, Num, Pipe};
use crate::value::{Time, Value};
use crate::{Error, Host};

/// Output beyond this many bytes is an error.
pub(crate) const MAX_OUTPUT: usize = 1 << 20;
/// `{{template}}` calls may nest this deep.
pub(crate) const MAX_DEPTH: usize = 1000;
/// Template calls stop nesting once execution has used this much of the thread's stack, so
/// deep recursion ends in an error rather than a stack overflow whatever the frame sizes.
const STACK_BUDGET: usize = 512 * 1024;
/// Units of work (commands, loop iterations, copied list elements) one execution may use.
pub(crate) const MAX_STEPS: u64 = 10_000_000;
/// Lists and maps built by templates may nest this deep.
const MAX_VALUE_DEPTH: usize = 100;

/// The text a template was parsed from, for turning byte offsets into lines and columns.
#[derive(Debug)]
pub(crate) struct Source {
    pub name: String,
    pub text: String,
}

impl Source {
    /// 1-based line and column (in characters) of a byte offset.
    pub(crate) fn line_col(&self, pos: usize) -> (usize, usize) {
        let pos = pos.min(self.text.len());
        let before = self.text.get(..pos).unwrap_or(&self.text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        (line, col)
    }
}

/// One named template: its tree and where it came from.
#[derive(Debug)]
pub(crate) struct Def {
    pub list: List,
    pub src: Arc<Source>,
    /// Variables besides `$` the body may use, bound when it runs as the main template.
    pub vars: Vec<String>,
}

enum Flow {
    Normal,
    Break,
    Continue,
}

pub(crate) struct Exec<'a> {
    defs: &'a HashMap<String, Arc<Def>>,
    host: &'a dyn Host,
    style: Style,
    out: String,
    vars: Vec<(String, Value)>,
    depth: usize,
    steps: u64,
    regexes: HashMap<String, Regex>,
    /// Name and source of the template running now.
    tname: String,
    src: Arc<Source>,
    /// Where the stack was when execution started.
    stack_base: usize,
}

/// An address on the current stack, to measure how much of it execution uses.
#[inline(never)]
fn stack_position() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

type R<T> = Result<T, Error>;

impl<'a> Exec<'a> {
    pub(crate) fn new(
        defs: &'a HashMap<String, Arc<Def>>,
        host: &'a dyn Host,
        funcs: Funcs,
        def: &Arc<Def>,
        tname: &str,
    ) -> Self {
        Exec {
            defs,
            host,
            style: Style { kv: funcs == Funcs::Alertmanager },
            out: String::new(),
            vars: Vec::new(),
            depth: 0,
            steps: 0,
            regexes: HashMap::new(),
            tname: tname.to_owned(),
            src: Arc::clone(&def.src),
            stack_base: stack_position(),
        }
    }

    /// Runs `def` with `dot` as `.` and `$`, plus extra top-level variables.
    pub(crate) fn run(mut self, def: &Def, dot: &Value, extra: Vec<(String, Value)>) -> R<String> {
        self.vars.push(("$".into(), dot.clone()));
        self.vars.extend(extra);
        self.walk_list(dot, &def.list)?;
        Ok(self.out)
    }

    /// An execution error at `pos`, in Go's form `executing "NAME" at <CTX>: MSG`.
    fn fail(&self, pos: usize, ctx: &str, msg: impl std::fmt::Display) -> Error {
        let (line, col) = self.src.line_col(pos);
        Error {
            name: self.src.name.clone(),
            line,
            col,
            message: format!("executing {:?} at <{ctx}>: {msg}", self.tname),
        }
    }

    /// Counts `n` units of work; `ctx` describes the node for the error past the budget.
    fn step(&mut self, n: u64, pos: usize, ctx: impl FnOnce() -> String) -> R<()> {
        self.steps += n;
        if self.steps > MAX_STEPS {
            return Err(self.fail(
                pos,
                &ctx(),
                format!("template execution exceeded {MAX_STEPS} steps"),
            ));
        }
        Ok(())
    }

    fn write(&mut self, s: &str, pos: usize, ctx: &str) -> R<()> {
        if self.out.len() + s.len() > MAX_OUTPUT {
            return Err(self.fail(pos, ctx, format!("output exceeds {MAX_OUTPUT} bytes")));
        }
        self.out.push_str(s);
        Ok(())
    }

    fn walk_list(&mut self, dot: &Value, list: &List) -> R<Flow> {
        for node in list {
            match self.walk(dot, node)? {
                Flow::Normal => {}
                flow => return Ok(flow),
            }
        }
        Ok(Flow::Normal)
    }

    // The functions on the path of nested control structures and template calls keep their
    // own stack frames small (work happens in helpers that return before recursing), so deep
    // templates fit in small thread stacks.

    fn walk(&mut self, dot: &Value, node: &Node) -> R<Flow> {
        match node {
            Node::Text(t) => self.write(t, 0, "").map(|_| Flow::Normal),
            Node::Action(pipe) => self.walk_action(dot, pipe).map(|_| Flow::Normal),
            Node::If(b) => self.walk_if_with(dot, b, false),
            Node::With(b) => self.walk_if_with(dot, b, true),
            Node::Range(b) => self.walk_range(dot, b),
            Node::Template { pos, name, pipe } => {
                self.walk_template(dot, *pos, name, pipe.as_ref()).map(|_| Flow::Normal)
            }
            Node::Break => Ok(Flow::Break),
            Node::Continue => Ok(Flow::Continue),
        }
    }

    #[inline(never)]
    fn walk_action(&mut self, dot: &Value, pipe: &Pipe) -> R<()> {
        let v = self.eval_pipeline(dot, pipe)?;
        if pipe.decl.is_empty() {
            let s = match &v {
                Value::Nil => "<no value>".to_owned(),
                v => gofmt::display(v, self.style),
            };
            if self.out.len() + s.len() > MAX_OUTPUT {
                return self.write(&s, pipe.pos, &pipe.to_string());
            }
            self.out.push_str(&s);
        }
        Ok(())
    }

    fn walk_if_with(&mut self, dot: &Value, b: &Branch, with: bool) -> R<Flow> {
        let mark = self.vars.len();
        let result = match self.eval_pipeline(dot, &b.pipe) {
            Ok(v) if v.truth() => {
                if with {
                    self.walk_list(&v, &b.list)
                } else {
                    self.walk_list(dot, &b.list)
                }
            }
            Ok(_) => match &b.else_list {
                Some(e) => self.walk_list(dot, e),
                None => Ok(Flow::Normal),
            },
            Err(e) => Err(e),
        };
        self.vars.truncate(mark);
        result
    }

    fn walk_range(&mut self, dot: &Value, b: &Branch) -> R<Flow> {
        let mark = self.vars.len();
        let result = self.range_inner(dot, b);
        self.vars.truncate(mark);
        result.map(|_| Flow::Normal)
    }

    /// The elements a range iterates over, as (key, element) pairs.
    #[inline(never)]
    fn range_items(
        &mut self,
        dot: &Value,
        b: &Branch,
    ) -> R<Box<dyn Iterator<Item = (Value, Value)>>> {
        let v = self.eval_pipeline(dot, &b.pipe)?;
        Ok(match v {
            Value::List(l) => Box::new(l.into_iter().enumerate().map(|(i, e)| (Value::from(i), e))),
            Value::Map(m) => Box::new(m.into_iter().map(|(k, e)| (Value::Str(k), e))),
            Value::Int(n) => {
                if b.pipe.decl.len() > 1 {
                    let msg = format!("can't use {n} to iterate over more than one variable");
                    return Err(self.fail(b.pos, &b.pipe.to_string(), msg));
                }
                Box::new((0..n.max(0)).map(|i| (Value::Int(i), Value::Int(i))))
            }
            Value::Nil => Box::new(std::iter::empty()),
            other => {
                let msg =
                    format!("range can't iterate over {}", gofmt::display(&other, self.style));
                return Err(self.fail(b.pos, &b.pipe.to_string(), msg));
            }
        })
    }

    /// Binds the range variables for one iteration; `top` is the variable stack height
    /// after the range's own declarations.
    #[inline(never)]
    fn bind_range_vars(&mut self, b: &Branch, top: usize, key: Value, elem: &Value) -> R<()> {
        self.step(1, b.pos, || b.pipe.to_string())?;
        let decl = &b.pipe.decl;
        if b.pipe.is_assign {
            if decl.len() > 1 {
                self.set_var(&decl[0], key);
                self.set_var(&decl[1], elem.clone());
            } else if let Some(d) = decl.first() {
                self.set_var(d, elem.clone());
            }
        } else {
            if !decl.is_empty() {
                self.vars[top - 1].1 = elem.clone();
            }
            if decl.len() > 1 {
                self.vars[top - 2].1 = key;
            }
        }
        Ok(())
    }

    fn range_inner(&mut self, dot: &Value, b: &Branch) -> R<()> {
        let items = self.range_items(dot, b)?;
        let top = self.vars.len();
        let mut ran = false;
        for (key, elem) in items {
            ran = true;
            self.bind_range_vars(b, top, key, &elem)?;
            let flow = self.walk_list(&elem, &b.list);
            self.vars.truncate(top);
            if let Flow::Break = flow? {
                break;
            }
        }
        if !ran && let Some(e) = &b.else_list {
            self.walk_list(dot, e)?;
        }
        Ok(())
    }

    /// Finds the template a `{{template}}` names and evaluates its argument.
    #[inline(never)]
    fn enter_template(
        &mut self,
        dot: &Value,
        pos: usize,
        name: &str,
        pipe: Option<&Pipe>,
    ) -> R<(Arc<Def>, Value)> {
        let ctx = || format!("{{{{template {name:?}}}}}");
        let Some(def) = self.defs.get(name).cloned() else {
            return Err(self.fail(pos, &ctx(), format!("template {name:?} not defined")));
        };
        if self.depth >= MAX_DEPTH {
            return Err(self.fail(
                pos,
                &ctx(),
                format!("exceeded maximum template depth ({MAX_DEPTH})"),
            ));
        }
        if stack_position().abs_diff(self.stack_base) > STACK_BUDGET {
            let msg = format!(
                "exceeded maximum template depth (stack exhausted after {} calls)",
                self.depth
            );
            return Err(self.fail(pos, &ctx(), msg));
        }
        let new_dot = match pipe {
            Some(p) => self.eval_pipeline(dot, p)?,
            None => Value::Nil,
        };
        Ok((def, new_dot))
    }

    fn walk_template(&mut self, dot: &Value, pos: usize, name: &str, pipe: Option<&Pipe>) -> R<()> {
        let (def, new_dot) = self.enter_template(dot, pos, name, pipe)?;
        let mut vars = vec![("$".to_owned(), new_dot.clone())];
        vars.extend(def.vars.iter().map(|v| (v.clone(), Value::Nil)));
        let saved_vars = std::mem::replace(&mut self.vars, vars);
        let saved_src = std::mem::replace(&mut self.src, Arc::clone(&def.src));
        let saved_name = std::mem::replace(&mut self.tname, name.to_owned());
        self.depth += 1;
        let result = self.walk_list(&new_dot, &def.list);
        self.depth -= 1;
        self.tname = saved_name;
        self.src = saved_src;
        self.vars = saved_vars;
        result.map(|_| ())
    }

    fn lookup_var(&self, name: &str, pos: usize) -> R<Value> {
        match self.vars.iter().rev().find(|(n, _)| n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => Err(self.fail(pos, name, format!("undefined variable: {name}"))),
        }
    }

    /// [`follow_fields`] from a variable, without copying the whole variable.
    fn follow_var_fields(
        &self,
        name: &str,
        fields: &[String],
        args: bool,
        pos: usize,
    ) -> R<(Value, usize)> {
        match self.vars.iter().rev().find(|(n, _)| n == name) {
            Some((_, v)) => Ok(follow_fields(v, fields, args)),
            None => Err(self.fail(pos, name, format!("undefined variable: {name}"))),
        }
    }

    fn set_var(&mut self, name: &str, value: Value) {
        if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            slot.1 = value;
        }
    }

    fn eval_pipeline(&mut self, dot: &Value, pipe: &Pipe) -> R<Value> {
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?);
        }
        let value = value.unwrap_or(Value::Nil);
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, value.clone());
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, cmd: &Cmd, last: &Option<Value>) -> R<()> {
        if cmd.args.len() > 1 || last.is_some() {
            let first = &cmd.args[0];
            return Err(self.fail(
                first.pos(),
                &cmd.to_string(),
                format!("can't give argument to non-function {first}"),
            ));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &Value, cmd: &Cmd, last: Option<Value>) -> R<Value> {
        self.step(1, cmd.pos, || cmd.to_string())?;
        let first = &cmd.args[0];
        match first {
            Arg::Field { pos, names } => {
                let args = self.method_args(dot, cmd, last)?;
                let (start, rest) = follow_fields(dot, names, args.is_some());
                self.eval_fields(start, &names[rest..], args, *pos, first)
            }
            Arg::Chain { pos, node, fields } => {
                let recv = self.eval_arg(dot, node)?;
                let args = self.method_args(dot, cmd, last)?;
                self.eval_fields(recv, fields, args, *pos, first)
            }
            Arg::Variable { pos, name, fields } => {
                if fields.is_empty() {
                    self.not_a_function(cmd, &last)?;
                    let v = self.lookup_var(name, *pos)?;
                    self.charge(&v, *pos)?;
                    return Ok(v);
                }
                let args = self.method_args(dot, cmd, last)?;
                let (start, rest) = self.follow_var_fields(name, fields, args.is_some(), *pos)?;
                self.eval_fields(start, &fields[rest..], args, *pos, first)
            }
            Arg::Func { name, func, .. } => self.eval_function(dot, cmd, name, *func, last),
            Arg::Pipe(p) => {
                self.not_a_function(cmd, &last)?;
                self.eval_pipeline(dot, p)
            }
            Arg::Nil(pos) => {
                self.not_a_function(cmd, &last)?;
                Err(self.fail(*pos, "nil", "nil is not a command"))
            }
            _ => {
                self.not_a_function(cmd, &last)?;
                self.eval_arg(dot, first)
            }
        }
    }

    /// The arguments a method-like field gets: the command's other words and the piped value.
    /// `None` when there are none at all.
    fn method_args(
        &mut self,
        dot: &Value,
        cmd: &Cmd,
        last: Option<Value>,
    ) -> R<Option<Vec<Value>>> {
        if cmd.args.len() == 1 && last.is_none() {
            return Ok(None);
        }
        let mut args = Vec::with_capacity(cmd.args.len());
        for a in &cmd.args[1..] {
            args.push(self.eval_arg(dot, a)?);
        }
        args.extend(last);
        Ok(Some(args))
    }

    /// Charges work for copying a list or map around: one unit per element, nested ones included.
    fn charge(&mut self, v: &Value, pos: usize) -> R<()> {
        if matches!(v, Value::List(_) | Value::Map(_)) {
            let budget = MAX_STEPS.saturating_sub(self.steps) + 1;
            let w = weight(v, budget);
            self.step(w, pos, || "copying a value".to_owned())?;
        }
        Ok(())
    }

    fn eval_fields(
        &mut self,
        mut recv: Value,
        names: &[String],
        args: Option<Vec<Value>>,
        pos: usize,
        node: &Arg,
    ) -> R<Value> {
        let n = names.len();
        for name in &names[..n.saturating_sub(1)] {
            recv = self.eval_field(recv, name, None, pos, node)?;
        }
        match names.last() {
            Some(name) => self.eval_field(recv, name, args, pos, node),
            None => {
                self.charge(&recv, pos)?;
                Ok(recv)
            }
        }
    }

    /// `.Name` on a value: a map key, or one of the methods templates rely on.
    fn eval_field(
        &mut self,
        recv: Value,
        name: &str,
        args: Option<Vec<Value>>,
        pos: usize,
        node: &Arg,
    ) -> R<Value> {
        let ctx = node.to_string();
        let has_args = args.is_some();
        let not_method =
            |s: &Self| Err(s.fail(pos, &ctx, format!("{name} is not a method but has arguments")));
        let result = match recv {
            Value::Nil => return Ok(Value::Nil),
            Value::Map(mut m) => {
                if let Some(v) = m.remove(name) {
                    if has_args {
                        return not_method(self);
                    }
                    self.charge(&v, pos)?;
                    return Ok(v);
                }
                let recv = Value::Map(m);
                if recv.is_string_map()
                    && let Some(r) = map_method(&recv, name, args.as_deref())
                {
                    r
                } else if has_args {
                    return not_method(self);
                } else {
                    return Ok(if recv.is_string_map() {
                        Value::Str(String::new())
                    } else {
                        Value::Nil
                    });
                }
            }
            Value::List(l) => match list_method(&l, name, args.as_deref()) {
                Some(r) => r,
                None => return Err(self.can_not_evaluate(pos, &ctx, name, "[]interface {}")),
            },
            Value::Time(t) => match time_method(&t, name, args.as_deref()) {
                Some(r) => r,
                None => return Err(self.can_not_evaluate(pos, &ctx, name, "time.Time")),
            },
            Value::Duration(d) => match duration_method(d, name, args.as_deref()) {
                Some(r) => r,
                None => return Err(self.can_not_evaluate(pos, &ctx, name, "time.Duration")),
            },
            other => return Err(self.can_not_evaluate(pos, &ctx, name, other.type_name())),
        };
        let v = result.map_err(|e| self.fail(pos, &ctx, e))?;
        self.charge(&v, pos)?;
        Ok(v)
    }

    fn can_not_evaluate(&self, pos: usize, ctx: &str, name: &str, typ: &str) -> Error {
        self.fail(pos, ctx, format!("can't evaluate field {name} in type {typ}"))
    }

    /// Evaluates an operand passed as an argument.
    fn eval_arg(&mut self, dot: &Value, arg: &Arg) -> R<Value> {
        match arg {
            Arg::Dot(pos) => {
                self.charge(dot, *pos)?;
                Ok(dot.clone())
            }
            Arg::Nil(_) => Ok(Value::Nil),
            Arg::Bool(_, b) => Ok(Value::Bool(*b)),
            Arg::Str { value, .. } => Ok(Value::Str(value.clone())),
            Arg::Number { pos, text, value } => match value {
                Num::Int(i) => Ok(Value::Int(*i)),
                Num::Float(f) => Ok(Value::Float(*f)),
                Num::Overflow => Err(self.fail(*pos, text, format!("{text} overflows int"))),
            },
            Arg::Field { pos, names } => {
                let (start, rest) = follow_fields(dot, names, false);
                self.eval_fields(start, &names[rest..], None, *pos, arg)
            }
            Arg::Variable { pos, name, fields } => {
                let (start, rest) = self.follow_var_fields(name, fields, false, *pos)?;
                self.eval_fields(start, &fields[rest..], None, *pos, arg)
            }
            Arg::Chain { pos, node, fields } => {
                let recv = self.eval_arg(dot, node)?;
                self.eval_fields(recv, fields, None, *pos, arg)
            }
            Arg::Pipe(p) => self.eval_pipeline(dot, p),
            Arg::Func { pos, name, func } => {
                let cmd = Cmd { pos: *pos, args: vec![arg.clone()] };
                self.eval_function(dot, &cmd, name, *func, None)
            }
        }
    }

    fn eval_function(
        &mut self,
        dot: &Value,
        cmd: &Cmd,
        name: &str,
        func: Func,
        last: Option<Value>,
    ) -> R<Value> {
        let ctx = cmd.to_string();
        let nargs = cmd.args.len() - 1;
        let num_in = nargs + usize::from(last.is_some());
        let (fixed, variadic) = funcs::arity(func);
        if variadic && num_in < fixed {
            return Err(self.fail(
                cmd.pos,
                &ctx,
                format!("wrong number of args for {name}: want at least {fixed} got {nargs}"),
            ));
        }
        if !variadic && num_in != fixed {
            return Err(self.fail(
                cmd.pos,
                &ctx,
                format!("wrong number of args for {name}: want {fixed} got {num_in}"),
            ));
        }
        if matches!(func, Func::And | Func::Or) {
            let want = func == Func::Or;
            let mut v = Value::Nil;
            for a in &cmd.args[1..] {
                v = self.eval_arg(dot, a)?;
                if v.truth() == want {
                    return Ok(v);
                }
            }
            return Ok(last.unwrap_or(v));
        }
        let mut args = Vec::with_capacity(num_in);
        for a in &cmd.args[1..] {
            args.push(self.eval_arg(dot, a)?);
        }
        args.extend(last);
        let builds =
            matches!(func, Func::List | Func::Append | Func::Dict | Func::Args | Func::StringSlice);
        if builds {
            let deepest = args.iter().map(Value::depth).max().unwrap_or(0);
            if deepest + 1 > MAX_VALUE_DEPTH {
                return Err(self.fail(
                    cmd.pos,
                    &ctx,
                    format!(
                        "error calling {name}: values nest deeper than {MAX_VALUE_DEPTH} levels"
                    ),
                ));
            }
        }
        let mut cx = Ctx { host: self.host, style: self.style, regexes: &mut self.regexes };
        let result = funcs::call(&mut cx, func, args);
        let v = match result {
            Ok(v) => v,
            Err(FnErr::Type(m)) => return Err(self.fail(cmd.pos, &ctx, m)),
            Err(FnErr::Call(m)) => {
                return Err(self.fail(cmd.pos, &ctx, format!("error calling {name}: {m}")));
            }
        };
        if let Value::Str(s) = &v
            && s.len() > MAX_OUTPUT
        {
            return Err(self.fail(
                cmd.pos,
                &ctx,
                format!("error calling {name}: result exceeds {MAX_OUTPUT} bytes"),
            ));
        }
        if builds || matches!(func, Func::Slice | Func::SortByLabel | Func::Query) {
            self.charge(&v, cmd.pos)?;
        }
        Ok(v)
    }
}

/// Follows plain map keys from `recv` without copying what is passed through; returns a copy
/// of the value reached and how many names were used. Methods, errors and a final name that
/// gets arguments are left to [`Exec::eval_fields`].
fn follow_fields(recv: &Value, names: &[String], args_on_last: bool) -> (Value, usize) {
    let mut cur = recv;
    for (i, name) in names.iter().enumerate() {
        if args_on_last && i + 1 == names.len() {
            return (cur.clone(), i);
        }
        match cur {
            Value::Map(m) => match m.get(name) {
                Some(v) => cur = v,
                None if cur.is_string_map() => {
                    if matches!(
                        name.as_str(),
                        "SortedPairs" | "Names" | "Values" | "Remove" | "String"
                    ) {
                        return (cur.clone(), i);
                    }
                    return (Value::Str(String::new()), i + 1);
                }
                None => return (Value::Nil, i + 1),
            },
            Value::Nil => return (Value::Nil, names.len()),
            _ => return (cur.clone(), i),
        }
    }
    (cur.clone(), names.len())
}

/// The number of values inside `v`, counting stops once past `limit`.
fn weight(v: &Value, limit: u64) -> u64 {
    let mut total = 0u64;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        total += 1;
        if total > limit {
            break;
        }
        match v {
            Value::List(l) => stack.extend(l.iter()),
            Value::Map(m) => stack.extend(m.values()),
            _ => {}
        }
    }
    total
}

/// Label-set helpers on a map of strings (Alertmanager's `KV`).
fn map_method(recv: &Value, name: &str, args: Option<&[Value]>) -> Option<Result<Value, String>> {
    let Value::Map(m) = recv else { return None };
    let no_args = |f: &dyn Fn() -> Value| -> Result<Value, String> {
        match args {
            None => Ok(f()),
            Some(a) => Err(format!("wrong number of args for {name}: want 0 got {}", a.len())),
        }
    };
    match name {
        "SortedPairs" => Some(no_args(&|| sorted_pairs(m))),
        "Names" => Some(no_args(&|| {
            Value::List(gofmt::kv_sorted(m).into_iter().map(|(k, _)| Value::from(k)).collect())
        })),
        "Values" => Some(no_args(&|| {
            Value::List(gofmt::kv_sorted(m).into_iter().map(|(_, v)| v.clone()).collect())
        })),
        "String" => Some(no_args(&|| Value::Str(gofmt::kv_string(m)))),
        "Remove" => Some(match args {
            Some([Value::List(keys)]) => {
                let mut out = m.clone();
                for k in keys {
                    if let Value::Str(k) = k {
                        out.remove(k);
                    }
                }
                Ok(Value::Map(out))
            }
            Some([Value::Nil]) => Ok(recv.clone()),
            Some([other]) => {
                Err(format!("wrong type for value; expected []string; got {}", other.type_name()))
            }
            Some(a) => Err(format!("wrong number of args for Remove: want 1 got {}", a.len())),
            None => Err("wrong number of args for Remove: want 1 got 0".into()),
        }),
        _ => None,
    }
}

fn sorted_pairs(m: &BTreeMap<String, Value>) -> Value {
    Value::List(
        gofmt::kv_sorted(m)
            .into_iter()
            .map(|(k, v)| Value::map([("Name", Value::from(k)), ("Value", v.clone())]))
            .collect(),
    )
}

/// Helpers on lists: Alertmanager's `Alerts.Firing`/`Resolved`, `Pairs.Names`/`Values`,
/// and `Strings.Join`.
fn list_method(l: &[Value], name: &str, args: Option<&[Value]>) -> Option<Result<Value, String>> {
    let want0 = |a: Option<&[Value]>| match a {
        None => Ok(()),
        Some(a) => Err(format!("wrong number of args for {name}: want 0 got {}", a.len())),
    };
    let field = |e: &Value, f: &str| match e {
        Value::Map(m) => m.get(f).cloned().unwrap_or(Value::Nil),
        _ => Value::Nil,
    };
    match name {
        "Firing" | "Resolved" => Some(want0(args).map(|_| {
            let status = name.to_ascii_lowercase();
            Value::List(
                l.iter()
                    .filter(|e| field(e, "Status").as_str() == Some(status.as_str()))
                    .cloned()
                    .collect(),
            )
        })),
        "Names" | "Values" => {
            let key = if name == "Names" { "Name" } else { "Value" };
            Some(want0(args).map(|_| Value::List(l.iter().map(|e| field(e, key)).collect())))
        }
        "Join" => Some(match args {
            Some([Value::Str(sep)]) => {
                let parts: Vec<String> =
                    l.iter().map(|e| e.as_str().unwrap_or_default().to_owned()).collect();
                Ok(Value::Str(parts.join(sep)))
            }
            Some([other]) => {
                Err(format!("wrong type for value; expected string; got {}", other.type_name()))
            }
            Some(a) => Err(format!("wrong number of args for Join: want 1 got {}", a.len())),
            None => Err("wrong number of args for Join: want 1 got 0".into()),
        }),
        _ => None,
    }
}

fn one_arg<'v>(name: &str, args: Option<&'v [Value]>) -> Result<&'v Value, String> {
    match args {
        Some([a]) => Ok(a),
        Some(a) => Err(format!("wrong number of args for {name}: want 1 got {}", a.len())),
        None => Err(format!("wrong number of args for {name}: want 1 got 0")),
    }
}

/// Methods of Go's `time.Time` that templates commonly call.
fn time_method(t: &Time, name: &str, args: Option<&[Value]>) -> Option<Result<Value, String>> {
    let no_args = |v: Value| match args {
        None => Ok(v),
        Some(a) => Err(format!("wrong number of args for {name}: want 0 got {}", a.len())),
    };
    let c = t.civil();
    let r = match name {
        "Format" => one_arg(name, args).and_then(|a| match a {
            Value::Str(layout) => Ok(Value::Str(gotime::format(t, layout))),
            other => {
                Err(format!("wrong type for value; expected string; got {}", other.type_name()))
            }
        }),
        "Add" => one_arg(name, args).and_then(|a| match a {
            Value::Duration(d) | Value::Int(d) => {
                let ns = t.unix_nanos() + i128::from(*d);
                let mut out = Time::from_unix_nanos(ns);
                out.offset = t.offset;
                out.zone = t.zone.clone();
                Ok(Value::Time(out))
            }
            other => Err(format!(
                "wrong type for value; expected time.Duration; got {}",
                other.type_name()
            )),
        }),
        "Sub" => one_arg(name, args).and_then(|a| match a {
            Value::Time(u) => {
                let d = (t.unix_nanos() - u.unix_nanos())
                    .clamp(i128::from(i64::MIN), i128::from(i64::MAX));
                Ok(Value::Duration(d as i64))
            }
            other => {
                Err(format!("wrong type for value; expected time.Time; got {}", other.type_name()))
            }
        }),
        "Before" | "After" | "Equal" => one_arg(name, args).and_then(|a| match a {
            Value::Time(u) => {
                let (x, y) = (t.unix_nanos(), u.unix_nanos());
                Ok(Value::Bool(match name {
                    "Before" => x < y,
                    "After" => x > y,
                    _ => x == y,
                }))
            }
            other => {
                Err(format!("wrong type for value; expected time.Time; got {}", other.type_name()))
            }
        }),
        "Unix" => no_args(Value::Int(t.secs)),
        "UnixMilli" => no_args(Value::Int((t.unix_nanos() / 1_000_000) as i64)),
        "UnixMicro" => no_args(Value::Int((t.unix_nanos() / 1_000) as i64)),
        "UnixNano" => no_args(Value::Int(
            t.unix_nanos().clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64,
        )),
        "UTC" | "Local" => no_args(Value::Time(t.with_zone(0, "UTC"))),
        "String" => no_args(Value::Str(gotime::time_string(t))),
        "IsZero" => no_args(Value::Bool(t.is_zero())),
        "Year" => no_args(Value::Int(c.year)),
        "Month" => no_args(Value::Int(c.month)),
        "Day" => no_args(Value::Int(c.day)),
        "Hour" => no_args(Value::Int(c.hour)),
        "Minute" => no_args(Value::Int(c.minute)),
        "Second" => no_args(Value::Int(c.second)),
        "Nanosecond" => no_args(Value::Int(i64::from(c.nanos))),
        "YearDay" => no_args(Value::Int(c.yday)),
        "Weekday" => no_args(Value::Str(
            ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
                [c.weekday as usize]
                .into(),
        )),
        _ => return None,
    };
    Some(r)
}

/// A duration in whole units plus the fraction, computed the way Go's `Duration.Hours` does.
fn unit_float(d: i64, unit: i64) -> f64 {
    (d / unit) as f64 + (d % unit) as f64 / unit as f64
}

/// Methods of Go's `time.Duration` that templates commonly call.
fn duration_method(d: i64, name: &str, args: Option<&[Value]>) -> Option<Result<Value, String>> {
    let v = match name {
        "String" => Value::Str(gotime::duration_string(d)),
        "Seconds" => Value::Float(unit_float(d, 1_000_000_000)),
        "Minutes" => Value::Float(unit_float(d, 60_000_000_000)),
        "Hours" => Value::Float(unit_float(d, 3_600_000_000_000)),
        "Milliseconds" => Value::Int(d / 1_000_000),
        "Microseconds" => Value::Int(d / 1_000),
        "Nanoseconds" => Value::Int(d),
        "Abs" => Value::Duration(d.checked_abs().unwrap_or(i64::MAX)),
        _ => return None,
    };
    Some(match args {
        None => Ok(v),
        Some(a) => Err(format!("wrong number of args for {name}: want 0 got {}", a.len())),
    })
}
