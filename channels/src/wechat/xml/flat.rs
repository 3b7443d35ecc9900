//! The shape of nearly every WeChat push, read without the general parser:
//! `<xml>`, then only fields `<Name>…</Name>` whose content is CDATA sections and text without
//! `&`, `<` or `>`, separated by ASCII whitespace, then `</xml>`. Anything else (a declaration,
//! comments, nested or empty elements, attributes, entities, too many fields, any error) is left
//! to `super::parse_root`, which accepts or refuses it; for every document read here, it would have
//! returned the same fields.

use std::borrow::Cow;

use super::{MAX_ELEMENTS, Node};

type Field<'a> = (Cow<'a, str>, Node<'a>);

const CDATA_START: &str = "<![CDATA[";
const CDATA_END: &str = "]]>";

/// The top-level fields in document order, or `None` when the document has another shape.
pub(super) fn parse(text: &str) -> Option<Vec<Field<'_>>> {
    let mut rest = text.trim_start_matches(is_space).strip_prefix("<xml>")?;
    let mut fields = Vec::with_capacity(8);
    loop {
        rest = rest.trim_start_matches(is_space);
        if let Some(after) = rest.strip_prefix("</xml>") {
            return after
                .trim_start_matches(is_space)
                .is_empty()
                .then_some(fields);
        }
        // The root counts as an element too.
        if fields.len() + 2 > MAX_ELEMENTS {
            return None;
        }
        let (name, after) = start_tag(rest)?;
        let (text, after) = content(after, name)?;
        fields.push((
            Cow::Borrowed(name),
            Node {
                text,
                children: Vec::new(),
            },
        ));
        rest = after;
    }
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// `<Name>` at the start of `s`: the name and what follows the tag.
fn start_tag(s: &str) -> Option<(&str, &str)> {
    let (name, after) = s.strip_prefix('<')?.split_once('>')?;
    is_plain_name(name).then_some((name, after))
}

fn is_plain_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The content of element `name` up to its end tag: the text and what follows `</name>`.
fn content<'a>(mut s: &'a str, name: &str) -> Option<(Cow<'a, str>, &'a str)> {
    let mut text = Cow::Borrowed("");
    loop {
        if let Some(after) = s.strip_prefix(CDATA_START) {
            let (data, after) = split_at_cdata_end(after)?;
            append(&mut text, data);
            s = after;
        } else if let Some(after) = s.strip_prefix("</") {
            let after = after.strip_prefix(name)?.strip_prefix('>')?;
            return Some((text, after));
        } else {
            let end = s.find('<').filter(|&end| end > 0)?;
            let (chars, after) = s.split_at(end);
            if chars.bytes().any(|b| b == b'&' || b == b'>') {
                return None;
            }
            append(&mut text, chars);
            s = after;
        }
    }
}

/// The CDATA content before the first `]]>`, and what follows it. (Searching for `]`, which
/// base64 never contains, is much quicker than a substring search.)
fn split_at_cdata_end(s: &str) -> Option<(&str, &str)> {
    let mut from = 0;
    loop {
        let at = from + s[from..].find(']')?;
        if let Some(after) = s[at..].strip_prefix(CDATA_END) {
            return Some((&s[..at], after));
        }
        from = at + 1;
    }
}

fn append<'a>(text: &mut Cow<'a, str>, piece: &'a str) {
    if text.is_empty() {
        *text = Cow::Borrowed(piece);
    } else {
        text.to_mut().push_str(piece);
    }
}
