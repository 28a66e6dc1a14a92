//! Statuspage's error answers, mapped to what to do next.

use super::*;

/// Statuspage's ErrorEntity (`{"message": "…"}`), or `{"error": "…"}` /
/// `{"error": ["…", …]}` as some endpoints answer.
#[derive(Deserialize)]
pub(super) struct ErrorBody {
    #[serde(default)]
    message: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

/// The provider's message, short and cleaned: one line, no control
/// characters, at most 160 characters.
pub(super) fn error_message(body: &str) -> Option<String> {
    let parsed: ErrorBody = serde_json::from_str(body).ok()?;
    let value = parsed.message.or(parsed.error)?;
    let text = match value {
        serde_json::Value::String(s) => s,
        serde_json::Value::Array(items) => items
            .iter()
            .filter_map(serde_json::Value::as_str)
            .collect::<Vec<_>>()
            .join("; "),
        _ => return None,
    };
    let mut out = String::new();
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().filter(|c| !c.is_control()));
    }
    if out.is_empty() {
        return None;
    }
    Some(truncate(&out, 160).into_owned())
}

/// Maps Statuspage's error answer (HTTP status, headers, body) to what to do
/// next.
pub(super) fn map_error(status: StatusCode, headers: &HeaderMap, body: &str) -> ChannelError {
    let code = status.as_u16();
    let said = || match error_message(body) {
        Some(message) => format!("Statuspage answered {code}: {message}"),
        None => format!("Statuspage answered {code}"),
    };
    let retry_after = || http::retry_after(headers, SystemTime::now());
    match code {
        // "Error codes 420 or 429 indicate that you have exceeded the rate
        // limit" (OpenAPI description); the answer carries `Retry-After`
        // (Atlassian community post, 2020). 420 is still answered by older
        // integrations' accounts, so both count.
        420 | 429 => ChannelError::RateLimited {
            retry_after: retry_after(),
        },
        // 401: the API key is wrong or revoked. 403 (not in the OpenAPI,
        // inferred): the key's user may not manage this page. Fix the
        // configuration; the body is not kept.
        401 | 403 => ChannelError::Config {
            reason: format!("Statuspage refused the API key ({code})"),
        },
        // 400 malformed request, 404 unknown page or incident, 422 invalid
        // fields (an ErrorEntity says which): this request will never pass.
        400 | 404 | 422 => ChannelError::Rejected {
            reason: said(),
            status: Some(code),
        },
        // 408 and 5xx: Statuspage-side failures; retryable ("inferred" in the
        // provider notes).
        408 | 500..=599 => ChannelError::Transient {
            reason: said(),
            status: Some(code),
            retry_after: retry_after(),
        },
        // Anything else follows the general HTTP rules.
        _ => http::error_for_status(status, headers),
    }
}
