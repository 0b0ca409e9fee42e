//! Markdown to HTML for step summaries: the GitHub-flavoured subset summaries use —
//! ATX headings, paragraphs, bullet and numbered lists, fenced code, pipe tables,
//! block quotes, rules; inline code, bold, italics, links. Everything else is text:
//! raw HTML is escaped, and links go only to `http(s)://`, `mailto:` or relative places.

use std::fmt::Write as _;

use crate::ui::esc;

/// Inline markup of one line (already a single block's text).
fn inline(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let rest = |from: usize| c[from..].iter().collect::<String>();
    while i < c.len() {
        match c[i] {
            '\\' if i + 1 < c.len() && c[i + 1].is_ascii_punctuation() => {
                out.push_str(&esc(&c[i + 1].to_string()));
                i += 2;
            }
            '`' => match rest(i + 1).find('`') {
                Some(end) => {
                    let code: String = c[i + 1..i + 1 + end].iter().collect();
                    let _ = write!(out, "<code>{}</code>", esc(&code));
                    i += end + 2;
                }
                None => {
                    out.push('`');
                    i += 1;
                }
            },
            '*' | '_' if i + 1 < c.len() && c[i + 1] == c[i] => {
                let mark: String = [c[i], c[i]].iter().collect();
                match rest(i + 2).find(&mark) {
                    Some(end) if end > 0 => {
                        let inner: String = c[i + 2..i + 2 + end].iter().collect();
                        let _ = write!(out, "<strong>{}</strong>", inline(&inner));
                        i += end + 4;
                    }
                    _ => {
                        out.push_str(&mark);
                        i += 2;
                    }
                }
            }
            '*' | '_' => {
                let mark = c[i];
                let close = rest(i + 1).find(mark);
                match close {
                    Some(end) if end > 0 && !c[i + 1].is_whitespace() => {
                        let inner: String = c[i + 1..i + 1 + end].iter().collect();
                        let _ = write!(out, "<em>{}</em>", inline(&inner));
                        i += end + 2;
                    }
                    _ => {
                        out.push(mark);
                        i += 1;
                    }
                }
            }
            '[' => {
                let tail = rest(i);
                let parsed = tail.find("](").and_then(|mid| {
                    let close = tail[mid + 2..].find(')')?;
                    Some((
                        tail[1..mid].to_string(),
                        tail[mid + 2..mid + 2 + close].to_string(),
                        mid + 3 + close,
                    ))
                });
                match parsed {
                    Some((label, href, len)) if safe_href(&href) => {
                        let _ = write!(out, "<a href=\"{}\">{}</a>", esc(&href), inline(&label));
                        i += tail[..len].chars().count();
                    }
                    _ => {
                        out.push('[');
                        i += 1;
                    }
                }
            }
            ch => {
                out.push_str(&esc(&ch.to_string()));
                i += 1;
            }
        }
    }
    out
}

fn safe_href(h: &str) -> bool {
    let lower = h.to_ascii_lowercase();
    lower.starts_with("http://")
        || lower.starts_with("https://")
        || lower.starts_with("mailto:")
        || !(lower.contains(':') || lower.starts_with("//"))
}

fn table_cells(line: &str) -> Vec<String> {
    let t = line.trim().trim_start_matches('|').trim_end_matches('|');
    t.split('|').map(|c| c.trim().to_string()).collect()
}

fn is_table_rule(line: &str) -> bool {
    let cells = table_cells(line);
    !cells.is_empty()
        && cells.iter().all(|c| {
            let c = c.trim_matches(':');
            !c.is_empty() && c.chars().all(|x| x == '-')
        })
}

fn list_item(line: &str) -> Option<(bool, &str)> {
    let t = line.trim_start();
    for m in ["- ", "* ", "+ "] {
        if let Some(r) = t.strip_prefix(m) {
            return Some((false, r));
        }
    }
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 {
        let r = &t[digits..];
        if let Some(r) = r.strip_prefix(". ").or_else(|| r.strip_prefix(") ")) {
            return Some((true, r));
        }
    }
    None
}

/// Renders Markdown as HTML.
pub(crate) fn to_html(md: &str) -> String {
    let lines: Vec<&str> = md.lines().collect();
    let mut out = String::new();
    let mut i = 0;
    let mut para: Vec<&str> = Vec::new();
    let flush = |para: &mut Vec<&str>, out: &mut String| {
        if !para.is_empty() {
            let _ = write!(out, "<p>{}</p>", inline(&para.join(" ")));
            para.clear();
        }
    };
    while i < lines.len() {
        let line = lines[i];
        let t = line.trim();
        if t.is_empty() {
            flush(&mut para, &mut out);
            i += 1;
        } else if t.starts_with("```") || t.starts_with("~~~") {
            flush(&mut para, &mut out);
            let fence = &t[..3];
            let mut code = Vec::new();
            i += 1;
            while i < lines.len() && !lines[i].trim().starts_with(fence) {
                code.push(lines[i]);
                i += 1;
            }
            i += 1;
            let _ = write!(out, "<pre><code>{}</code></pre>", esc(&code.join("\n")));
        } else if let Some(level) = (1..=6).find(|n| {
            t.starts_with(&"#".repeat(*n)) && t[*n..].starts_with(' ') || t == "#".repeat(*n)
        }) {
            flush(&mut para, &mut out);
            let text = t[level..].trim().trim_end_matches('#').trim();
            let _ = write!(out, "<h{level}>{}</h{level}>", inline(text));
            i += 1;
        } else if t.len() >= 3 && (t.chars().all(|c| c == '-') || t.chars().all(|c| c == '*')) {
            flush(&mut para, &mut out);
            out.push_str("<hr>");
            i += 1;
        } else if t.starts_with('>') {
            flush(&mut para, &mut out);
            let mut quoted = Vec::new();
            while i < lines.len() && lines[i].trim().starts_with('>') {
                quoted.push(lines[i].trim().trim_start_matches('>').trim_start());
                i += 1;
            }
            let _ = write!(out, "<blockquote>{}</blockquote>", to_html(&quoted.join("\n")));
        } else if t.contains('|') && i + 1 < lines.len() && is_table_rule(lines[i + 1]) {
            flush(&mut para, &mut out);
            out.push_str("<table><thead><tr>");
            for c in table_cells(t) {
                let _ = write!(out, "<th>{}</th>", inline(&c));
            }
            out.push_str("</tr></thead><tbody>");
            i += 2;
            while i < lines.len() && lines[i].contains('|') && !lines[i].trim().is_empty() {
                out.push_str("<tr>");
                for c in table_cells(lines[i]) {
                    let _ = write!(out, "<td>{}</td>", inline(&c));
                }
                out.push_str("</tr>");
                i += 1;
            }
            out.push_str("</tbody></table>");
        } else if let Some((ordered, _)) = list_item(line) {
            flush(&mut para, &mut out);
            let tag = if ordered { "ol" } else { "ul" };
            let _ = write!(out, "<{tag}>");
            while i < lines.len() {
                match list_item(lines[i]) {
                    Some((o, text)) if o == ordered => {
                        let _ = write!(out, "<li>{}</li>", inline(text));
                        i += 1;
                    }
                    _ => break,
                }
            }
            let _ = write!(out, "</{tag}>");
        } else {
            para.push(t);
            i += 1;
        }
    }
    flush(&mut para, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn summaries_render_and_nothing_runs() {
        assert_eq!(to_html("### Tests passed :rocket:"), "<h3>Tests passed :rocket:</h3>");
        assert_eq!(
            to_html("| job | result |\n|---|:--:|\n| unit | **ok** |"),
            "<table><thead><tr><th>job</th><th>result</th></tr></thead><tbody><tr><td>unit</td><td><strong>ok</strong></td></tr></tbody></table>"
        );
        assert_eq!(
            to_html("- a\n- `b`\n\n1. one"),
            "<ul><li>a</li><li><code>b</code></li></ul><ol><li>one</li></ol>"
        );
        assert_eq!(to_html("```\n<x>\n```"), "<pre><code>&lt;x&gt;</code></pre>");
        assert_eq!(
            to_html("see [docs](https://x.test/a?b=1&c) and [bad](javascript:alert(1))"),
            "<p>see <a href=\"https://x.test/a?b=1&amp;c\">docs</a> and [bad](javascript:alert(1))</p>"
        );
        assert_eq!(
            to_html("<script>alert(1)</script>"),
            "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
        );
        assert_eq!(to_html("*em* and 2 * 3"), "<p><em>em</em> and 2 * 3</p>");
        assert_eq!(to_html("> quoted\n\n---"), "<blockquote><p>quoted</p></blockquote><hr>");
    }
}
