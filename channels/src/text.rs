//! Splitting text to fit a channel's per-message byte limit.

/// Splits `text` into pieces of at most `max_bytes` UTF-8 bytes each, cutting only on character
/// boundaries. Concatenating the pieces gives back `text`. Empty text gives no pieces.
///
/// A `max_bytes` below 4 is raised to 4 so that every character fits in a piece.
pub fn split_at_byte_limit(text: &str, max_bytes: usize) -> Vec<&str> {
    let max = max_bytes.max(4);
    let mut parts = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        if rest.len() <= max {
            parts.push(rest);
            break;
        }
        let mut cut = max;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (head, tail) = rest.split_at(cut);
        parts.push(head);
        rest = tail;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_cuts_inside_a_character() {
        let text = "a😀".repeat(700);
        let parts = split_at_byte_limit(&text, 2048);
        assert!(parts.iter().all(|p| p.len() <= 2048));
        assert_eq!(parts.concat(), text);
        assert_eq!(parts.len(), 2);
    }

    #[test]
    fn short_text_is_one_piece_and_empty_is_none() {
        assert_eq!(split_at_byte_limit("hi", 2048), ["hi"]);
        assert!(split_at_byte_limit("", 2048).is_empty());
    }
}
