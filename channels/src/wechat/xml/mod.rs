//! A small, strict XML reader and writer for WeChat's flat `<xml>…</xml>` documents.
//!
//! Reading: DTDs (and so custom entities) are rejected, only the five predefined entities and
//! character references are expanded, CDATA and plain text are both accepted (and may be mixed,
//! as in `]]]]><![CDATA[>`), the body size, nesting depth and element count are capped, and a
//! field repeated at the top level is rejected.
//! Writing: strings are CDATA-wrapped with `]]>` split; numbers are bare.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use quick_xml::escape::resolve_xml_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

/// Default cap on a push body: WeChat pushes are a few KiB (compatible mode ~3× plaintext).
pub const DEFAULT_MAX_BODY: usize = 64 * 1024;
const MAX_DEPTH: usize = 8;
const MAX_ELEMENTS: usize = 512;

/// Why an XML document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// The document is larger than allowed.
    #[error("document of {size} bytes exceeds {limit}")]
    TooLarge {
        /// Size received.
        size: usize,
        /// Limit.
        limit: usize,
    },
    /// A `<!DOCTYPE>` was present (entity expansion and XXE are never allowed).
    #[error("DTDs are not allowed")]
    Dtd,
    /// An entity other than the five predefined ones.
    #[error("unknown entity &{0};")]
    UnknownEntity(String),
    /// The root element is not `<xml>`.
    #[error("root element must be <xml>")]
    BadRoot,
    /// A top-level field appears twice.
    #[error("duplicate field <{0}>")]
    DuplicateField(String),
    /// Nesting or element count beyond the caps.
    #[error("document too deeply nested or with too many elements")]
    TooComplex,
    /// Not well-formed XML, or not UTF-8.
    #[error("malformed XML: {0}")]
    Syntax(String),
}

/// An element: its text content (CDATA and text concatenated) and child elements in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// Concatenated character data directly inside this element.
    pub text: String,
    /// Child elements, in document order.
    pub children: Vec<(String, Element)>,
}

impl Element {
    /// The first child with this name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, e)| e)
    }

    /// All children with this name.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, e)| e)
    }

    fn as_node(&self) -> Node<'_> {
        Node {
            text: Cow::Borrowed(&self.text),
            children: self
                .children
                .iter()
                .map(|(name, e)| (Cow::Borrowed(name.as_str()), e.as_node()))
                .collect(),
        }
    }
}

/// The top-level fields of a `<xml>` document, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields(pub BTreeMap<String, Element>);

impl Fields {
    /// A field's text, trimmed of surrounding whitespace, if present.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|e| e.text.trim())
    }

    /// A field's text exactly as sent (user content keeps its surrounding whitespace).
    pub fn text_untrimmed(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|e| e.text.clone())
    }

    /// A field's element.
    pub fn element(&self, name: &str) -> Option<&Element> {
        self.0.get(name)
    }

    /// All fields as `name → text` (nested elements contribute their own text only).
    pub fn to_text_map(&self) -> BTreeMap<String, String> {
        self.0
            .iter()
            .map(|(k, v)| (k.clone(), v.text.trim().to_owned()))
            .collect()
    }

    /// The same fields as a [`Document`] borrowing from them.
    pub fn as_document(&self) -> Document<'_> {
        Document {
            fields: self
                .0
                .iter()
                .map(|(name, e)| (Cow::Borrowed(name.as_str()), e.as_node()))
                .collect(),
        }
    }
}

/// An element of a [`Document`], borrowing from the parsed text where it can.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node<'a> {
    /// Concatenated character data directly inside this element.
    pub text: Cow<'a, str>,
    /// Child elements, in document order.
    pub children: Vec<(Cow<'a, str>, Node<'a>)>,
}

impl Node<'_> {
    /// The first child with this name.
    pub fn child(&self, name: &str) -> Option<&Self> {
        self.children
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, e)| e)
    }

    fn into_element(self) -> Element {
        Element {
            text: self.text.into_owned(),
            children: self
                .children
                .into_iter()
                .map(|(name, node)| (name.into_owned(), node.into_element()))
                .collect(),
        }
    }
}

/// A parsed `<xml>` document whose names and texts borrow from the input: what the webhook reads
/// on every push. Top-level fields are unique and kept in document order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document<'a> {
    fields: Vec<(Cow<'a, str>, Node<'a>)>,
}

impl<'a> Document<'a> {
    /// Parses a WeChat `<xml>` document, with the checks and caps of [`parse`].
    pub fn parse(body: &'a [u8], max_body: usize) -> Result<Self, XmlError> {
        let text = document_text(body, max_body)?;
        let fields = match flat::parse(text) {
            Some(fields) => fields,
            None => parse_root(text)?.children,
        };
        check_unique(&fields)?;
        Ok(Self { fields })
    }

    /// A top-level field's element.
    pub fn field(&self, name: &str) -> Option<&Node<'a>> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, node)| node)
    }

    /// A field's text, trimmed of surrounding whitespace, if present.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.field(name).map(|node| node.text.trim())
    }

    /// A field's text exactly as sent (user content keeps its surrounding whitespace).
    pub fn text_untrimmed(&self, name: &str) -> Option<&str> {
        self.field(name).map(|node| &*node.text)
    }

    /// All fields as `name → text` (nested elements contribute their own text only).
    pub fn to_text_map(&self) -> BTreeMap<String, String> {
        self.fields
            .iter()
            .map(|(name, node)| (name.clone().into_owned(), node.text.trim().to_owned()))
            .collect()
    }

    /// The fields, owned.
    pub fn into_fields(self) -> Fields {
        Fields(
            self.fields
                .into_iter()
                .map(|(name, node)| (name.into_owned(), node.into_element()))
                .collect(),
        )
    }
}

/// Parses a WeChat `<xml>` document into its top-level fields.
pub fn parse(body: &[u8], max_body: usize) -> Result<Fields, XmlError> {
    Document::parse(body, max_body).map(Document::into_fields)
}

/// The body as text: within the size cap, UTF-8, without a byte-order mark.
fn document_text(body: &[u8], max_body: usize) -> Result<&str, XmlError> {
    if body.len() > max_body {
        return Err(XmlError::TooLarge {
            size: body.len(),
            limit: max_body,
        });
    }
    let text = std::str::from_utf8(body).map_err(syntax)?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

fn syntax(e: impl std::fmt::Display) -> XmlError {
    XmlError::Syntax(e.to_string())
}

/// Reads the whole document and returns its `<xml>` root element.
fn parse_root(text: &str) -> Result<Node<'_>, XmlError> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;

    // Stack of open elements; the root is pushed on its start tag.
    let mut stack: Vec<(Cow<'_, str>, Node<'_>)> = Vec::with_capacity(MAX_DEPTH);
    let mut root: Option<Node<'_>> = None;
    let mut count = 0usize;
    loop {
        match reader.read_event().map_err(syntax)? {
            Event::DocType(_) => return Err(XmlError::Dtd),
            Event::Start(start) => {
                if root.is_some() {
                    return Err(XmlError::Syntax("content after the root element".into()));
                }
                count += 1;
                if stack.len() >= MAX_DEPTH || count > MAX_ELEMENTS {
                    return Err(XmlError::TooComplex);
                }
                let name = element_name(text, &start)?;
                if stack.is_empty() && name != "xml" {
                    return Err(XmlError::BadRoot);
                }
                stack.push((name, Node::default()));
            }
            Event::Empty(start) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(XmlError::TooComplex);
                }
                let name = element_name(text, &start)?;
                match stack.last_mut() {
                    Some((_, parent)) => parent.children.push((name, Node::default())),
                    None if name == "xml" && root.is_none() => root = Some(Node::default()),
                    None => return Err(XmlError::BadRoot),
                }
            }
            Event::End(_) => {
                let Some((name, element)) = stack.pop() else {
                    return Err(XmlError::Syntax("unbalanced end tag".into()));
                };
                match stack.last_mut() {
                    Some((_, parent)) => parent.children.push((name, element)),
                    None => root = Some(element),
                }
            }
            Event::Text(t) => append_text(&mut stack, t.decode().map_err(syntax)?)?,
            Event::CData(c) => append_text(&mut stack, c.decode().map_err(syntax)?)?,
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(syntax)? {
                    Some(c) => Cow::Owned(c.to_string()),
                    None => {
                        let name = r.decode().map_err(syntax)?;
                        Cow::Borrowed(
                            resolve_xml_entity(&name)
                                .ok_or_else(|| XmlError::UnknownEntity(name.to_string()))?,
                        )
                    }
                };
                append_text(&mut stack, resolved)?;
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Syntax("unexpected end of document".into()));
    }
    root.ok_or(XmlError::BadRoot)
}

mod flat;

/// An element's name, borrowed from the document text (the reader hands out slices of it).
fn element_name<'a>(text: &'a str, start: &BytesStart<'_>) -> Result<Cow<'a, str>, XmlError> {
    let name = start.name();
    let bytes = name.as_ref();
    match within(text, bytes) {
        Some(borrowed) => Ok(Cow::Borrowed(borrowed)),
        None => String::from_utf8(bytes.to_vec())
            .map(Cow::Owned)
            .map_err(syntax),
    }
}

/// The part of `text` that `bytes` is, when `bytes` lies within it on character boundaries.
fn within<'a>(text: &'a str, bytes: &[u8]) -> Option<&'a str> {
    let offset = bytes.as_ptr().addr().checked_sub(text.as_ptr().addr())?;
    text.get(offset..offset.checked_add(bytes.len())?)
        .filter(|part| part.as_bytes() == bytes)
}

/// Adds character data to the innermost open element. The root's own text (the whitespace
/// between fields) is never read, so it is not kept.
fn append_text<'a>(
    stack: &mut [(Cow<'a, str>, Node<'a>)],
    s: Cow<'a, str>,
) -> Result<(), XmlError> {
    match stack {
        [] if s.trim().is_empty() => Ok(()),
        [] => Err(XmlError::Syntax("text outside the root element".into())),
        [_root] => Ok(()),
        [.., (_, element)] => {
            if element.text.is_empty() {
                element.text = s;
            } else {
                element.text.to_mut().push_str(&s);
            }
            Ok(())
        }
    }
}

/// Fields this many or fewer are checked for repeats pairwise; more, through a set.
const PAIRWISE_LIMIT: usize = 16;

/// Refuses a document whose top level repeats a field, naming the first repeat in document
/// order.
fn check_unique(fields: &[(Cow<'_, str>, Node<'_>)]) -> Result<(), XmlError> {
    let repeated = if fields.len() <= PAIRWISE_LIMIT {
        fields
            .iter()
            .enumerate()
            .find(|(i, (name, _))| fields[..*i].iter().any(|(earlier, _)| earlier == name))
            .map(|(_, (name, _))| name)
    } else {
        let mut seen = BTreeSet::new();
        fields
            .iter()
            .map(|(name, _)| name)
            .find(|name| !seen.insert(&***name))
    };
    match repeated {
        Some(name) => Err(XmlError::DuplicateField(name.to_string())),
        None => Ok(()),
    }
}

/// Builds a flat `<xml>` document field by field.
#[derive(Debug, Default)]
pub struct XmlWriter {
    out: String,
}

impl XmlWriter {
    /// Starts a document.
    pub fn new() -> Self {
        Self {
            out: String::from("<xml>"),
        }
    }

    /// Adds `<name><![CDATA[value]]></name>`, splitting any `]]>` in `value`.
    pub fn cdata(mut self, name: &str, value: &str) -> Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push_str("><![CDATA[");
        self.out.push_str(&value.replace("]]>", "]]]]><![CDATA[>"));
        self.out.push_str("]]></");
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// Adds `<name>value</name>` for a number.
    pub fn number(mut self, name: &str, value: u64) -> Self {
        self.out.push_str(&format!("<{name}>{value}</{name}>"));
        self
    }

    /// Closes the document.
    pub fn finish(mut self) -> String {
        self.out.push_str("</xml>");
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Documents of the shape the flat reader takes (the spec's vectors among them).
    const FLAT: &[&str] = &[
        "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>\n<CreateTime>1409735668</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[abcdteT]]></Content>\n<MsgId>6054768590064713728</MsgId>\n</xml>",
        "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><Encrypt><![CDATA[hyzAe4Oz+PE=]]></Encrypt></xml>",
        "<xml><Content><![CDATA[你好😀]]></Content></xml>",
        "<xml><a>12345678</a></xml>",
        "  \r\n<xml>\n\t<Content><![CDATA[a]]]]><![CDATA[>b]]> x <![CDATA[]]></Content>\n</xml>\n",
        "<xml><Content>  spaced  </Content><Empty></Empty><xml>inner</xml></xml>",
        "<xml></xml>",
        "<xml><a>1</a><a>2</a></xml>",
    ];

    /// What the general parser makes of `text`: its top-level fields.
    fn general(text: &str) -> Result<Vec<(Cow<'_, str>, Node<'_>)>, XmlError> {
        parse_root(text).map(|root| root.children)
    }

    #[test]
    fn the_flat_reader_reads_the_usual_shapes_as_the_general_parser_does() {
        for text in FLAT {
            let flat = flat::parse(text).unwrap_or_else(|| panic!("not read flat: {text}"));
            assert_eq!(Ok(flat), general(text), "{text}");
        }
    }

    #[test]
    fn the_flat_reader_leaves_every_other_shape_to_the_general_parser() {
        for text in [
            "<?xml version=\"1.0\"?><xml><a>1</a></xml>",
            "<!DOCTYPE xml [<!ENTITY x \"hi\">]><xml><a>&x;</a></xml>",
            "<xml><a>&amp;</a></xml>",
            "<xml><a>1 > 0</a></xml>",
            "<xml><a x=\"1\">1</a></xml>",
            "<xml><a/></xml>",
            "<xml><ScanCodeInfo><ScanResult>1</ScanResult></ScanCodeInfo></xml>",
            "<xml><!-- c --><a>1</a></xml>",
            "<xml>text<a>1</a></xml>",
            "<xml><a>1</b></xml>",
            "<xml><a>1</a >",
            "<xml><a>1</a></xml>trailing",
            "<xml><a>1</a></xml><xml></xml>",
            "<xml><a><![CDATA[open</a></xml>",
            "<notxml><a>1</a></notxml>",
            "<xml><1a>1</1a></xml>",
            "<xml><a>1</a>",
        ] {
            assert_eq!(flat::parse(text), None, "{text}");
        }
    }

    #[test]
    fn the_flat_reader_leaves_documents_over_the_element_cap_to_the_general_parser() {
        let fields = |n: usize| {
            (0..n)
                .map(|i| format!("<f{i}>1</f{i}>"))
                .collect::<String>()
        };
        let at_cap = format!("<xml>{}</xml>", fields(MAX_ELEMENTS - 1));
        assert_eq!(
            flat::parse(&at_cap).map(|f| f.len()),
            Some(MAX_ELEMENTS - 1)
        );
        let over = format!("<xml>{}</xml>", fields(MAX_ELEMENTS));
        assert_eq!(flat::parse(&over), None);
        assert_eq!(
            Document::parse(over.as_bytes(), DEFAULT_MAX_BODY),
            Err(XmlError::TooComplex)
        );
    }

    /// A small deterministic generator (xorshift), so that the mutations are the same each run.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            usize::try_from(self.0 % n as u64).unwrap()
        }
    }

    /// `text` with one random edit: a piece of XML syntax inserted, a range removed, or a
    /// character replaced.
    fn mutate(text: &str, rng: &mut Rng) -> String {
        const PIECES: &[&str] = &[
            "<",
            ">",
            "/",
            "</",
            "<a>",
            "</a>",
            "<![CDATA[",
            "]]>",
            "&",
            "&amp;",
            " ",
            "\n",
            "x",
            "xml",
            "<xml>",
            "</xml>",
            "<!--",
            "-->",
            "<?",
            "?>",
            "=\"1\"",
            "é",
            "\u{feff}",
        ];
        let boundaries: Vec<usize> = (0..=text.len())
            .filter(|&i| text.is_char_boundary(i))
            .collect();
        let i = rng.below(boundaries.len());
        let at = boundaries[i];
        let to = boundaries[(i + 1 + rng.below(12)).min(boundaries.len() - 1)];
        let next = boundaries[(i + 1).min(boundaries.len() - 1)];
        let mut out = text.to_owned();
        match rng.below(3) {
            0 => out.insert_str(at, PIECES[rng.below(PIECES.len())]),
            1 => out.replace_range(at..to, ""),
            _ => out.replace_range(at..next, PIECES[rng.below(PIECES.len())]),
        }
        out
    }

    #[test]
    fn whatever_the_flat_reader_accepts_the_general_parser_reads_the_same() {
        let mut rng = Rng(0x5eed_1234_abcd_ef01);
        let mut read_flat = 0;
        for round in 0..20_000 {
            let mut text = FLAT[round % FLAT.len()].to_owned();
            for _ in 0..=rng.below(3) {
                text = mutate(&text, &mut rng);
            }
            if let Some(flat) = flat::parse(&text) {
                read_flat += 1;
                assert_eq!(Ok(flat), general(&text), "{text:?}");
            }
        }
        assert!(read_flat > 500, "only {read_flat} mutants read flat");
    }
}
