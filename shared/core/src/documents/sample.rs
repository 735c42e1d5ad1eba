//! Building small `.docx` packages: the sample invoice template the demo
//! loads and the tests use, and the pieces to build others.

use std::io::{Cursor, Write as _};

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#;

const RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#;

/// A run: `text` is XML text (escape `&`, `<` as `&amp;`, `&lt;`).
pub fn run(text: &str, bold: bool, italic: bool) -> String {
    let mut props = String::new();
    if bold {
        props.push_str("<w:b/>");
    }
    if italic {
        props.push_str("<w:i/>");
    }
    let rpr = if props.is_empty() {
        String::new()
    } else {
        format!("<w:rPr>{props}</w:rPr>")
    };
    format!(r#"<w:r>{rpr}<w:t xml:space="preserve">{text}</w:t></w:r>"#)
}

/// A paragraph of runs.
pub fn paragraph(runs: &[String]) -> String {
    format!("<w:p>{}</w:p>", runs.concat())
}

/// A `.docx` package whose body is `body` (`<w:p>`, `<w:tbl>` elements).
pub fn docx(body: &str) -> Vec<u8> {
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}<w:sectPr/></w:body></w:document>"#
    );
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in [
        ("[Content_Types].xml", CONTENT_TYPES),
        ("_rels/.rels", RELS),
        ("word/document.xml", document.as_str()),
    ] {
        w.start_file(name, opts).expect("in-memory zip");
        w.write_all(data.as_bytes()).expect("in-memory zip");
    }
    w.finish().expect("in-memory zip").into_inner()
}

/// The sample invoice: number, date, client, amount in figures and words,
/// responsible; a placeholder split over runs as Word does; a table row.
pub fn invoice() -> Vec<u8> {
    let cell = |t: &str, bold: bool| format!("<w:tc><w:p>{}</w:p></w:tc>", run(t, bold, false));
    let body = [
        paragraph(&[
            run("Счёт № ", true, false),
            run("{Document", true, false),
            run("Number}", true, false),
            run(" от {Date}", false, false),
        ]),
        paragraph(&[
            run("Invoice for: ", false, true),
            run("{Title}", false, false),
        ]),
        paragraph(&[
            run("Клиент: ", true, false),
            run("{Client}, {ClientEmail}", false, false),
        ]),
        format!(
            "<w:tbl><w:tr>{}{}</w:tr></w:tbl>",
            cell("Итого / Total", true),
            cell("{Amount} {Currency}", false)
        ),
        paragraph(&[run("Сумма прописью: {AmountInWords}", false, false)]),
        paragraph(&[run("In words: {AmountInWordsEn}", false, true)]),
        paragraph(&[run("Ответственный: {Responsible}", false, false)]),
    ]
    .concat();
    docx(&body)
}
