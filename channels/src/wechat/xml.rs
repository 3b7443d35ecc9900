//! A small, strict XML reader and writer for WeChat's flat `<xml>…</xml>` documents.
//!
//! Reading: DTDs (and so custom entities) are rejected, only the five predefined entities and
//! character references are expanded, CDATA and plain text are both accepted (and may be mixed,
//! as in `]]]]><![CDATA[>`), the body size, nesting depth and element count are capped, and a
//! field repeated at the top level is rejected.
//! Writing: strings are CDATA-wrapped with `]]>` split; numbers are bare.

use std::collections::BTreeMap;

use quick_xml::escape::resolve_xml_entity;
use quick_xml::events::Event;
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
}

/// Parses a WeChat `<xml>` document into its top-level fields.
pub fn parse(body: &[u8], max_body: usize) -> Result<Fields, XmlError> {
    if body.len() > max_body {
        return Err(XmlError::TooLarge {
            size: body.len(),
            limit: max_body,
        });
    }
    let text = std::str::from_utf8(body).map_err(|e| XmlError::Syntax(e.to_string()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;

    // Stack of open elements; the root is pushed on its start tag.
    let mut stack: Vec<(String, Element)> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| XmlError::Syntax(e.to_string()))?;
        match event {
            Event::DocType(_) => return Err(XmlError::Dtd),
            Event::Start(start) => {
                if root.is_some() {
                    return Err(XmlError::Syntax("content after the root element".into()));
                }
                count += 1;
                if stack.len() >= MAX_DEPTH || count > MAX_ELEMENTS {
                    return Err(XmlError::TooComplex);
                }
                let name = String::from_utf8(start.name().as_ref().to_vec())
                    .map_err(|e| XmlError::Syntax(e.to_string()))?;
                if stack.is_empty() && name != "xml" {
                    return Err(XmlError::BadRoot);
                }
                stack.push((name, Element::default()));
            }
            Event::Empty(start) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(XmlError::TooComplex);
                }
                let name = String::from_utf8(start.name().as_ref().to_vec())
                    .map_err(|e| XmlError::Syntax(e.to_string()))?;
                match stack.last_mut() {
                    Some((_, parent)) => parent.children.push((name, Element::default())),
                    None if name == "xml" && root.is_none() => root = Some(Element::default()),
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
            Event::Text(t) => {
                let s = t.decode().map_err(|e| XmlError::Syntax(e.to_string()))?;
                append_text(&mut stack, &s)?;
            }
            Event::CData(c) => {
                let s = c.decode().map_err(|e| XmlError::Syntax(e.to_string()))?;
                append_text(&mut stack, &s)?;
            }
            Event::GeneralRef(r) => {
                let resolved = match r
                    .resolve_char_ref()
                    .map_err(|e| XmlError::Syntax(e.to_string()))?
                {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(|e| XmlError::Syntax(e.to_string()))?;
                        resolve_xml_entity(&name)
                            .ok_or_else(|| XmlError::UnknownEntity(name.to_string()))?
                            .to_owned()
                    }
                };
                append_text(&mut stack, &resolved)?;
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Syntax("unexpected end of document".into()));
    }
    let root = root.ok_or(XmlError::BadRoot)?;
    let mut fields = BTreeMap::new();
    for (name, element) in root.children {
        if fields.contains_key(&name) {
            return Err(XmlError::DuplicateField(name));
        }
        fields.insert(name, element);
    }
    Ok(Fields(fields))
}

fn append_text(stack: &mut [(String, Element)], s: &str) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some((_, e)) => {
            e.text.push_str(s);
            Ok(())
        }
        None if s.trim().is_empty() => Ok(()),
        None => Err(XmlError::Syntax("text outside the root element".into())),
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
