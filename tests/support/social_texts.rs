//! Text generators for the social networks' length rules, shared by the
//! property tests (`social_props.rs`) and the differential test against
//! twitter-text (`x_oracle.rs`): pieces of known weight on Mastodon and X,
//! the cases twitter-text links differently, and "soup" of the characters
//! that make links, mentions, emoji sequences and compositions likely.

use proptest::prelude::*;

/// A piece of text and what it counts on each network, on its own between
/// whitespace.
#[derive(Debug, Clone)]
pub struct Piece {
    pub text: String,
    pub mastodon: usize,
    pub x: usize,
}

pub fn piece(text: String, mastodon: usize, x: usize) -> Piece {
    Piece { text, mastodon, x }
}

/// Same count on both networks: one per character.
pub fn narrow(text: String) -> Piece {
    let n = text.chars().count();
    piece(text, n, n)
}

pub fn pieces() -> impl Strategy<Value = Piece> {
    prop_oneof![
        4 => "[a-zA-Z0-9]{1,12}".prop_map(narrow),
        2 => "[\u{e0}-\u{ff}]{1,8}".prop_map(narrow),
        // CJK and Hangul syllables weigh 2 on X.
        2 => "[\u{4e00}-\u{9fff}]{1,6}".prop_map(|s| {
            let n = s.chars().count();
            piece(s, n, 2 * n)
        }),
        1 => "[\u{ac00}-\u{d7a3}]{1,4}".prop_map(|s| {
            let n = s.chars().count();
            piece(s, n, 2 * n)
        }),
        // Emoji twitter-text knows (Emoji 11.0), sequences included, weigh 2
        // on X; a newer sequence weighs its parts (🧑🏿 2, ZWJ 1, 🚀 2).
        // Mastodon counts characters.
        2 => proptest::sample::select(vec![
            ("😀", 2), ("👍🏽", 2), ("👩‍👩‍👧", 2), ("🏳️‍🌈", 2), ("🇫🇷", 2), ("❤️", 2), ("⚠️", 2),
            ("👩‍⚕️", 2), ("🧑🏿‍🚀", 5), ("🏴󠁧󠁢󠁥󠁮󠁧󠁿", 2), ("🫠", 2), ("1\u{20E3}", 2),
        ])
        .prop_map(|(e, x)| piece(e.to_owned(), e.chars().count(), x)),
        // Decomposed letters: X counts them composed (NFC).
        1 => proptest::sample::select(vec![("e\u{301}", 2, 1), ("A\u{30A}", 2, 1), ("\u{212B}", 1, 1), ("\u{2126}", 1, 1)])
            .prop_map(|(t, m, x)| piece(t.to_owned(), m, x)),
        // Typographic punctuation: X weighs U+2010–U+201F and U+2032–U+2037 as 1.
        1 => proptest::sample::select(vec![("–", 1), ("—", 1), ("‘", 1), ("”", 1), ("′", 1), ("…", 2), ("‰", 2), ("€", 2)])
            .prop_map(|(t, x)| piece(t.to_owned(), 1, x)),
        // Links count 23 however long; trailing punctuation is not part of them.
        2 => ("https?://[a-z]{1,12}\\.(com|org|io|dev)(/[a-z0-9_-]{1,20}){0,3}(\\?[a-z]=[0-9]{1,4})?", "[.,!?]{0,2}")
            .prop_map(|(url, tail)| {
                let n = 23 + tail.len();
                piece(format!("{url}{tail}"), n, n)
            }),
        // Bare domains are text on Mastodon, links on X (23).
        1 => "[a-z]{1,30}\\.(com|org|io)".prop_map(|d| {
            let n = d.len();
            piece(d, n, 23)
        }),
        1 => proptest::sample::select(vec!["@everyone", "@someone", "#outage", "$TSLA", "ops@example"])
            .prop_map(|t| narrow(t.to_owned())),
    ]
}

/// Pieces whose weight on X twitter-text 3.1.0 decides in ways a simple
/// rule does not: (text, X weight), on their own between whitespace.
pub fn x_pieces() -> impl Strategy<Value = (String, usize)> {
    prop_oneof![
        3 => pieces().prop_map(|p| (p.text, p.x)),
        1 => proptest::sample::select(vec![
            // User information: no link.
            ("https://user:pw@example.com", 27),
            // A trailing `?`, a final `.` and parentheses are no part of it.
            ("https://status.example.com/x?", 24),
            ("https://bücher.de/x.", 24),
            ("(status.example.com)", 25),
            ("x.com/a(b)", 23),
            ("x.com/a.(b)", 27),
            ("https://a.co.uk?x=1&", 23),
            // Domains without a scheme: after `:` a link, after `-` or `/`
            // not; internationalised top-level domains; only ASCII domains.
            ("see:status.example.com", 27),
            ("-status.example.com", 19),
            ("/status.example.com", 19),
            ("foo.みんな", 23),
            ("例え.jp", 7),
            ("https://例え.テスト", 19),
            ("ab.cop", 6),
            // t.co links end after their slug.
            ("http://t.co/abc/def", 27),
            ("©", 1),
        ])
        .prop_map(|(t, x)| (t.to_owned(), x)),
    ]
}

/// X-only pieces between whitespace, with their weights summed.
pub fn x_text() -> impl Strategy<Value = (String, usize)> {
    proptest::collection::vec(
        (x_pieces(), proptest::sample::select(vec![" ", "\n", "  "])),
        0..40,
    )
    .prop_map(|v| {
        let (mut text, mut x) = (String::new(), 0);
        let n = v.len();
        for (i, ((t, w), sep)) in v.into_iter().enumerate() {
            text.push_str(&t);
            x += w;
            if i + 1 < n {
                text.push_str(sep);
                x += sep.len();
            }
        }
        (text, x)
    })
}

/// Pieces between whitespace, with their counts summed.
pub fn mixed_text() -> impl Strategy<Value = (String, usize, usize)> {
    proptest::collection::vec(
        (
            pieces(),
            proptest::sample::select(vec![" ", "\n", "  ", "\n\n"]),
        ),
        0..40,
    )
    .prop_map(|v| {
        let (mut text, mut m, mut x) = (String::new(), 0, 0);
        let n = v.len();
        for (i, (p, sep)) in v.into_iter().enumerate() {
            text.push_str(&p.text);
            m += p.mastodon;
            x += p.x;
            if i + 1 < n {
                text.push_str(sep);
                m += sep.len();
                x += sep.len();
            }
        }
        (text, m, x)
    })
}

/// Anything at all, with the characters that make links, mentions, emoji
/// sequences and compositions likely.
pub fn soup() -> impl Strategy<Value = String> {
    let bit = prop_oneof![
        Just("https://".to_owned()),
        Just("http://".to_owned()),
        Just("www.".to_owned()),
        Just(".com".to_owned()),
        Just(".io/".to_owned()),
        proptest::sample::select(vec![
            'a', 'h', 't', 'p', 's', 'x', 'Z', '0', ':', '/', '.', ',', '?', '!', '=', '&', '-',
            '_', '#', '$', '@', '＠', ' ', '\n', '(', ')', '"', '…', 'é', 'e', '\u{301}',
            '\u{323}', '障', '가', '\u{1100}', '\u{1161}', '😀', '👩', '\u{200D}', '\u{FE0F}', '❤',
            '©', '🇫', '🇷', '🏽', '\u{212A}', '\u{2126}', '\u{958}', '\u{600}', '\u{FEFF}', '(',
            ')', '\u{3002}',
        ])
        .prop_map(String::from),
        Just("user:pw@".to_owned()),
        Just(".みんな".to_owned()),
        Just("例え".to_owned()),
        Just("t.co/".to_owned()),
        Just("xn--".to_owned()),
    ];
    proptest::collection::vec(bit, 0..60).prop_map(|v| v.concat())
}

/// Something that may be a link, built from parts twitter-text decides on:
/// what comes before it, a scheme, user information, a host (ASCII,
/// internationalised, punycode, internationalised top-level domains, `t.co`,
/// too long a label, no known top-level domain), a port, a path, a query and
/// what follows it (punctuation, a trailing `?`, an ellipsis, an emoji).
pub fn url_like() -> impl Strategy<Value = String> {
    let long_label = format!("{}.com", "a".repeat(64));
    (
        proptest::sample::select(vec![
            "", "", "", " ", "(", ":", "-", "/", "_", ".", "@", "#", "$", "a", "é", "障", "😀",
            "\u{FEFF}", "＠", "\"", "«", "[", "'", "\u{200B}", "\u{202E}", "see:",
        ]),
        proptest::sample::select(vec![
            "", "", "http://", "https://", "HTTPS://", "Http://", "ftp://", "www.",
        ]),
        proptest::sample::select(vec!["", "", "", "user:pw@", "user@", "a.b@"]),
        proptest::sample::select(vec![
            "example.com".to_owned(),
            "status.example.co.uk".to_owned(),
            "bücher.de".to_owned(),
            "例え.jp".to_owned(),
            "foo.みんな".to_owned(),
            "例え.テスト".to_owned(),
            "xn--bcher-kva.de".to_owned(),
            "foo.xn--p1ai".to_owned(),
            "пример.рф".to_owned(),
            "a.co".to_owned(),
            "t.co".to_owned(),
            "x.com".to_owned(),
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "www.example".to_owned(),
            "example.cop".to_owned(),
            "EXAMPLE.COM".to_owned(),
            "sub-domain.example.io".to_owned(),
            "-bad.com".to_owned(),
            "a_b.com".to_owned(),
            "a--b.dev".to_owned(),
            "ex😀.com".to_owned(),
            long_label,
        ]),
        proptest::sample::select(vec!["", "", "", ":8080", ":", ":99999"]),
        proptest::sample::select(vec![
            "",
            "",
            "/",
            "/x",
            "/a(b)",
            "/a.(b)",
            "/x.",
            "/x,",
            "/ü",
            "/%20",
            "/#frag",
            "/~u",
            "/abc/def",
            "/a-b_c",
            "/@user",
            "/!",
            "/障害",
            "/a/b.html",
            "/(x)/y",
            "/x_",
            "/abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklm",
        ]),
        proptest::sample::select(vec![
            "", "", "", "?", "?x=1", "?x=1&", "?a=b#c", "?q=a+b", "?x=(1)", "?x=é", "?x=1.", "#x",
        ]),
        proptest::sample::select(vec![
            "", "", "", ".", ",", "?", "!", ")", "...", "…", " end", "😀", ":", ";", "'", "\"",
            "”", ".com", "/", "\u{3002}", "-", "?!", "\u{FFFE}",
        ]),
    )
        .prop_map(|(before, scheme, user, host, port, path, query, after)| {
            format!("{before}{scheme}{user}{host}{port}{path}{query}{after}")
        })
}

/// One to four [`url_like`] pieces among words and separators.
pub fn url_sentence() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        (
            prop_oneof![
                3 => url_like(),
                1 => "[a-z]{1,8}",
                1 => "[\u{4e00}-\u{4e20}]{1,3}",
            ],
            proptest::sample::select(vec![" ", "\n", "", "  ", ", ", "\u{3000}"]),
        ),
        1..5,
    )
    .prop_map(|v| v.into_iter().map(|(a, b)| format!("{a}{b}")).collect())
}
