//! Escaping user text for chat markup, so that it renders as written and can
//! inject neither mentions nor links nor formatting.

/// Escapes text for Slack `mrkdwn`: `&`, `<` and `>` become `&amp;`, `&lt;`,
/// `&gt;` (Slack's only control characters), so `<!channel>`, `<@U123>` or
/// `<https://evil|click>` in user text stay literal.
pub fn slack_mrkdwn(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Characters that start Markdown formatting, links or mentions anywhere in a
/// line (CommonMark and the chat dialects of Discord and Mattermost).
const INLINE: &[char] = &['\\', '*', '_', '~', '`', '|', '[', ']', '<'];

/// Characters that start a block (heading, quote, list) at the start of a line.
const LINE_START: &[char] = &['#', '>', '-', '+'];

/// Escapes text for Markdown chat (Discord, Mattermost): control characters
/// get a backslash, so `**x**`, `[a](b)`, `<@123>`, `||spoiler||` or a
/// `# heading` render literally; an `@` that starts a word gets a zero-width
/// space after it, so `@everyone`, `@here`, `@channel` or `@all` mention
/// nobody. Other punctuation is left alone, so text stays readable where it is
/// shown raw (notification previews).
pub fn markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut prev_is_word = false;
    let mut line_start = true;
    for c in text.chars() {
        if INLINE.contains(&c) || (line_start && LINE_START.contains(&c)) {
            out.push('\\');
            out.push(c);
        } else if c == '@' && !prev_is_word {
            out.push('@');
            out.push('\u{200B}');
        } else {
            out.push(c);
        }
        prev_is_word = c.is_alphanumeric();
        line_start = c == '\n' || (line_start && c == ' ');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_escapes_only_its_control_characters() {
        assert_eq!(
            slack_mrkdwn("a & b <!channel> <https://evil|x> *bold*"),
            "a &amp; b &lt;!channel&gt; &lt;https://evil|x&gt; *bold*"
        );
        assert_eq!(slack_mrkdwn("&amp;"), "&amp;amp;");
    }

    #[test]
    fn markdown_renders_literally_and_mentions_nobody() {
        assert_eq!(markdown("**x** [a](b)"), r"\*\*x\*\* \[a\](b)");
        assert_eq!(markdown("<@123> #4411"), "\\<@\u{200B}123> #4411");
        assert_eq!(
            markdown("# h\n> quote\n - item"),
            "\\# h\n\\> quote\n \\- item"
        );
        assert_eq!(markdown("||spoiler|| `code`"), r"\|\|spoiler\|\| \`code\`");
        assert_eq!(
            markdown("Fixed. Next: 14:30 (UTC) - ok!"),
            "Fixed. Next: 14:30 (UTC) - ok!"
        );
        assert_eq!(
            markdown("@everyone and @here"),
            "@\u{200B}everyone and @\u{200B}here"
        );
        assert_eq!(
            markdown("ops@example"),
            "ops@example",
            "an address is not a mention"
        );
        assert_eq!(markdown("a\\b"), r"a\\b");
    }
}
