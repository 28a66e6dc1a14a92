//! Colours: the page's backgrounds and the contrast every text colour keeps
//! against them (WCAG 2's AA level for body text, 4.5:1).

/// The page background in light mode.
pub(crate) const LIGHT_BG: &str = "#ffffff";
/// The page background in dark mode (`prefers-color-scheme: dark`).
pub(crate) const DARK_BG: &str = "#12151a";
/// The contrast text keeps against its background.
pub(crate) const MIN_CONTRAST: f64 = 4.5;

/// The red, green and blue of `#rrggbb`.
pub(crate) fn parse_hex(colour: &str) -> Option<[u8; 3]> {
    let hex = colour.strip_prefix('#')?;
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?])
}

fn luminance([r, g, b]: [u8; 3]) -> f64 {
    let channel = |v: u8| {
        let v = f64::from(v) / 255.0;
        if v <= 0.039_28 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
}

/// The WCAG contrast ratio of two colours, from 1 to 21.
pub(crate) fn contrast(a: [u8; 3], b: [u8; 3]) -> f64 {
    let (a, b) = (luminance(a), luminance(b));
    (a.max(b) + 0.05) / (a.min(b) + 0.05)
}

/// Checks an accent colour: `#rrggbb` with enough contrast against `bg`.
pub(crate) fn check_accent(colour: &str, bg: &str, mode: &str) -> Result<String, String> {
    let rgb = parse_hex(colour)
        .ok_or_else(|| format!("the {mode} accent colour {colour:?} is not #rrggbb"))?;
    let bg_rgb = parse_hex(bg).ok_or_else(|| format!("bad background {bg}"))?;
    let ratio = contrast(rgb, bg_rgb);
    if ratio < MIN_CONTRAST {
        return Err(format!(
            "the {mode} accent colour {colour} has a contrast of {ratio:.2}:1 against the {mode} background {bg}; links need at least {MIN_CONTRAST}:1"
        ));
    }
    Ok(colour.to_ascii_lowercase())
}
