//! A document's PDF, rendered in Rust from the filled DOCX's paragraphs:
//! text with bold and italic runs, table rows as lines of text, wrapped to
//! an A4 page, over as many pages as it takes.
//!
//! The font is DejaVu Sans (regular, bold, oblique, bold oblique), which
//! covers Latin and Cyrillic; it comes with the `dejavu` crate (the DejaVu
//! fonts' licence allows redistribution). Each PDF embeds a subset of the
//! glyphs it uses (`subsetter`) as a CID font with a `ToUnicode` map, so its
//! text can be searched, copied and extracted.

use std::collections::BTreeMap;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use super::docx::Paragraph;

const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 56.0;
const SIZE: f32 = 11.0;
const LEADING: f32 = 15.5;
/// Most pages one document renders to (a longer one is cut, and says so).
pub const MAX_PAGES: usize = 200;

/// Why a PDF could not be made.
#[derive(Debug, thiserror::Error)]
#[error("cannot render the PDF: {0}")]
pub struct PdfError(String);

/// One of the four faces.
struct Face {
    data: &'static [u8],
    face: ttf_parser::Face<'static>,
    remapper: subsetter::GlyphRemapper,
    /// Old glyph id of each new one.
    olds: Vec<u16>,
    /// The text of each new glyph id (for `ToUnicode`).
    chars: BTreeMap<u16, char>,
    used: bool,
}

impl Face {
    fn new(data: &'static [u8]) -> Result<Face, PdfError> {
        let face = ttf_parser::Face::parse(data, 0).map_err(|e| PdfError(e.to_string()))?;
        Ok(Face {
            data,
            face,
            remapper: subsetter::GlyphRemapper::new(),
            olds: vec![0],
            chars: BTreeMap::new(),
            used: false,
        })
    }

    fn units(&self) -> f32 {
        f32::from(self.face.units_per_em())
    }

    /// Width of `c` in points at [`SIZE`].
    fn width(&self, c: char) -> f32 {
        let gid = self.face.glyph_index(c).unwrap_or(ttf_parser::GlyphId(0));
        f32::from(self.face.glyph_hor_advance(gid).unwrap_or(0)) * SIZE / self.units()
    }

    /// The new glyph id of `c` (added to the subset).
    fn glyph(&mut self, c: char) -> u16 {
        let old = self.face.glyph_index(c).map_or(0, |g| g.0);
        let new = self.remapper.remap(old);
        if usize::from(new) >= self.olds.len() {
            self.olds.push(old);
        }
        self.chars.entry(new).or_insert(c);
        self.used = true;
        new
    }
}

/// A piece of a line: text in one face (0 regular, 1 bold, 2 oblique, 3 both).
struct Piece {
    face: usize,
    text: String,
}

fn face_of(bold: bool, italic: bool) -> usize {
    usize::from(bold) + 2 * usize::from(italic)
}

/// Wrap a paragraph into lines of pieces no wider than the text width.
fn wrap(p: &Paragraph, faces: &[Face]) -> Vec<Vec<Piece>> {
    let max = PAGE_W - 2.0 * MARGIN;
    let mut lines: Vec<Vec<Piece>> = vec![Vec::new()];
    let mut width = 0.0;
    for span in p {
        let f = face_of(span.bold, span.italic);
        for (k, hard_line) in span.text.split('\n').enumerate() {
            if k > 0 {
                lines.push(Vec::new());
                width = 0.0;
            }
            // Words with the space that follows them.
            for word in hard_line.split_inclusive(' ') {
                let w: f32 = word.chars().map(|c| faces[f].width(c)).sum();
                if width + w.min(max) > max && width > 0.0 {
                    lines.push(Vec::new());
                    width = 0.0;
                }
                let line = lines.last_mut().expect("there is a line");
                width += w;
                match line.last_mut() {
                    Some(piece) if piece.face == f => piece.text.push_str(word),
                    _ => line.push(Piece {
                        face: f,
                        text: word.to_string(),
                    }),
                }
            }
        }
    }
    lines
}

/// The PDF of `paragraphs`, titled `title`.
pub fn render(title: &str, paragraphs: &[Paragraph]) -> Result<Vec<u8>, PdfError> {
    let mut faces = vec![
        Face::new(dejavu::sans::regular())?,
        Face::new(dejavu::sans::bold())?,
        Face::new(dejavu::sans::oblique())?,
        Face::new(dejavu::sans::bold_oblique())?,
    ];
    // Lay out: each page a list of (y, pieces).
    let mut lines: Vec<Vec<Piece>> = Vec::new();
    for p in paragraphs {
        lines.extend(wrap(p, &faces));
    }
    let per_page = ((PAGE_H - 2.0 * MARGIN) / LEADING).floor() as usize;
    let mut pages: Vec<Content> = Vec::new();
    for chunk in lines.chunks(per_page.max(1)).take(MAX_PAGES) {
        let mut content = Content::new();
        content.begin_text();
        let mut first = true;
        for line in chunk {
            if first {
                content.next_line(MARGIN, PAGE_H - MARGIN - SIZE);
                first = false;
            } else {
                content.next_line(0.0, -LEADING);
            }
            for piece in line {
                let face = &mut faces[piece.face];
                let mut bytes = Vec::with_capacity(piece.text.len() * 2);
                for c in piece.text.chars() {
                    bytes.extend_from_slice(&face.glyph(c).to_be_bytes());
                }
                let name = format!("F{}", piece.face);
                content.set_font(Name(name.as_bytes()), SIZE);
                content.show(Str(&bytes));
            }
        }
        content.end_text();
        pages.push(content);
    }
    if pages.is_empty() {
        pages.push(Content::new());
    }
    write(title, pages, &faces)
}

fn write(title: &str, pages: Vec<Content>, faces: &[Face]) -> Result<Vec<u8>, PdfError> {
    let mut pdf = Pdf::new();
    let mut next = 1;
    let mut alloc = || {
        let r = Ref::new(next);
        next += 1;
        r
    };
    let catalog = alloc();
    let tree = alloc();
    let info = alloc();
    let font_refs: Vec<Ref> = faces.iter().map(|_| alloc()).collect();
    let page_refs: Vec<(Ref, Ref)> = pages.iter().map(|_| (alloc(), alloc())).collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_refs.iter().map(|(p, _)| *p))
        .count(page_refs.len() as i32);
    pdf.document_info(info)
        .title(TextStr(title))
        .producer(TextStr("crm-automation"));
    for ((page, content_ref), content) in page_refs.iter().zip(pages) {
        let mut p = pdf.page(*page);
        p.parent(tree)
            .media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
            .contents(*content_ref);
        let mut res = p.resources();
        let mut fonts = res.fonts();
        for (i, (f, r)) in faces.iter().zip(&font_refs).enumerate() {
            if f.used {
                fonts.pair(Name(format!("F{i}").as_bytes()), *r);
            }
        }
        fonts.finish();
        res.finish();
        p.finish();
        let data = miniz_oxide::deflate::compress_to_vec_zlib(&content.finish(), 6);
        pdf.stream(*content_ref, &data).filter(Filter::FlateDecode);
    }
    for (i, (face, type0)) in faces.iter().zip(&font_refs).enumerate() {
        if !face.used {
            continue;
        }
        let (cid, descriptor, file, cmap) = (alloc(), alloc(), alloc(), alloc());
        let base = format!(
            "AAAAA{}+DejaVuSans{}",
            (b'A' + i as u8) as char,
            ["", "-Bold", "-Oblique", "-BoldOblique"][i]
        );
        let system = SystemInfo {
            registry: Str(b"Adobe"),
            ordering: Str(b"Identity"),
            supplement: 0,
        };
        pdf.type0_font(*type0)
            .base_font(Name(base.as_bytes()))
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(cid)
            .to_unicode(cmap);
        let units = face.units();
        let scale = |v: f32| v * 1000.0 / units;
        let widths: Vec<f32> = face
            .olds
            .iter()
            .map(|g| {
                scale(f32::from(
                    face.face
                        .glyph_hor_advance(ttf_parser::GlyphId(*g))
                        .unwrap_or(0),
                ))
            })
            .collect();
        let mut cidf = pdf.cid_font(cid);
        cidf.subtype(CidFontType::Type2)
            .base_font(Name(base.as_bytes()))
            .system_info(system)
            .font_descriptor(descriptor)
            .default_width(0.0)
            .cid_to_gid_map_predefined(Name(b"Identity"));
        cidf.widths().consecutive(0, widths);
        cidf.finish();
        let bb = face.face.global_bounding_box();
        let mut flags = FontFlags::NON_SYMBOLIC;
        if i >= 2 {
            flags |= FontFlags::ITALIC;
        }
        pdf.font_descriptor(descriptor)
            .name(Name(base.as_bytes()))
            .flags(flags)
            .bbox(Rect::new(
                scale(f32::from(bb.x_min)),
                scale(f32::from(bb.y_min)),
                scale(f32::from(bb.x_max)),
                scale(f32::from(bb.y_max)),
            ))
            .italic_angle(if i >= 2 { -11.0 } else { 0.0 })
            .ascent(scale(f32::from(face.face.ascender())))
            .descent(scale(f32::from(face.face.descender())))
            .cap_height(scale(f32::from(
                face.face.capital_height().unwrap_or(face.face.ascender()),
            )))
            .stem_v(if i % 2 == 1 { 120.0 } else { 80.0 })
            .font_file2(file);
        let subset = subsetter::subset(face.data, 0, &face.remapper)
            .map_err(|e| PdfError(format!("font subset: {e:?}")))?;
        let packed = miniz_oxide::deflate::compress_to_vec_zlib(&subset, 6);
        pdf.stream(file, &packed).filter(Filter::FlateDecode);
        let mut map = UnicodeCmap::new(Name(b"Custom"), system);
        for (g, c) in &face.chars {
            map.pair(*g, *c);
        }
        let map = map.finish();
        pdf.cmap(cmap, map.as_slice());
    }
    Ok(pdf.finish())
}

#[cfg(test)]
mod tests {
    use super::super::docx::Span;
    use super::*;

    #[test]
    fn a_pdf_is_made_with_the_fonts_it_uses_and_wraps_long_text() {
        let para = |t: &str, bold: bool| {
            vec![Span {
                text: t.into(),
                bold,
                italic: false,
            }]
        };
        let long = "слово ".repeat(400);
        let pdf = render("Счёт", &[para("Счёт № INV-1", true), para(&long, false)]).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&pdf);
        assert_eq!(
            text.matches("/FontFile2").count(),
            2,
            "the two faces used are embedded"
        );
        assert!(text.contains("DejaVuSans-Bold"));
        assert!(!text.contains("Oblique"), "unused faces are not embedded");
        assert!(
            pdf.len() < 120_000,
            "a subset, not the whole font: {} bytes",
            pdf.len()
        );
    }

    #[test]
    fn the_sample_invoice_renders_to_a_small_pdf() {
        let docx = crate::documents::sample::invoice();
        let paras = crate::documents::docx::paragraphs(&docx).unwrap();
        let started = std::time::Instant::now();
        let pdf = render("Invoice", &paras).unwrap();
        eprintln!(
            "sample invoice: {} bytes of PDF in {:?} (debug build)",
            pdf.len(),
            started.elapsed()
        );
        assert!(pdf.len() < 60_000, "{} bytes", pdf.len());
    }
}
