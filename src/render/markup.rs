//! Escaping user text for chat markup, so that it renders as written and can
//! inject neither mentions nor links nor formatting; and defusing mentions in
//! the plain text of social posts.

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

/// Escapes text for an Adaptive Card `TextBlock` as Microsoft Teams renders it
/// (a Markdown subset: `**bold**`, `_italic_`, lists and `[text](url)` links;
/// no HTML; mentions only through `<at>` tags the card declares in its
/// `msteams.entities`, which tidings never does).
///
/// Teams clients do not honour backslash escapes consistently (mobile clients
/// show the backslash, or apply the emphasis anyway), so nothing is
/// backslash-escaped. Instead a zero-width space (U+200B) goes where a link,
/// tag or entity would start, which every client renders as nothing:
/// - between `]` and a following `(`, `[` or `:`, so `[text](url)`,
///   `[text][ref]`, `![image](url)` and `[ref]: url` are not links;
/// - after `<`, so `<https://…>` autolinks, `<at>` tags and HTML are text;
/// - after `&`, so `&lt;` and other entities render as typed.
///
/// Emphasis and list markers are left alone: they format, but can neither
/// mention nor link.
pub fn adaptive_card(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        let breaks = match c {
            '<' | '&' => true,
            ']' => matches!(chars.peek(), Some('(' | '[' | ':')),
            _ => false,
        };
        if breaks {
            out.push(ZERO_WIDTH_SPACE);
        }
    }
    out
}

/// Escapes text for a Google Chat text message (Chat's own markup: `*bold*`,
/// `_italic_`, `~strike~`, backticks, `<url|text>` links, `<users/…>` and
/// `<users/all>` mentions).
///
/// Chat decodes no HTML entities (`&lt;` shows as typed) and documents no
/// escape character, and both links and mentions start with `<`; so `<` and
/// `>` are replaced by the look-alike fullwidth signs `＜` and `＞` (U+FF1C,
/// U+FF1E), and no mention or link can start. A zero-width space also goes
/// between `]` and `(`, so that `[text](url)` is no link either should the
/// space read the text as standard Markdown. Formatting characters are left
/// alone: they format, but can neither mention nor link.
pub fn google_chat(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '<' => out.push('\u{FF1C}'),
            '>' => out.push('\u{FF1E}'),
            ']' if chars.peek() == Some(&'(') => {
                out.push(']');
                out.push(ZERO_WIDTH_SPACE);
            }
            c => out.push(c),
        }
    }
    out
}

/// Defuses mentions in the plain text of a social post (Mastodon, X), so that
/// user text notifies nobody: a zero-width space (U+200B) goes after every `@`
/// and fullwidth `＠` (which X also reads as a mention) that does not follow an
/// ASCII letter, digit or `_`. `@everyone`, `@someone` and
/// `@someone@example.social` then mention nobody, and read the same; an `@`
/// inside a word, as in `ops@example.com`, is left alone (neither network reads
/// it as a mention).
///
/// Hashtags, cashtags and links are left as written: they notify nobody. The
/// text only grows (by one zero-width space per defused `@`), and defusing a
/// text then appending to it gives the same as defusing the whole, so a length
/// counted on the defused text never decreases when text is appended.
pub fn defuse_mentions(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut prev: Option<char> = None;
    for c in text.chars() {
        out.push(c);
        let in_word = prev.is_some_and(|p| p.is_ascii_alphanumeric() || p == '_');
        if matches!(c, '@' | '\u{FF20}') && !in_word {
            out.push(ZERO_WIDTH_SPACE);
        }
        prev = Some(c);
    }
    out
}

const ZERO_WIDTH_SPACE: char = '\u{200B}';

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

    #[test]
    fn adaptive_card_breaks_links_tags_and_entities_invisibly() {
        let z = '\u{200B}';
        assert_eq!(
            adaptive_card("[x](https://evil) ![i](u) [a][r]\n[r]: https://evil"),
            format!("[x]{z}(https://evil) ![i]{z}(u) [a]{z}[r]\n[r]{z}: https://evil")
        );
        assert_eq!(
            adaptive_card("<at>All</at> <https://evil> a&lt;b"),
            format!("<{z}at>All<{z}/at> <{z}https://evil> a&{z}lt;b")
        );
        assert_eq!(
            adaptive_card("[Investigating] API errors: **down** _now_ @channel"),
            "[Investigating] API errors: **down** _now_ @channel",
            "brackets without a link and formatting stay as written"
        );
    }

    #[test]
    fn social_mentions_notify_nobody() {
        let z = '\u{200B}';
        assert_eq!(
            defuse_mentions("@everyone, @someone@example.social and ＠x #incident $TSLA"),
            format!("@{z}everyone, @{z}someone@example.social and ＠{z}x #incident $TSLA")
        );
        assert_eq!(
            defuse_mentions("ops@example.com a_@b"),
            "ops@example.com a_@b"
        );
        assert_eq!(
            defuse_mentions("é@x (@y) https://m.example/@z"),
            format!("é@{z}x (@{z}y) https://m.example/@{z}z")
        );
        assert_eq!(defuse_mentions("@@"), format!("@{z}@{z}"));
        let whole = defuse_mentions("a @b c");
        assert_eq!(format!("{}{}", defuse_mentions("a @"), "b c"), whole);
    }

    #[test]
    fn google_chat_can_neither_mention_nor_link() {
        assert_eq!(
            google_chat("<users/all> <https://evil|click> [x](https://evil) a&b *b* @all"),
            "\u{FF1C}users/all\u{FF1E} \u{FF1C}https://evil|click\u{FF1E} [x]\u{200B}(https://evil) a&b *b* @all"
        );
        assert!(!google_chat("<<>>").contains(['<', '>']));
        assert_eq!(google_chat("p99 [ms] ok"), "p99 [ms] ok");
    }
}
