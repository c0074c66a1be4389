//! Reading configuration XML into a checked [`Node`] tree, and writing a tree back out.
//!
//! Reading validates against the [schema](super::schema) as it goes and collects every problem
//! (unknown element, wrong namespace, misplaced text, list entry without key, duplicate key)
//! with its element path and line, so an operator sees them all at once. Documents with a DTD
//! are refused outright: no entity is ever expanded (no XXE, no "billion laughs").

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use super::schema::{self, Field, Kind};
use super::tree::{Node, Op, Problem, Problems};

/// Largest accepted document.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// Deepest nesting accepted: the schema is about a dozen levels deep, and bounding it keeps a
/// hostile document from costing memory per level.
const MAX_DEPTH: usize = 32;

/// Which root element a document has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    /// `<config xmlns="http://tail-f.com/ns/config/1.0">` (uploads, files).
    Config,
    /// `<data xmlns="urn:ietf:params:xml:ns:yang:ietf-restconf">` (RESTCONF bodies).
    Data,
}

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// Over [`MAX_DOCUMENT_BYTES`].
    #[error("the document is larger than {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge,
    /// Not UTF-8.
    #[error("the document is not valid UTF-8")]
    NotUtf8,
    /// Malformed, forbidden or outside the supported subset.
    #[error("{0}")]
    Invalid(Problems),
}

/// What a reading collects besides the tree.
struct Reading {
    problems: Vec<Problem>,
    /// Keep unknown elements, marked foreign (import), rather than refuse them (upload).
    lenient: bool,
}

struct Frame {
    node: Node,
    path: String,
    ns: String,
    /// The schema of this element; `None` while skipping an unknown subtree.
    field: Option<&'static Field>,
    /// Keys already seen per list name among this element's children.
    seen_keys: Vec<(String, String)>,
}

/// Reads a document from bytes (checks size and encoding first).
pub fn read_bytes(bytes: &[u8]) -> Result<(Root, Node), ReadError> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(ReadError::TooLarge);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| ReadError::NotUtf8)?;
    read(text)
}

/// Reads and checks a document of any size (stored versions; uploads go through
/// [`read_bytes`], which enforces the upload limit).
pub fn read(text: &str) -> Result<(Root, Node), ReadError> {
    read_document(text, false)
}

/// Reads a document as an import does: elements outside the supported subset are kept whole,
/// marked [`Node::foreign`], with their lines (for the migration report), not refused.
/// Everything else is checked as strictly as [`read_bytes`] checks.
pub fn read_lenient(bytes: &[u8]) -> Result<(Root, Node), ReadError> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(ReadError::TooLarge);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| ReadError::NotUtf8)?;
    read_document(text, true)
}

fn read_document(text: &str, lenient: bool) -> Result<(Root, Node), ReadError> {
    let mut reading = Reading {
        problems: Vec::new(),
        lenient,
    };
    let mut reader = NsReader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut lines = LineCounter::new(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<(Root, Node)> = None;

    loop {
        let line = lines.line_at(reader.buffer_position() as usize);
        let event = reader.read_resolved_event();
        let (ns, event) = match event {
            Ok((ns, event)) => (ns_of(&ns), event),
            Err(e) => {
                reading.problems.push(Problem::new(
                    current_path(&stack),
                    line,
                    format!("malformed XML: {e}"),
                ));
                break;
            }
        };
        match event {
            Event::DocType(_) => {
                reading.problems.push(Problem::new(
                    "/",
                    line,
                    "document type declarations (DTDs) and entities are not allowed",
                ));
                break;
            }
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                reading
                    .problems
                    .push(Problem::new("/", line, "content after the root element"));
                break;
            }
            Event::Start(_) if stack.len() >= MAX_DEPTH => {
                reading.problems.push(Problem::new(
                    current_path(&stack),
                    line,
                    format!("elements are nested more than {MAX_DEPTH} levels deep"),
                ));
                break;
            }
            Event::Start(e) => {
                let frame = open(&reader, &ns, &e, line, &mut stack, &mut reading);
                match frame {
                    Some(frame) => stack.push(frame),
                    None => break,
                }
            }
            Event::Empty(e) => {
                let Some(frame) = open(&reader, &ns, &e, line, &mut stack, &mut reading) else {
                    break;
                };
                if let Some(done) = close(frame, &mut stack, &mut reading) {
                    root = Some(done);
                }
            }
            Event::End(_) => {
                let Some(frame) = stack.pop() else { break };
                if let Some(done) = close(frame, &mut stack, &mut reading) {
                    root = Some(done);
                }
            }
            Event::Text(t) => {
                let value = match t.unescape() {
                    Ok(v) => v.into_owned(),
                    Err(e) => {
                        reading.problems.push(Problem::new(
                            current_path(&stack),
                            line,
                            format!(
                                "invalid text ({e}); only the predefined XML entities are allowed"
                            ),
                        ));
                        continue;
                    }
                };
                add_text(&mut stack, value, line, &mut reading.problems);
            }
            Event::CData(t) => {
                let value = String::from_utf8_lossy(&t.into_inner()).into_owned();
                add_text(&mut stack, value, line, &mut reading.problems);
            }
            Event::Eof => {
                if !stack.is_empty() {
                    reading.problems.push(Problem::new(
                        current_path(&stack),
                        line,
                        "unexpected end of document",
                    ));
                }
                break;
            }
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
        }
    }
    let mut problems = reading.problems;
    match root {
        Some(root) if problems.is_empty() => Ok(root),
        Some(_) => Err(ReadError::Invalid(Problems(problems))),
        None => {
            if problems.is_empty() {
                problems.push(Problem::new("/", 0, "the document has no root element"));
            }
            Err(ReadError::Invalid(Problems(problems)))
        }
    }
}

fn current_path(stack: &[Frame]) -> String {
    stack
        .last()
        .map(|f| f.path.clone())
        .unwrap_or_else(|| "/".into())
}

fn ns_of(ns: &ResolveResult) -> String {
    match ns {
        ResolveResult::Bound(ns) => String::from_utf8_lossy(ns.as_ref()).into_owned(),
        _ => String::new(),
    }
}

/// Starts an element: checks it against its parent's schema. `None` stops reading (bad root).
fn open(
    reader: &NsReader<&[u8]>,
    ns: &str,
    e: &BytesStart,
    line: u32,
    stack: &mut [Frame],
    reading: &mut Reading,
) -> Option<Frame> {
    let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
    let ns = ns.to_owned();
    let mut op = None;
    for attr in e.attributes() {
        let Ok(attr) = attr else {
            reading.problems.push(Problem::new(
                format!("/{name}"),
                line,
                "malformed attribute",
            ));
            continue;
        };
        let key = attr.key;
        if key.as_ref() == b"xmlns" || key.as_ref().starts_with(b"xmlns:") {
            continue;
        }
        let (attr_ns, local) = reader.resolve_attribute(key);
        let value = String::from_utf8_lossy(&attr.value).into_owned();
        if local.as_ref() == b"operation" && ns_of(&attr_ns) == schema::NS_NETCONF {
            match Op::parse(&value) {
                Some(parsed) => op = Some(parsed),
                None => reading.problems.push(Problem::new(
                    format!("/{name}"),
                    line,
                    format!(
                        "unknown operation {value:?} (merge, replace, create, delete or remove)"
                    ),
                )),
            }
        } else {
            reading.problems.push(Problem::new(
                format!("/{name}"),
                line,
                format!(
                    "unsupported attribute {:?}",
                    String::from_utf8_lossy(key.as_ref())
                ),
            ));
        }
    }
    let node = Node {
        name: name.clone(),
        line,
        op,
        text: None,
        children: Vec::new(),
        foreign: None,
    };
    let Some(parent) = stack.last_mut() else {
        let ok = (name == "config" && ns == schema::NS_CONFIG)
            || (name == "data" && ns == schema::NS_RESTCONF);
        if !ok {
            reading.problems.push(Problem::new(
                format!("/{name}"),
                line,
                format!(
                    "the root must be <config xmlns=\"{}\"> or <data xmlns=\"{}\">",
                    schema::NS_CONFIG,
                    schema::NS_RESTCONF
                ),
            ));
            return None;
        }
        return Some(Frame {
            node,
            path: String::new(),
            ns,
            field: None,
            seen_keys: Vec::new(),
        });
    };
    let path = format!("{}/{}", parent.path, name);
    let skip = |stack_ns: String| Frame {
        node: Node {
            line,
            ..Node::new(&name)
        },
        path: path.clone(),
        ns: stack_ns,
        field: None,
        seen_keys: Vec::new(),
    };
    let is_root = parent.path.is_empty();
    if parent.field.is_none() && !is_root {
        return Some(skip(ns)); // inside an unknown or rejected element
    }
    let children: &'static [Field] = match parent.field.map(|f| &f.kind) {
        None => schema::ROOT,
        Some(Kind::Container(fields)) | Some(Kind::List { fields, .. }) => fields,
        Some(Kind::Leaf) if REFERENCES.contains(&parent.node.name.as_str()) && name == "id" => {
            // The container shape of a reference: <account-manager><id>x</id></account-manager>.
            return Some(Frame {
                node,
                path,
                ns,
                field: Some(&ID_IN_REFERENCE),
                seen_keys: Vec::new(),
            });
        }
        Some(_) => {
            reading.problems.push(Problem::new(
                &parent.path,
                line,
                format!(
                    "<{}> holds a value and cannot contain <{name}>",
                    parent.node.name
                ),
            ));
            parent.field = None;
            return Some(skip(ns));
        }
    };
    let Some(field) = schema::find(children, &name) else {
        let where_ = if is_root {
            "the root".to_owned()
        } else {
            format!("<{}>", parent.node.name)
        };
        if !reading.lenient {
            reading.problems.push(Problem::new(
                &path,
                line,
                format!("unknown or unsupported element <{name}> in {where_}"),
            ));
        }
        return Some(skip(ns));
    };
    let expected = field
        .ns
        .map(str::to_owned)
        .unwrap_or_else(|| parent.ns.clone());
    if !is_root && ns != expected || is_root && field.ns.is_some_and(|n| n != ns) {
        reading.problems.push(Problem::new(
            &path,
            line,
            format!(
                "<{name}> must be in namespace {:?}, found {ns:?}",
                field.ns.unwrap_or(&expected)
            ),
        ));
    }
    Some(Frame {
        node,
        path,
        ns,
        field: Some(field),
        seen_keys: Vec::new(),
    })
}

/// References Curity also writes as a container holding the referenced `<id>`.
const REFERENCES: &[&str] = &["account-manager", "email-provider", "credential-manager"];

static ID_IN_REFERENCE: Field = Field {
    name: "id",
    ns: None,
    kind: Kind::Leaf,
};

fn add_text(stack: &mut [Frame], value: String, line: u32, problems: &mut Vec<Problem>) {
    let value = value.trim();
    if value.is_empty() {
        return;
    }
    let Some(frame) = stack.last_mut() else {
        problems.push(Problem::new("/", line, "text outside the root element"));
        return;
    };
    // XML 1.0 forbids most control characters; PostgreSQL text forbids NUL.
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        problems.push(Problem::new(
            &frame.path,
            line,
            "control characters are not allowed",
        ));
        return;
    }
    match frame.field.map(|f| &f.kind) {
        Some(Kind::Leaf) | Some(Kind::LeafList) => {
            let text = frame.node.text.get_or_insert_with(String::new);
            text.push_str(value);
        }
        None if frame.path.is_empty() => {
            problems.push(Problem::new(
                "/",
                line,
                "unexpected text in the root element",
            ));
        }
        // Inside an element set aside: kept for the migration report.
        None => frame
            .node
            .text
            .get_or_insert_with(String::new)
            .push_str(value),
        Some(_) => problems.push(Problem::new(
            &frame.path,
            line,
            format!("<{}> cannot hold text", frame.node.name),
        )),
    }
}

/// Ends an element: final checks, then attaches it to its parent. Returns the root when done.
fn close(frame: Frame, stack: &mut [Frame], reading: &mut Reading) -> Option<(Root, Node)> {
    let Frame {
        mut node,
        path,
        ns,
        field,
        ..
    } = frame;
    let Some(parent) = stack.last_mut() else {
        let root = if ns == schema::NS_RESTCONF {
            Root::Data
        } else {
            Root::Config
        };
        return Some((root, node));
    };
    let Some(field) = field else {
        // An element outside the subset: refused already, or (lenient) set aside whole.
        if reading.lenient {
            node.foreign = Some(ns);
            parent.node.children.push(node);
        }
        return None;
    };
    match &field.kind {
        Kind::List { key, .. } => {
            let key_text = node.child_text(key).map(str::to_owned);
            match key_text {
                None => reading.problems.push(Problem::new(
                    &path,
                    node.line,
                    format!("<{}> entry has no <{key}>", node.name),
                )),
                Some(k) => {
                    if parent
                        .seen_keys
                        .iter()
                        .any(|(n, v)| *n == node.name && *v == k)
                    {
                        reading.problems.push(Problem::new(
                            format!("{path}[{k}]"),
                            node.line,
                            format!("duplicate <{}> with {key} {k:?}", node.name),
                        ));
                    }
                    parent.seen_keys.push((node.name.clone(), k));
                }
            }
        }
        Kind::Leaf => {
            // The container shape of a reference collapses into the leaf.
            if let Some(id) = node.children.iter().find(|c| c.name == "id") {
                node.text = id.text.clone();
            }
            node.children.clear();
            if node.text.is_none() {
                node.text = Some(String::new());
            }
        }
        Kind::LeafList => {
            if node.text.is_none() && node.op.is_none() {
                return None; // an empty leaf-list element: no value
            }
        }
        Kind::Flag | Kind::Container(_) => {}
    }
    // One value per leaf, flag or container: a second copy would silently win in a merge
    // (and a second <id> would rename a list entry).
    if !matches!(field.kind, Kind::List { .. } | Kind::LeafList)
        && parent.node.children.iter().any(|c| c.name == node.name)
    {
        reading.problems.push(Problem::new(
            &path,
            node.line,
            format!("<{}> appears more than once", node.name),
        ));
        return None;
    }
    if let Kind::List { key, .. } = &field.kind
        && node
            .children
            .iter()
            .any(|c| c.name == *key && c.op.is_some())
    {
        reading.problems.push(Problem::new(
            format!("{path}/{key}"),
            node.line,
            format!(
                "the key <{key}> cannot carry an operation; put it on <{}>",
                node.name
            ),
        ));
    }
    parent.node.children.push(node);
    None
}

/// Maps byte offsets to line numbers, scanning forward only.
struct LineCounter<'a> {
    text: &'a [u8],
    pos: usize,
    line: u32,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        LineCounter {
            text: text.as_bytes(),
            pos: 0,
            line: 1,
        }
    }

    fn line_at(&mut self, offset: usize) -> u32 {
        let offset = offset.min(self.text.len());
        if offset > self.pos {
            self.line += self.text[self.pos..offset]
                .iter()
                .filter(|b| **b == b'\n')
                .count() as u32;
            self.pos = offset;
        }
        // The event starts after any whitespace that follows the previous one.
        let mut line = self.line;
        for b in &self.text[self.pos..] {
            match b {
                b'\n' => line += 1,
                b' ' | b'\t' | b'\r' => {}
                _ => break,
            }
        }
        line
    }
}

/// Writes a tree as a document with the given root, declaring namespaces where they change.
pub fn write(root: &Node, kind: Root) -> String {
    let (name, ns) = match kind {
        Root::Config => ("config", schema::NS_CONFIG),
        Root::Data => ("data", schema::NS_RESTCONF),
    };
    let mut out = String::with_capacity(4096);
    out.push_str(&format!("<{name} xmlns=\"{ns}\">\n"));
    for child in &root.children {
        if let Some(field) = schema::find(schema::ROOT, &child.name) {
            write_node(&mut out, child, field, ns, 1);
        }
    }
    out.push_str(&format!("</{name}>\n"));
    out
}

fn write_node(out: &mut String, node: &Node, field: &Field, parent_ns: &str, depth: usize) {
    let indent = "  ".repeat(depth);
    let ns = field.ns.unwrap_or(parent_ns);
    let xmlns = if ns != parent_ns {
        format!(" xmlns=\"{ns}\"")
    } else {
        String::new()
    };
    let name = &node.name;
    match &field.kind {
        Kind::Flag => out.push_str(&format!("{indent}<{name}{xmlns}/>\n")),
        Kind::Leaf | Kind::LeafList => {
            let text = node.text.as_deref().unwrap_or_default();
            if name == "type" {
                let (prefix, prefix_ns) = if text == "oauth-service" {
                    ("as", schema::NS_OAUTH)
                } else {
                    ("auth", schema::NS_AUTH)
                };
                out.push_str(&format!(
                    "{indent}<type xmlns:{prefix}=\"{prefix_ns}\">{prefix}:{}</type>\n",
                    escape(text)
                ));
            } else if name == "account-manager" && ns == schema::NS_PASSKEYS {
                out.push_str(&format!(
                    "{indent}<account-manager><id>{}</id></account-manager>\n",
                    escape(text)
                ));
            } else {
                out.push_str(&format!(
                    "{indent}<{name}{xmlns}>{}</{name}>\n",
                    escape(text)
                ));
            }
        }
        Kind::Container(fields) | Kind::List { fields, .. } => {
            out.push_str(&format!("{indent}<{name}{xmlns}>\n"));
            for child in &node.children {
                if let Some(child_field) = schema::find(fields, &child.name) {
                    write_node(out, child, child_field, ns, depth + 1);
                }
            }
            out.push_str(&format!("{indent}</{name}>\n"));
        }
    }
}

fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}
