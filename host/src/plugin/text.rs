//! Text a plugin hands the host, made safe to print.
//!
//! Plugin messages, diagnostics, logs and `describe()` strings end up on a
//! terminal. A plugin could otherwise embed escape sequences in them: move
//! the cursor, rewrite earlier lines (a failed render made to look like a
//! success), set the window title, or hide text with bidirectional
//! overrides. Every string the host takes from a plugin for display passes
//! through [`escape_control`] where it enters the host (in
//! [`super::Plugin`]), so every consumer (CLI, logs, service) is safe
//! without having to remember; object JSON is left as it is (it is data,
//! and JSON and YAML output escape control characters themselves).

use super::bindings::{Diagnostic, PluginInfo, RenderError, RenderOutput};
use std::borrow::Cow;

/// Whether `c` must not reach a terminal as it is: C0 controls other than
/// tab and newline, DEL, C1 controls (U+0080..U+009F, e.g. the one-byte
/// CSI), and the Unicode bidirectional formatting characters.
fn is_unsafe(c: char) -> bool {
    match c {
        '\t' | '\n' => false,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => true,
        '\u{061c}'
        | '\u{200e}'
        | '\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    }
}

/// `s` with terminal control characters written as escapes: `\x1b` for
/// ASCII controls, `\u{9b}` for the others. Borrowed when there is none.
pub fn escape_control(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !is_unsafe(c) {
            out.push(c);
        } else if c.is_ascii() {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    Cow::Owned(out)
}

fn clean(s: &mut String) {
    if let Cow::Owned(o) = escape_control(s) {
        *s = o;
    }
}

fn clean_opt(s: &mut Option<String>) {
    if let Some(s) = s {
        clean(s);
    }
}

/// Escape every display string of a diagnostic.
pub fn clean_diagnostic(d: &mut Diagnostic) {
    clean(&mut d.message);
    clean_opt(&mut d.field);
    if let Some(f) = &mut d.file {
        clean(&mut f.path);
    }
    if let Some(r) = &mut d.resource_ref {
        clean(&mut r.api_version);
        clean(&mut r.kind);
        clean(&mut r.name);
        clean_opt(&mut r.namespace);
    }
}

/// Escape the display strings of a render's result (messages, diagnostics
/// and object origins; not the objects themselves).
pub fn clean_result(r: &mut Result<RenderOutput, RenderError>) {
    match r {
        Ok(out) => {
            out.results.iter_mut().for_each(clean_diagnostic);
            for o in &mut out.objects {
                if let Some(origin) = &mut o.origin {
                    clean(&mut origin.file);
                }
            }
        }
        Err(e) => {
            clean(&mut e.message);
            e.results.iter_mut().for_each(clean_diagnostic);
        }
    }
}

/// Escape every string of a plugin's self-description.
pub fn clean_info(info: &mut PluginInfo) {
    clean(&mut info.name);
    clean(&mut info.version);
    clean(&mut info.description);
    for p in &mut info.params {
        clean(&mut p.name);
        clean(&mut p.description);
        clean_opt(&mut p.default);
    }
    info.detect.iter_mut().for_each(clean);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_control("plain\ttext\n"), "plain\ttext\n");
        assert!(matches!(escape_control("plain"), Cow::Borrowed(_)));
        assert_eq!(
            escape_control("\u{1b}[2J\u{1b}]0;pwned\u{7}ok\r"),
            "\\x1b[2J\\x1b]0;pwned\\x07ok\\x0d"
        );
        assert_eq!(escape_control("a\u{9b}31mb"), "a\\u{9b}31mb");
        assert_eq!(escape_control("x\u{202e}y\u{7f}"), "x\\u{202e}y\\x7f");
        assert_eq!(escape_control("héllo ✓"), "héllo ✓");
    }
}
