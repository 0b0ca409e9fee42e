//! Workflow commands a step prints on its standard output: `::name k=v,k2=v2::message`
//! — `debug`, `notice`, `warning`, `error` (with `file`, `line`, `col`, `endLine`,
//! `endColumn`, `title`), `group`/`endgroup`, `add-mask`, `stop-commands` (until
//! `::TOKEN::`), `echo`, and the deprecated `set-output`, `save-state`, `set-env`,
//! `add-path` (the last two only with `ACTIONS_ALLOW_UNSECURE_COMMANDS`). Values are
//! unescaped as the runner escapes them (`%25`, `%0D`, `%0A`; in properties also
//! `%3A`, `%2C`).

/// One parsed command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    pub name: String,
    pub properties: Vec<(String, String)>,
    pub message: String,
}

impl Command {
    pub fn property(&self, key: &str) -> Option<&str> {
        self.properties.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str())
    }
}

fn unescape(s: &str, property: bool) -> String {
    let mut out = s.replace("%0D", "\r").replace("%0A", "\n");
    if property {
        out = out.replace("%3A", ":").replace("%2C", ",");
    }
    out.replace("%25", "%")
}

/// Escapes a message so it survives as one workflow-command line.
pub fn escape(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Parses a line that may be a workflow command (leading whitespace allowed).
pub fn parse(line: &str) -> Option<Command> {
    let rest = line.trim_start().strip_prefix("::")?;
    let end = rest.find("::")?;
    let head = &rest[..end];
    let message = rest[end + 2..].trim_end_matches(['\r', '\n']);
    let (name, props) = match head.split_once(' ') {
        Some((n, p)) => (n, p),
        None => (head, ""),
    };
    if name.is_empty() || name.contains(char::is_whitespace) {
        return None;
    }
    let properties = props
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            Some((k.trim().to_string(), unescape(v, true)))
        })
        .collect();
    Some(Command { name: name.to_string(), properties, message: unescape(message, false) })
}

/// What a line means to the job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Print the line as it is.
    Print,
    /// Not shown (a command that only acts).
    Hidden,
    /// An annotation: `notice`, `warning` or `error`, with its place.
    Annotation {
        level: String,
        message: String,
        file: Option<String>,
        line: Option<u64>,
        title: Option<String>,
    },
    Debug(String),
    GroupStart(String),
    GroupEnd,
    AddMask(String),
    SetOutput(String, String),
    SaveState(String, String),
    SetEnv(String, String),
    AddPath(String),
    /// A deprecated or refused command, with the warning to show.
    Refused(String),
}

/// Reads a job's output line by line, with `stop-commands` state.
#[derive(Debug, Default)]
pub struct Interpreter {
    stopped_until: Option<String>,
    echo: bool,
    /// `ACTIONS_ALLOW_UNSECURE_COMMANDS=true` in the step's environment.
    pub allow_unsecure: bool,
}

impl Interpreter {
    pub fn new(allow_unsecure: bool) -> Interpreter {
        Interpreter { stopped_until: None, echo: false, allow_unsecure }
    }

    /// What `line` means; commands are ignored between `::stop-commands::TOKEN`
    /// and `::TOKEN::`.
    pub fn line(&mut self, line: &str) -> Effect {
        let Some(c) = parse(line) else { return Effect::Print };
        if let Some(token) = &self.stopped_until {
            if c.name == *token {
                self.stopped_until = None;
                return Effect::Hidden;
            }
            return Effect::Print;
        }
        let shown = |e: Effect, echo: bool| if echo { Effect::Print } else { e };
        match c.name.as_str() {
            "stop-commands" => {
                self.stopped_until = Some(c.message.clone());
                Effect::Hidden
            }
            "echo" => {
                self.echo = c.message.eq_ignore_ascii_case("on");
                Effect::Hidden
            }
            "debug" => Effect::Debug(c.message),
            "notice" | "warning" | "error" => Effect::Annotation {
                level: c.name.clone(),
                file: c.property("file").map(str::to_owned),
                line: c.property("line").and_then(|l| l.parse().ok()),
                title: c.property("title").map(str::to_owned),
                message: c.message,
            },
            "group" => Effect::GroupStart(c.message),
            "endgroup" => Effect::GroupEnd,
            "add-mask" => Effect::AddMask(c.message),
            "set-output" => match c.property("name") {
                Some(n) => shown(Effect::SetOutput(n.to_string(), c.message), self.echo),
                None => Effect::Refused("set-output needs a name".into()),
            },
            "save-state" => match c.property("name") {
                Some(n) => Effect::SaveState(n.to_string(), c.message),
                None => Effect::Refused("save-state needs a name".into()),
            },
            "set-env" | "add-path" if !self.allow_unsecure => Effect::Refused(format!(
                "The `{}` command is disabled. Use the GITHUB_ENV and GITHUB_PATH files, or set ACTIONS_ALLOW_UNSECURE_COMMANDS to true.",
                c.name
            )),
            "set-env" => match c.property("name") {
                Some(n) => Effect::SetEnv(n.to_string(), c.message),
                None => Effect::Refused("set-env needs a name".into()),
            },
            "add-path" => Effect::AddPath(c.message),
            "add-matcher" | "remove-matcher" => Effect::Hidden,
            _ => Effect::Print,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_and_unescape() {
        let c = parse("::error file=app.js,line=10,title=Bad%2C bad%3A thing::Broke%0Ain two%25")
            .unwrap_or_else(|| Command {
                name: String::new(),
                properties: vec![],
                message: String::new(),
            });
        assert_eq!(c.name, "error");
        assert_eq!(c.property("file"), Some("app.js"));
        assert_eq!(c.property("title"), Some("Bad, bad: thing"));
        assert_eq!(c.message, "Broke\nin two%");
        assert_eq!(parse("plain output"), None);
        assert_eq!(parse("::group::Build").map(|c| c.message), Some("Build".into()));
        assert_eq!(escape("50%\nnext"), "50%25%0Anext");
    }

    #[test]
    fn the_interpreter_follows_stop_commands_and_refuses_unsecure_ones() {
        let mut i = Interpreter::new(false);
        assert_eq!(i.line("::add-mask::hunter2"), Effect::AddMask("hunter2".into()));
        assert_eq!(
            i.line("::warning file=a.rs,line=3::careful"),
            Effect::Annotation {
                level: "warning".into(),
                message: "careful".into(),
                file: Some("a.rs".into()),
                line: Some(3),
                title: None
            }
        );
        assert_eq!(i.line("::stop-commands::pause123"), Effect::Hidden);
        assert_eq!(i.line("::add-mask::not-a-mask"), Effect::Print);
        assert_eq!(i.line("::pause123::"), Effect::Hidden);
        assert_eq!(i.line("::group::Tests"), Effect::GroupStart("Tests".into()));
        assert!(matches!(i.line("::set-env name=A::1"), Effect::Refused(_)));
        assert_eq!(
            i.line("::set-output name=tag::v1"),
            Effect::SetOutput("tag".into(), "v1".into())
        );
        let mut unsecure = Interpreter::new(true);
        assert_eq!(unsecure.line("::set-env name=A::1"), Effect::SetEnv("A".into(), "1".into()));
        assert_eq!(unsecure.line("::add-path::/opt/bin"), Effect::AddPath("/opt/bin".into()));
    }
}
