//! A small element tree over quick-xml: local names (namespaces ignored: PSKC files use
//! any prefix), attributes, text. No DTD (refused), bounded depth and size.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use zeroize::Zeroizing;

/// The deepest nesting read (PSKC needs about eight levels).
const MAX_DEPTH: usize = 32;
/// The most elements read.
const MAX_ELEMENTS: usize = 200_000;

/// One element.
#[derive(Debug, Default)]
pub(super) struct Element {
    pub(super) name: String,
    pub(super) attributes: Vec<(String, String)>,
    pub(super) children: Vec<Element>,
    /// Zeroized on drop: a plain PSKC value is a secret.
    pub(super) text: Zeroizing<String>,
}

impl Element {
    /// The first child named `name`.
    pub(super) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`.
    pub(super) fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Follows a path of child names.
    pub(super) fn path(&self, names: &[&str]) -> Option<&Element> {
        names.iter().try_fold(self, |e, n| e.child(n))
    }

    /// The attribute `name`.
    pub(super) fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The text, trimmed.
    pub(super) fn text(&self) -> &str {
        self.text.trim()
    }
}

/// Parses a document into its root element.
pub(super) fn parse(input: &str) -> Result<Element, String> {
    let mut reader = Reader::from_str(input);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err("content after the root element".to_owned());
            }
            Event::Start(start) => {
                count = count.saturating_add(1);
                if stack.len() >= MAX_DEPTH || count > MAX_ELEMENTS {
                    return Err("nested too deep or too many elements".to_owned());
                }
                stack.push(element(&start)?);
            }
            Event::Empty(start) => {
                count = count.saturating_add(1);
                if count > MAX_ELEMENTS {
                    return Err("too many elements".to_owned());
                }
                let e = element(&start)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(e),
                    None => root = Some(e),
                }
            }
            Event::End(_) => {
                let e = stack.pop().ok_or("an end tag without a start")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(e),
                    None => root = Some(e),
                }
            }
            Event::Text(t) => {
                let text = t.xml10_content().map_err(|e| e.to_string())?;
                push_text(&mut stack, &text)?;
            }
            Event::CData(t) => {
                let text = t.decode().map_err(|e| e.to_string())?;
                push_text(&mut stack, &text)?;
            }
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().map_err(|e| e.to_string())? {
                    Some(c) => c,
                    None => match r.decode().map_err(|e| e.to_string())?.as_ref() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => return Err(format!("unknown entity &{other};")),
                    },
                };
                push_text(&mut stack, c.encode_utf8(&mut [0; 4]))?;
            }
            Event::DocType(_) => return Err("a DTD is not accepted".to_owned()),
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err("the document ends inside an element".to_owned());
    }
    root.ok_or_else(|| "no root element".to_owned())
}

fn push_text(stack: &mut [Element], text: &str) -> Result<(), String> {
    match stack.last_mut() {
        Some(e) => {
            e.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err("text outside the root element".to_owned()),
    }
}

fn local(name: &[u8]) -> Result<String, String> {
    std::str::from_utf8(name)
        .map(str::to_owned)
        .map_err(|_| "a name that is not UTF-8".to_owned())
}

fn element(start: &BytesStart<'_>) -> Result<Element, String> {
    let mut e = Element {
        name: local(start.local_name().as_ref())?,
        ..Element::default()
    };
    for a in start.attributes() {
        let a = a.map_err(|e| e.to_string())?;
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| e.to_string())?;
        e.attributes
            .push((local(a.key.local_name().as_ref())?, value.into_owned()));
    }
    Ok(e)
}
