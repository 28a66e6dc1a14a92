//! SMS channels: for people who are not watching chat (off-duty responders,
//! leadership, customers who asked for texts).
//!
//! | provider | module | feature | text |
//! |---|---|---|---|
//! | Twilio Programmable Messaging | `twilio` | `sms-twilio` | a budget of segments (default 2), at most 1,600 characters |
//!
//! Targets are phone numbers in E.164 form (`+` and 8 to 15 digits, see
//! [`is_e164`]); anything else is an
//! [`InvalidTarget`](crate::channel::ChannelError::InvalidTarget) before any
//! request. Text is limited to a number of SMS segments, counted exactly by
//! [`render::sms`](crate::render::sms) (GSM-7 or UCS-2), so the default fitting
//! keeps the status in the title and the link whole, and cuts the body. SMS
//! interrupts people: channels pace messages to each number (per-recipient
//! rate limit) as well as the sending number's own rate. Credentials are
//! secrets: they never appear in `Debug` output, logs or errors.

#[cfg(feature = "sms-twilio")]
#[cfg_attr(docsrs, doc(cfg(feature = "sms-twilio")))]
pub mod twilio;

/// Whether `number` is an E.164 phone number as SMS providers take it: `+`,
/// then 8 to 15 digits, the first not `0`; no spaces or punctuation.
///
/// ```
/// use tidings::channel::sms::is_e164;
///
/// assert!(is_e164("+14155550100"));
/// assert!(!is_e164("+1 415 555 0100"));
/// assert!(!is_e164("004915123456789"));
/// ```
pub fn is_e164(number: &str) -> bool {
    let Some(digits) = number.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_numbers() {
        for ok in [
            "+14155550100",
            "+442071838750",
            "+12345678",
            "+123456789012345",
        ] {
            assert!(is_e164(ok), "{ok}");
        }
        for bad in [
            "",
            "+",
            "14155550100",
            "+04155550100",
            "+1234567",
            "+1234567890123456",
            "+1 4155550100",
            "+1-415-555-0100",
            "+1415555010a",
            "+１４１５５５５０１００",
            "tel:+14155550100",
        ] {
            assert!(!is_e164(bad), "{bad}");
        }
    }
}
