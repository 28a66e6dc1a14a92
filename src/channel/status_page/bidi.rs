//! Bidirectional control characters in user text, made harmless.
//!
//! A title or message may carry explicit bidi controls (U+202A–U+202E,
//! U+2066–U+2069). Left unpaired, an override such as U+202E (right-to-left
//! override) reorders everything after it up to the end of the paragraph:
//! the status, the time, the next title. The page keeps every control a
//! writer closed (an RTL name written with its isolate is still shown
//! right), drops closers that close nothing, and closes what is left open at
//! the end of the text and before every line break; then:
//!
//! - HTML wraps each piece of user text in `<bdi>` (or gives its paragraph
//!   `dir="auto"`), so the browser isolates it from the text around it;
//! - Atom, whose text cannot carry markup, wraps it in U+2068 (first strong
//!   isolate) … U+2069 (pop directional isolate);
//! - the JSON carries the balanced text (readers show it as they wish; the
//!   widget puts it in `<bdi>`).

use std::borrow::Cow;

const LRE: char = '\u{202A}';
const RLE: char = '\u{202B}';
const PDF: char = '\u{202C}';
const LRO: char = '\u{202D}';
const RLO: char = '\u{202E}';
const LRI: char = '\u{2066}';
const RLI: char = '\u{2067}';
const FSI: char = '\u{2068}';
const PDI: char = '\u{2069}';

#[derive(Clone, Copy, PartialEq, Eq)]
enum Open {
    /// An embedding or override, closed by PDF.
    Embedding,
    /// An isolate, closed by PDI.
    Isolate,
}

fn is_control(c: char) -> bool {
    matches!(c, LRE | RLE | PDF | LRO | RLO | LRI | RLI | FSI | PDI)
}

/// Characters that end a bidi paragraph (UAX #9, type B), where every
/// embedding ends anyway; closing before them keeps renderers that treat a
/// line break differently in agreement.
fn is_paragraph_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{1C}' | '\u{1D}' | '\u{1E}' | '\u{85}' | '\u{2029}'
    )
}

fn close_all(stack: &mut Vec<Open>, out: &mut String) {
    while let Some(open) = stack.pop() {
        out.push(match open {
            Open::Embedding => PDF,
            Open::Isolate => PDI,
        });
    }
}

/// `text` with its bidi controls balanced: every opener closed (at the end,
/// and before each line break), every closer without an opener dropped.
/// Text without bidi controls is returned as it is.
pub(crate) fn balance(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut stack: Vec<Open> = Vec::new();
    for c in text.chars() {
        match c {
            LRE | RLE | LRO | RLO => {
                stack.push(Open::Embedding);
                out.push(c);
            }
            LRI | RLI | FSI => {
                stack.push(Open::Isolate);
                out.push(c);
            }
            // A PDF closes the innermost embedding, unless an isolate was
            // opened after it (UAX #9, X7): then it does nothing.
            PDF => {
                if stack.last() == Some(&Open::Embedding) {
                    stack.pop();
                    out.push(c);
                }
            }
            // A PDI closes the innermost isolate and every embedding opened
            // inside it (X6a); those are closed explicitly first.
            PDI => {
                if let Some(at) = stack.iter().rposition(|o| *o == Open::Isolate) {
                    for _ in at + 1..stack.len() {
                        out.push(PDF);
                    }
                    stack.truncate(at);
                    out.push(c);
                }
            }
            c if is_paragraph_break(c) => {
                close_all(&mut stack, &mut out);
                out.push(c);
            }
            c => out.push(c),
        }
    }
    close_all(&mut stack, &mut out);
    Cow::Owned(out)
}

/// `text` balanced and, if it has bidi controls, isolated: each line between
/// U+2068 and U+2069, for plain-text outputs that cannot use markup (the
/// Atom feed). Text without bidi controls is returned as it is.
pub(crate) fn isolate(text: &str) -> String {
    if !text.chars().any(is_control) {
        return text.to_owned();
    }
    let balanced = balance(text);
    let mut out = String::with_capacity(balanced.len() + 6);
    out.push(FSI);
    for (i, line) in balanced.split('\n').enumerate() {
        if i > 0 {
            // Each line is a paragraph of its own: isolate each.
            out.push(PDI);
            out.push('\n');
            out.push(FSI);
        }
        out.push_str(line);
    }
    out.push(PDI);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every opener is closed in order, and nothing is closed twice.
    fn well_nested(s: &str) -> bool {
        let mut stack = Vec::new();
        for c in s.chars() {
            match c {
                LRE | RLE | LRO | RLO => stack.push(PDF),
                LRI | RLI | FSI => stack.push(PDI),
                PDF | PDI if stack.pop() != Some(c) => return false,
                c if is_paragraph_break(c) && !stack.is_empty() => return false,
                _ => {}
            }
        }
        stack.is_empty()
    }

    #[test]
    fn unpaired_controls_are_closed_and_stray_closers_dropped() {
        assert!(matches!(balance("plain"), Cow::Borrowed("plain")));
        assert_eq!(balance("a\u{202E}evil"), "a\u{202E}evil\u{202C}");
        assert_eq!(balance("\u{202C}\u{2069}x"), "x");
        assert_eq!(
            balance("\u{2067}a\u{202B}b\u{2069}c"),
            "\u{2067}a\u{202B}b\u{202C}\u{2069}c"
        );
        // A PDF inside an isolate opened after the embedding does nothing.
        assert_eq!(
            balance("\u{202B}a\u{2068}b\u{202C}"),
            "\u{202B}a\u{2068}b\u{2069}\u{202C}"
        );
        assert_eq!(balance("\u{202E}one\ntwo"), "\u{202E}one\u{202C}\ntwo");
        assert_eq!(isolate("plain"), "plain");
        assert_eq!(
            isolate("\u{202E}one\ntwo"),
            "\u{2068}\u{202E}one\u{202C}\u{2069}\n\u{2068}two\u{2069}"
        );
        // A closed pair is kept as written.
        assert_eq!(
            balance("\u{2067}עברית\u{2069} ok"),
            "\u{2067}עברית\u{2069} ok"
        );
    }

    #[test]
    fn every_mix_comes_out_well_nested() {
        let alphabet = [LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI, 'a', '\n', 'ש'];
        // Every string of up to five characters of the alphabet.
        let mut checked = 0;
        let mut stack = vec![String::new()];
        while let Some(s) = stack.pop() {
            let b = balance(&s);
            assert!(well_nested(&b), "{s:?} → {b:?}");
            let plain: String = s.chars().filter(|c| !is_control(*c)).collect();
            let kept: String = b.chars().filter(|c| !is_control(*c)).collect();
            assert_eq!(plain, kept, "only controls change");
            assert!(well_nested(&isolate(&s)));
            checked += 1;
            if s.chars().count() < 5 {
                for c in alphabet {
                    stack.push(format!("{s}{c}"));
                }
            }
        }
        assert!(checked > 200_000, "{checked}");
    }
}
