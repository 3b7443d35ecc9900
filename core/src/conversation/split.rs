//! Cutting a text into messages that fit the channel's per-message limit: at a line break if
//! one falls in the last quarter of the limit, else at a space there, else at a character
//! boundary — never inside a character, and never mid-word when a word boundary is near.

use std::ops::Range;

/// Splits `text` into pieces of at most `max_bytes` UTF-8 bytes (at least 4), in order, as
/// byte ranges of `text`. The separator a cut falls on is left out; nothing else is. Empty text
/// gives no pieces.
pub(crate) fn split_text(text: &str, max_bytes: usize) -> Vec<Range<usize>> {
    let max = max_bytes.max(4);
    let mut parts = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let rest = &text[start..];
        if rest.len() <= max {
            parts.push(start..text.len());
            break;
        }
        let mut limit = max;
        while !rest.is_char_boundary(limit) {
            limit -= 1;
        }
        let window = &rest[..limit];
        let floor = limit - limit / 4;
        let at = |separator: char| window.rfind(separator).filter(|&i| i >= floor && i > 0);
        match at('\n').or_else(|| at(' ')) {
            // The separator (one byte) is left out.
            Some(i) => {
                parts.push(start..start + i);
                start += i + 1;
            }
            None => {
                parts.push(start..start + limit);
                start += limit;
            }
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str, max: usize) -> Vec<&str> {
        split_text(text, max)
            .into_iter()
            .map(|r| &text[r])
            .collect()
    }

    #[test]
    fn cuts_at_a_line_break_or_a_space_near_the_limit() {
        let text = format!("{}\n{}", "a".repeat(1900), "b".repeat(500));
        assert_eq!(pieces(&text, 2048), ["a".repeat(1900), "b".repeat(500)]);
        let words = "word ".repeat(500);
        let parts = pieces(words.trim_end(), 2048);
        assert!(parts.iter().all(|p| p.len() <= 2048));
        assert!(
            parts
                .iter()
                .all(|p| p.starts_with("word") && p.ends_with("word"))
        );
        assert_eq!(parts.join(" "), words.trim_end());
    }

    #[test]
    fn cuts_at_a_character_boundary_when_no_separator_is_near() {
        let text = "中".repeat(1000);
        let parts = pieces(&text, 2048);
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.len() <= 2048));
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn short_text_is_one_piece_and_empty_is_none() {
        assert_eq!(pieces("hi", 2048), ["hi"]);
        assert!(pieces("", 2048).is_empty());
    }
}
