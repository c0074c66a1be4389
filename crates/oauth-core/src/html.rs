//! The few pages the token service writes without a template (an auto-submitted `form_post`,
//! error and confirmation pages) escape what they interpolate with [`escape`].

/// `text` safe inside HTML element content and double- or single-quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
