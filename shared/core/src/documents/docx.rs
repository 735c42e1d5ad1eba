//! `.docx` templates: finding their `{Placeholder}`s and filling them in,
//! keeping the template's formatting.
//!
//! Word splits a paragraph's text into runs (`<w:r>`, each with its own
//! formatting) and often splits a typed `{Placeholder}` over several of them
//! (spell-check marks, an edit in the middle). Placeholders are therefore
//! found in the text of the whole paragraph (the `<w:t>` texts of its runs,
//! joined); a value goes into the text node where its placeholder starts —
//! so it takes the formatting of the first run — and the rest of the
//! placeholder is removed from the runs it spanned, which stay otherwise
//! untouched. Every other byte of the package is kept as it was.

use std::io::{Cursor, Read, Write as _};

use quick_xml::events::{BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer};

use super::placeholders::scan;

/// Largest template accepted.
pub const MAX_DOCX_BYTES: usize = 2 * 1024 * 1024;
/// Most bytes a template may unpack to (a zip bomb is refused).
pub const MAX_UNPACKED_BYTES: u64 = 32 * 1024 * 1024;
/// Most files in a template's package.
const MAX_ENTRIES: usize = 2000;

/// A file that cannot be read as a `.docx`.
#[derive(Debug, thiserror::Error)]
#[error("not a .docx file: {0}")]
pub struct DocxError(pub String);

fn bad(what: impl std::fmt::Display) -> DocxError {
    DocxError(what.to_string())
}

/// The parts of the package whose text may hold placeholders.
fn is_text_part(name: &str) -> bool {
    name == "word/document.xml"
        || ((name.starts_with("word/header")
            || name.starts_with("word/footer")
            || name == "word/footnotes.xml"
            || name == "word/endnotes.xml")
            && name.ends_with(".xml"))
}

/// The package's files, in order, unpacked (bounded).
fn read_parts(docx: &[u8]) -> Result<Vec<(String, Vec<u8>)>, DocxError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(docx)).map_err(bad)?;
    if zip.len() > MAX_ENTRIES {
        return Err(bad(format!("more than {MAX_ENTRIES} files in the package")));
    }
    let mut parts = Vec::with_capacity(zip.len());
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let file = zip.by_index(i).map_err(bad)?;
        if file.is_dir() {
            continue;
        }
        let name = file.name().map_err(bad)?.to_string();
        let mut data = Vec::new();
        let budget = MAX_UNPACKED_BYTES - total;
        file.take(budget + 1).read_to_end(&mut data).map_err(bad)?;
        total += data.len() as u64;
        if total > MAX_UNPACKED_BYTES {
            return Err(bad(format!(
                "it unpacks to more than {} MiB",
                MAX_UNPACKED_BYTES >> 20
            )));
        }
        parts.push((name, data));
    }
    if !parts.iter().any(|(n, _)| n == "word/document.xml") {
        return Err(bad("the package has no word/document.xml"));
    }
    Ok(parts)
}

fn write_parts(parts: &[(String, Vec<u8>)]) -> Result<Vec<u8>, DocxError> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in parts {
        w.start_file(name.as_str(), opts).map_err(bad)?;
        w.write_all(data).map_err(bad)?;
    }
    Ok(w.finish().map_err(bad)?.into_inner())
}

fn events(xml: &[u8]) -> Result<Vec<Event<'static>>, DocxError> {
    let mut reader = Reader::from_reader(xml);
    let mut out = Vec::new();
    loop {
        match reader.read_event().map_err(bad)? {
            Event::Eof => return Ok(out),
            e => out.push(e.into_owned()),
        }
    }
}

/// One `<w:t>` element: where it starts in the event list, where its
/// content ends (the index of its end tag), the paragraph it belongs to and
/// its text.
struct TextNode {
    start: usize,
    end: usize,
    paragraph: usize,
    text: String,
}

fn is(e: &BytesStart<'_>, name: &str) -> bool {
    e.name().as_ref() == name
}

/// The `<w:t>` nodes of a part, each with its paragraph.
fn text_nodes(events: &[Event<'static>]) -> Result<Vec<TextNode>, DocxError> {
    let mut nodes = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    let mut paragraphs = 0;
    let mut i = 0;
    while i < events.len() {
        match &events[i] {
            Event::Start(e) if is(e, "w:p") => {
                paragraphs += 1;
                stack.push(paragraphs);
            }
            Event::End(e) if e.name().as_ref() == "w:p" => {
                stack.pop();
            }
            Event::Start(e) if is(e, "w:t") => {
                let mut raw = String::new();
                let mut j = i + 1;
                while j < events.len() {
                    match &events[j] {
                        Event::End(e) if e.name().as_ref() == "w:t" => break,
                        Event::Text(t) => raw.push_str(t),
                        Event::GeneralRef(r) => {
                            raw.push('&');
                            raw.push_str(r);
                            raw.push(';');
                        }
                        Event::CData(c) => raw.push_str(&quick_xml::escape::escape(&**c)),
                        _ => {}
                    }
                    j += 1;
                }
                let text = quick_xml::escape::unescape(&raw).map_err(bad)?.into_owned();
                nodes.push(TextNode {
                    start: i,
                    end: j,
                    paragraph: stack.last().copied().unwrap_or(0),
                    text,
                });
                i = j;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(nodes)
}

/// The nodes of each paragraph (consecutive in document order).
fn by_paragraph(nodes: &[TextNode]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut s = 0;
    for i in 1..=nodes.len() {
        if i == nodes.len() || nodes[i].paragraph != nodes[s].paragraph {
            if s < i {
                out.push(s..i);
            }
            s = i;
        }
    }
    out
}

/// The placeholders of a template, each once, in document order.
pub fn placeholders(docx: &[u8]) -> Result<Vec<String>, DocxError> {
    let mut found: Vec<String> = Vec::new();
    for (name, data) in read_parts(docx)? {
        if !is_text_part(&name) {
            continue;
        }
        let nodes = text_nodes(&events(&data)?)?;
        for r in by_paragraph(&nodes) {
            let text: String = nodes[r].iter().map(|n| n.text.as_str()).collect();
            for (_, _, p) in scan(&text) {
                if !found.contains(&p) {
                    found.push(p);
                }
            }
        }
    }
    Ok(found)
}

/// New texts of a paragraph's nodes with every placeholder replaced by
/// `value(name)` (a name it gives `None` for stays as it is).
fn fill_paragraph(texts: &[&str], value: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let joined: String = texts.concat();
    let found: Vec<(usize, usize, String)> = scan(&joined)
        .into_iter()
        .filter_map(|(s, e, name)| value(&name).map(|v| (s, e, v)))
        .collect();
    let mut out = Vec::with_capacity(texts.len());
    let mut ns = 0;
    for t in texts {
        let ne = ns + t.len();
        let mut new = String::new();
        let mut p = ns;
        for (s, e, v) in &found {
            if *e <= ns || *s >= ne {
                continue;
            }
            if *s >= ns {
                new.push_str(&joined[p..*s]);
                new.push_str(v);
            }
            p = (*e).min(ne).max(p);
        }
        new.push_str(&joined[p..ne]);
        out.push(new);
        ns = ne;
    }
    out
}

/// A part with its placeholders filled (`None`: nothing changed).
fn fill_part(
    xml: &[u8],
    value: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Vec<u8>>, DocxError> {
    let evs = events(xml)?;
    let nodes = text_nodes(&evs)?;
    let mut new_texts: Vec<Option<String>> = vec![None; nodes.len()];
    for r in by_paragraph(&nodes) {
        let texts: Vec<&str> = nodes[r.clone()].iter().map(|n| n.text.as_str()).collect();
        for (k, new) in r.clone().zip(fill_paragraph(&texts, value)) {
            if new != nodes[k].text {
                new_texts[k] = Some(new);
            }
        }
    }
    if new_texts.iter().all(Option::is_none) {
        return Ok(None);
    }
    let mut w = Writer::new(Vec::with_capacity(xml.len() + 1024));
    let mut changed = nodes
        .iter()
        .zip(new_texts)
        .filter_map(|(n, t)| t.map(|t| (n.start, n.end, t)))
        .peekable();
    let mut i = 0;
    while i < evs.len() {
        if let Some((start, end, text)) = changed.next_if(|(s, _, _)| *s == i) {
            let Event::Start(e) = &evs[start] else {
                unreachable!("a text node starts with <w:t>")
            };
            let mut tag = e.clone();
            if !e
                .attributes()
                .flatten()
                .any(|a| a.key.as_ref() == "xml:space")
            {
                tag.push_attribute(("xml:space", "preserve"));
            }
            w.write_event(Event::Start(tag)).map_err(bad)?;
            w.write_event(Event::Text(BytesText::new(&text)))
                .map_err(bad)?;
            i = end;
            continue;
        }
        w.write_event(evs[i].clone()).map_err(bad)?;
        i += 1;
    }
    Ok(Some(w.into_inner()))
}

/// The template with every placeholder `value` knows replaced.
pub fn fill(docx: &[u8], value: &dyn Fn(&str) -> Option<String>) -> Result<Vec<u8>, DocxError> {
    let mut parts = read_parts(docx)?;
    for (name, data) in &mut parts {
        if is_text_part(name)
            && let Some(new) = fill_part(data, value)?
        {
            *data = new;
        }
    }
    write_parts(&parts)
}

/// A span of text with its formatting.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub text: String,
    pub bold: bool,
    pub italic: bool,
}

/// A paragraph of the document body (a table row is one paragraph, its
/// cells separated by ` | `).
pub type Paragraph = Vec<Span>;

fn flag_on(e: &BytesStart<'_>) -> bool {
    e.attributes()
        .flatten()
        .all(|a| a.key.as_ref() != "w:val" || !matches!(a.value.as_ref(), "0" | "false" | "off"))
}

/// The body's paragraphs with their text and bold/italic runs (for the PDF).
pub fn paragraphs(docx: &[u8]) -> Result<Vec<Paragraph>, DocxError> {
    let parts = read_parts(docx)?;
    let (_, xml) = parts
        .iter()
        .find(|(n, _)| n == "word/document.xml")
        .ok_or_else(|| bad("the package has no word/document.xml"))?;
    let evs = events(xml)?;
    let nodes = text_nodes(&evs)?;
    let mut node_at = nodes.iter().peekable();
    let mut out: Vec<Paragraph> = Vec::new();
    let mut current: Paragraph = Vec::new();
    let mut row: Option<Paragraph> = None;
    let (mut in_rpr, mut bold, mut italic) = (false, false, false);
    let mut cell_started = false;
    let push = |p: &mut Paragraph, text: &str, bold: bool, italic: bool| {
        if text.is_empty() {
            return;
        }
        if let Some(last) = p.last_mut()
            && last.bold == bold
            && last.italic == italic
        {
            last.text.push_str(text);
            return;
        }
        p.push(Span {
            text: text.to_string(),
            bold,
            italic,
        });
    };
    for (i, ev) in evs.iter().enumerate() {
        match ev {
            Event::Start(e) if is(e, "w:r") => (bold, italic) = (false, false),
            Event::Start(e) if is(e, "w:rPr") => in_rpr = true,
            Event::End(e) if e.name().as_ref() == "w:rPr" => in_rpr = false,
            Event::Start(e) | Event::Empty(e) if in_rpr && is(e, "w:b") => bold = flag_on(e),
            Event::Start(e) | Event::Empty(e) if in_rpr && is(e, "w:i") => italic = flag_on(e),
            Event::Empty(e) if is(e, "w:tab") => push(&mut current, "    ", bold, italic),
            Event::Empty(e) if is(e, "w:br") => push(&mut current, "\n", bold, italic),
            Event::Start(e) if is(e, "w:t") => {
                if let Some(n) = node_at.next_if(|n| n.start == i) {
                    push(&mut current, &n.text, bold, italic);
                }
            }
            Event::Start(e) if is(e, "w:tr") => row = Some(Vec::new()),
            Event::Start(e) if is(e, "w:tc") => cell_started = false,
            Event::End(e) if e.name().as_ref() == "w:p" => {
                let p = std::mem::take(&mut current);
                match &mut row {
                    Some(r) => {
                        if cell_started {
                            push(r, " ", false, false);
                        }
                        for s in p {
                            push(r, &s.text, s.bold, s.italic);
                        }
                        cell_started = true;
                    }
                    None => out.push(p),
                }
            }
            Event::End(e) if e.name().as_ref() == "w:tc" => {
                if let Some(r) = &mut row {
                    push(r, " | ", false, false);
                }
            }
            Event::End(e) if e.name().as_ref() == "w:tr" => {
                if let Some(mut r) = row.take() {
                    if let Some(last) = r.last_mut() {
                        let t = last.text.trim_end_matches(" | ").to_string();
                        last.text = t;
                    }
                    out.push(r);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::sample::{docx, run};
    use super::*;

    fn document_xml(docx: &[u8]) -> String {
        let parts = read_parts(docx).unwrap();
        let (_, d) = parts
            .iter()
            .find(|(n, _)| n == "word/document.xml")
            .unwrap();
        String::from_utf8(d.clone()).unwrap()
    }

    #[test]
    fn a_placeholder_split_over_runs_is_found_and_filled_in_the_first_run() {
        let body = format!(
            "<w:p>{}{}{}{}</w:p>",
            run("Invoice ", true, false),
            run("{Docu", true, false),
            run("ment", false, true),
            run("Number} to {Client} &amp; co", false, false),
        );
        let t = docx(&body);
        assert_eq!(placeholders(&t).unwrap(), ["DocumentNumber", "Client"]);
        let filled = fill(&t, &|n| match n {
            "DocumentNumber" => Some("INV-7".into()),
            "Client" => Some("Ромашка <ООО>".into()),
            _ => None,
        })
        .unwrap();
        let xml = document_xml(&filled);
        // The value takes the first run's formatting; the runs stay.
        assert!(
            xml.contains(
                r#"<w:r><w:rPr><w:b/></w:rPr><w:t xml:space="preserve">INV-7</w:t></w:r>"#
            ),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<w:rPr><w:i/></w:rPr><w:t xml:space="preserve"></w:t>"#),
            "{xml}"
        );
        assert!(xml.contains("to Ромашка &lt;ООО&gt; &amp; co"), "{xml}");
        assert_eq!(xml.matches("<w:r>").count(), 4);
        assert!(placeholders(&filled).unwrap().is_empty());
        let paras = paragraphs(&filled).unwrap();
        assert_eq!(
            paras[0],
            vec![
                Span {
                    text: "Invoice INV-7".into(),
                    bold: true,
                    italic: false
                },
                Span {
                    text: " to Ромашка <ООО> & co".into(),
                    bold: false,
                    italic: false
                },
            ]
        );
    }

    #[test]
    fn a_placeholder_without_a_value_is_left_as_typed() {
        let t = docx(&format!(
            "<w:p>{}</w:p>",
            run("{Unknown} and {Title}", false, false)
        ));
        let filled = fill(&t, &|n| (n == "Title").then(|| "Site".to_string())).unwrap();
        assert!(document_xml(&filled).contains("{Unknown} and Site"));
    }

    #[test]
    fn table_rows_become_one_line_and_garbage_is_not_a_docx() {
        let cell = |t: &str| format!("<w:tc><w:p>{}</w:p></w:tc>", run(t, false, false));
        let body = format!(
            "<w:tbl><w:tr>{}{}</w:tr></w:tbl>",
            cell("Total"),
            cell("{Amount}")
        );
        let paras = paragraphs(&docx(&body)).unwrap();
        assert_eq!(paras.len(), 1);
        assert_eq!(paras[0][0].text, "Total | {Amount}");
        assert!(placeholders(b"PK not really").is_err());
    }
}
