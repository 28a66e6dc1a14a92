//! Markdown to Confluence's storage format (XHTML), with pulldown-cmark.

use pulldown_cmark::{CodeBlockKind, CowStr, Event, Options, Parser, Tag, TagEnd, html};

/// A placeholder for a code block's macro, put in by [`to_storage`] and
/// replaced after the HTML is written: pulldown-cmark turns every NUL of
/// its input into U+FFFD, so none can come from the text.
const MARK: char = '\u{0}';

/// The storage format of `markdown`: CommonMark (with tables and
/// strikethrough) as XHTML, made safe and well-formed for Confluence:
///
/// - raw HTML in the Markdown is shown as text, never interpreted;
/// - links keep only `http`, `https` and `mailto` targets (anything else,
///   `javascript:` included, keeps its text without the link);
/// - images become links to the image (storage format has its own image
///   element, and a page should not load what a message points at);
/// - fenced and indented code becomes Confluence's `code` macro, its text
///   in CDATA (split where it holds `]]>`), its language kept when it is a
///   plain word;
/// - a table's header row goes in its `tbody` (`th` cells), which storage
///   format expects;
/// - characters XML 1.0 forbids (C0 controls other than tab and line
///   breaks, U+FFFE, U+FFFF) are dropped.
///
/// What pulldown-cmark writes is already XHTML (`<br />`, `<hr />`,
/// escaped `&`, `<`, `>`, `"`), so the result parses as XML.
pub(crate) fn to_storage(markdown: &str) -> String {
    let clean: String = markdown.chars().filter(|&c| xml_char(c)).collect();
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut macros: Vec<String> = Vec::new();
    let mut events: Vec<Event<'_>> = Vec::new();
    // Whether each open link was kept.
    let mut links: Vec<bool> = Vec::new();
    let mut code: Option<(String, String)> = None;
    for event in Parser::new_ext(&clean, options) {
        if let Some((_, text)) = code.as_mut() {
            match event {
                Event::End(TagEnd::CodeBlock) => {
                    if let Some((language, text)) = code.take() {
                        events.push(Event::Html(format!("{MARK}{}{MARK}", macros.len()).into()));
                        macros.push(code_macro(&language, &text));
                    }
                }
                Event::Text(t) | Event::Html(t) | Event::InlineHtml(t) | Event::Code(t) => {
                    text.push_str(&t);
                }
                _ => {}
            }
            continue;
        }
        let event = match event {
            Event::Start(Tag::CodeBlock(kind)) => {
                let language = match kind {
                    CodeBlockKind::Fenced(info) => language(&info),
                    CodeBlockKind::Indented => String::new(),
                };
                code = Some((language, String::new()));
                continue;
            }
            Event::Html(t) | Event::InlineHtml(t) => Event::Text(t),
            Event::Start(Tag::HtmlBlock) => Event::Start(Tag::Paragraph),
            Event::End(TagEnd::HtmlBlock) => Event::End(TagEnd::Paragraph),
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            })
            | Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                let keep = safe_link(&dest_url);
                links.push(keep);
                if !keep {
                    continue;
                }
                Event::Start(Tag::Link {
                    link_type,
                    dest_url,
                    title,
                    id,
                })
            }
            Event::End(TagEnd::Link) | Event::End(TagEnd::Image) => {
                if !links.pop().unwrap_or(false) {
                    continue;
                }
                Event::End(TagEnd::Link)
            }
            Event::TaskListMarker(done) => {
                Event::Text(CowStr::Borrowed(if done { "[x] " } else { "[ ] " }))
            }
            other => other,
        };
        events.push(event);
    }
    let mut out = String::with_capacity(clean.len() * 3 / 2 + 16);
    html::push_html(&mut out, events.into_iter());
    // A header row in the table's body.
    let out = out
        .replace("</thead><tbody>", "")
        .replace("<thead>", "<tbody>")
        .replace("</thead>", "</tbody>");
    if macros.is_empty() {
        return out;
    }
    let mut with_macros = String::with_capacity(out.len());
    let mut parts = out.split(MARK);
    if let Some(first) = parts.next() {
        with_macros.push_str(first);
    }
    // After the first piece: an index, then text, in turn.
    while let (Some(index), rest) = (parts.next(), parts.next()) {
        if let Some(m) = index.parse::<usize>().ok().and_then(|i| macros.get(i)) {
            with_macros.push_str(m);
        }
        with_macros.push_str(rest.unwrap_or_default());
    }
    with_macros
}

/// Whether XML 1.0 allows `c` in text.
fn xml_char(c: char) -> bool {
    !matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

/// A link target a page may carry.
fn safe_link(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    ["http://", "https://", "mailto:"]
        .iter()
        .any(|scheme| lower.starts_with(scheme))
}

/// A fenced block's language: its first word, if it is letters, digits,
/// `+`, `#` or `-`.
fn language(info: &str) -> String {
    let word = info.split_whitespace().next().unwrap_or_default();
    if word.len() <= 30
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+#-".contains(c))
    {
        word.to_ascii_lowercase()
    } else {
        String::new()
    }
}

/// Confluence's code macro around `text` (CDATA, split at every `]]>`).
fn code_macro(language: &str, text: &str) -> String {
    let mut out = String::from(r#"<ac:structured-macro ac:name="code">"#);
    if !language.is_empty() {
        out.push_str(&format!(
            r#"<ac:parameter ac:name="language">{language}</ac:parameter>"#
        ));
    }
    out.push_str("<ac:plain-text-body><![CDATA[");
    out.push_str(&text.replace("]]>", "]]]]><![CDATA[>"));
    out.push_str("]]></ac:plain-text-body></ac:structured-macro>");
    out
}

/// `text` escaped for XHTML text and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().filter(|&c| xml_char(c)) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses storage format as XML, with the namespaces Confluence uses.
    fn well_formed(storage: &str) {
        let doc = format!(
            r#"<root xmlns:ac="http://atlassian.com/content" xmlns:ri="http://atlassian.com/resource/identifier">{storage}</root>"#
        );
        if let Err(e) = roxmltree::Document::parse(&doc) {
            panic!("not well-formed ({e}): {storage}");
        }
    }

    #[test]
    fn markdown_becomes_storage_format() {
        let md = "# What happened\n\nA **bad** deploy at 14:02 & a *slow* rollback.\n\n- one\n- two\n\n1. first\n2. second\n\n| when | what |\n|:--|--|\n| 14:02 | deploy |\n\n---\n\nline  \nbreak `x < y`\n\n> quoted";
        let s = to_storage(md);
        well_formed(&s);
        assert!(s.contains("<h1>What happened</h1>"), "{s}");
        assert!(
            s.contains("<strong>bad</strong> deploy at 14:02 &amp; a <em>slow</em>"),
            "{s}"
        );
        assert!(s.contains("<ul>\n<li>one</li>"), "{s}");
        assert!(
            s.contains("<table><tbody><tr><th style=\"text-align: left\">when</th>"),
            "{s}"
        );
        assert!(!s.contains("thead"), "{s}");
        assert!(s.contains("<hr />") && s.contains("<br />"), "{s}");
        assert!(s.contains("<code>x &lt; y</code>"), "{s}");
        assert!(s.contains("<blockquote>"), "{s}");
    }

    #[test]
    fn hostile_markdown_stays_text() {
        let md = "<script>alert(1)</script>\n\nHi <b onclick=\"x\">there</b> [click](javascript:alert(1)) ![img](https://example.com/i.png) [ok](https://example.com/a?b=1&c=2)\u{1b}\u{0}\n\n<div>\nblock\n</div>";
        let s = to_storage(md);
        well_formed(&s);
        assert!(
            !s.contains("<script") && !s.contains("<b ") && !s.contains("<div"),
            "{s}"
        );
        assert!(s.contains("&lt;script&gt;"), "{s}");
        assert!(!s.contains("javascript"), "{s}");
        assert!(s.contains("click"), "{s}");
        assert!(
            s.contains(r#"<a href="https://example.com/i.png">img</a>"#),
            "{s}"
        );
        assert!(
            s.contains(r#"<a href="https://example.com/a?b=1&amp;c=2">ok</a>"#),
            "{s}"
        );
        assert!(!s.contains('\u{1b}') && !s.contains('\u{0}'), "{s}");
    }

    #[test]
    fn code_blocks_become_the_code_macro() {
        let md = "Before\n\n```rust title\nlet x = \"]]>\" < 1;\n```\n\n    indented\n\n```not a language!\nplain\n```\nAfter";
        let s = to_storage(md);
        well_formed(&s);
        assert!(s.contains(r#"<ac:structured-macro ac:name="code"><ac:parameter ac:name="language">rust</ac:parameter><ac:plain-text-body><![CDATA[let x = "]]]]><![CDATA[>" < 1;"#), "{s}");
        assert!(s.contains("<![CDATA[indented\n]]>"), "{s}");
        assert!(s.contains("<![CDATA[plain\n]]>"), "{s}");
        assert_eq!(s.matches("ac:structured-macro ac:name").count(), 3, "{s}");
        assert!(
            s.contains("<p>Before</p>") && s.contains("<p>After</p>"),
            "{s}"
        );
        assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
    }
}
