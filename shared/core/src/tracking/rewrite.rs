//! The HTML rewrite of a tracked email: every `http(s)` link of an `<a>` or
//! `<area>` tag is replaced, and a 1×1 pixel is put before `</body>` (or at
//! the end). A small attribute scanner, not a full HTML parser: it follows
//! tags, quoted and unquoted attribute values and comments, decodes the
//! character references of a link (`&amp;` in a query string) before it is
//! signed, and escapes what it writes.

/// Longest link that is rewritten; a longer one stays as it is.
pub const MAX_TRACKED_URL: usize = 2048;
/// Most links rewritten in one email (later ones stay as written), so that
/// the tokens cannot grow a body past what the stores keep in one record.
pub const MAX_TRACKED_LINKS: usize = 50;

/// Whether a body is HTML: it has a tag (`<` then a letter, `/` or `!`, and a
/// `>` after it). Anything else is plain text and is not tracked.
pub fn is_html(body: &str) -> bool {
    body.match_indices('<').any(|(i, _)| {
        let rest = &body[i + 1..];
        rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '!')
            && rest.contains('>')
    })
}

/// `html` with its links replaced by `link(original URL)` and the pixel
/// `pixel_url` added.
pub fn track_html(html: &str, pixel_url: &str, mut link: impl FnMut(&str) -> String) -> String {
    let mut out = rewrite_links(html, &mut link);
    let pixel = format!(
        r#"<img src="{}" width="1" height="1" alt="" style="border:0;width:1px;height:1px" />"#,
        escape_attr(pixel_url)
    );
    match out.to_ascii_lowercase().rfind("</body") {
        Some(at) => out.insert_str(at, &pixel),
        None => out.push_str(&pixel),
    }
    out
}

/// The links of `html` replaced.
fn rewrite_links(html: &str, link: &mut impl FnMut(&str) -> String) -> String {
    let b = html.as_bytes();
    let n = b.len();
    let mut out = String::with_capacity(n + 256);
    let mut copied = 0;
    let mut tracked = 0;
    let mut i = 0;
    while let Some(off) = html[i..].find('<') {
        let start = i + off;
        if html[start..].starts_with("<!--") {
            i = html[start + 4..]
                .find("-->")
                .map_or(n, |e| start + 4 + e + 3);
            continue;
        }
        let name_end = scan(b, start + 1, |c| c.is_ascii_alphanumeric());
        let name = &html[start + 1..name_end];
        if name.is_empty() {
            i = start + 1;
            continue;
        }
        let is_link = name.eq_ignore_ascii_case("a") || name.eq_ignore_ascii_case("area");
        let mut j = name_end;
        loop {
            j = scan(b, j, |c| c.is_ascii_whitespace() || c == b'/');
            if j >= n {
                break;
            }
            if b[j] == b'>' {
                j += 1;
                break;
            }
            let attr_end = scan(b, j, |c| {
                !(c.is_ascii_whitespace() || c == b'=' || c == b'>' || c == b'/')
            });
            let attr = &html[j..attr_end];
            j = scan(b, attr_end, |c| c.is_ascii_whitespace());
            if j >= n || b[j] != b'=' {
                if attr.is_empty() {
                    j += 1;
                }
                continue;
            }
            j = scan(b, j + 1, |c| c.is_ascii_whitespace());
            if j >= n {
                break;
            }
            let (span, value) = if b[j] == b'"' || b[j] == b'\'' {
                let q = b[j];
                let close = scan(b, j + 1, |c| c != q);
                if close >= n {
                    break;
                }
                let value = &html[j + 1..close];
                let span = (j, close + 1);
                j = span.1;
                (span, value)
            } else {
                let end = scan(b, j, |c| !(c.is_ascii_whitespace() || c == b'>'));
                let span = (j, end);
                let value = &html[j..end];
                j = end;
                (span, value)
            };
            if is_link
                && tracked < MAX_TRACKED_LINKS
                && attr.eq_ignore_ascii_case("href")
                && let Some(url) = trackable(value)
            {
                out.push_str(&html[copied..span.0]);
                out.push('"');
                out.push_str(&escape_attr(&link(&url)));
                out.push('"');
                copied = span.1;
                tracked += 1;
            }
        }
        i = j;
    }
    out.push_str(&html[copied..]);
    out
}

/// First index from `from` whose byte does not satisfy `keep`.
fn scan(b: &[u8], from: usize, keep: impl Fn(u8) -> bool) -> usize {
    let mut k = from;
    while k < b.len() && keep(b[k]) {
        k += 1;
    }
    k
}

/// The URL of an `href` value if it is one to track: absolute `http(s)`,
/// not too long, no control characters.
fn trackable(raw: &str) -> Option<String> {
    let url = decode_entities(raw);
    let url = url.trim();
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let http = lower.starts_with("http://") || lower.starts_with("https://");
    (http && url.len() <= MAX_TRACKED_URL && !url.chars().any(char::is_control))
        .then(|| url.to_string())
}

/// `s` with HTML character references decoded (the named ones a URL uses,
/// and numeric ones); anything else is kept as written.
pub fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(semi) = rest[..rest.len().min(12)].find(';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let name = &rest[1..semi];
        let decoded = match name {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => name.strip_prefix('#').and_then(|num| {
                let code = match num.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => num.parse().ok(),
                };
                code.and_then(char::from_u32)
            }),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `s` safe inside a double-quoted attribute.
pub fn escape_attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(html: &str) -> (String, Vec<String>) {
        let mut seen = Vec::new();
        let out = track_html(html, "https://crm.example/t/o/TOK", |u| {
            seen.push(u.to_string());
            format!("https://crm.example/t/c/{}", seen.len())
        });
        (out, seen)
    }

    #[test]
    fn html_or_text() {
        assert!(is_html("<p>Hello</p>"));
        assert!(is_html("<html><body>x</body></html>"));
        assert!(is_html("Hi<br>there"));
        assert!(!is_html("Hello, see https://example.com"));
        assert!(!is_html("a < b and c > d"));
        assert!(!is_html(""));
    }

    #[test]
    fn links_are_rewritten_and_the_pixel_goes_before_the_body_end() {
        let (out, seen) = track(
            r#"<html><BODY><p>Our <a class="x" href="https://example.com/pricing">prices</a>
            and <A HREF='http://example.com/a?x=1&amp;y=2'>more</A>,
            <a href=https://example.com/u>unquoted</a></p></BODY></html>"#,
        );
        assert_eq!(
            seen,
            [
                "https://example.com/pricing",
                "http://example.com/a?x=1&y=2",
                "https://example.com/u"
            ]
        );
        assert!(out.contains(r#"<a class="x" href="https://crm.example/t/c/1">prices</a>"#));
        assert!(out.contains(r#"<A HREF="https://crm.example/t/c/2">more</A>"#));
        assert!(out.contains(r#"<a href="https://crm.example/t/c/3">unquoted</a>"#));
        assert!(!out.contains("example.com/"), "{out}");
        let pixel = out
            .find(r#"<img src="https://crm.example/t/o/TOK""#)
            .unwrap();
        assert_eq!(&out[pixel..].find("</BODY>").is_some(), &true);
        assert!(out.ends_with("</BODY></html>"));
    }

    #[test]
    fn other_links_and_attributes_stay() {
        let html = concat!(
            r##"<a href="mailto:a@b.c">m</a><a href="/relative">r</a><a href="#top">t</a>"##,
            r#"<link href="https://cdn.example/s.css"><img src="https://example.com/i.png">"#,
            r#"<a title='href="https://x.example/"' data-href="https://y.example/">q</a>"#,
            r#"<!-- <a href="https://comment.example/">c</a> -->"#,
            r#"<a href="javascript:alert(1)">j</a>"#,
        );
        let (out, seen) = track(html);
        assert!(seen.is_empty(), "{seen:?}");
        assert_eq!(
            out,
            format!(
                "{html}{}",
                r#"<img src="https://crm.example/t/o/TOK" width="1" height="1" alt="" style="border:0;width:1px;height:1px" />"#
            )
        );
    }

    #[test]
    fn entities_and_quotes_in_links() {
        let (out, seen) =
            track(r#"<p><a href="https://example.com/?q=&quot;x&quot;&#38;r=&#x31;">a</a></p>"#);
        assert_eq!(seen, [r#"https://example.com/?q="x"&r=1"#]);
        assert!(out.starts_with(r#"<p><a href="https://crm.example/t/c/1">a</a></p><img"#));
        assert_eq!(decode_entities("a&b &unknown; &amp"), "a&b &unknown; &amp");
        assert_eq!(escape_attr(r#"a&"<>"#), "a&amp;&quot;&lt;&gt;");
    }

    #[test]
    fn at_most_fifty_links_are_rewritten() {
        let html: String = (0..MAX_TRACKED_LINKS + 2)
            .map(|i| format!(r#"<a href="https://example.com/{i}">{i}</a>"#))
            .collect();
        let (out, seen) = track(&html);
        assert_eq!(seen.len(), MAX_TRACKED_LINKS);
        assert!(out.contains(r#"<a href="https://example.com/51">"#));
        assert!(!out.contains(r#"<a href="https://example.com/49">"#));
    }

    #[test]
    fn too_long_and_broken_markup_is_left_alone() {
        let long = format!("https://example.com/{}", "a".repeat(MAX_TRACKED_URL));
        let (_, seen) = track(&format!(r#"<a href="{long}">x</a>"#));
        assert!(seen.is_empty());
        for broken in [
            "<a href=",
            "<a href=\"https://x.example/",
            "<a",
            "<",
            "<!--",
        ] {
            let (out, _) = track(broken);
            assert!(out.starts_with(broken), "{broken:?} → {out}");
        }
    }
}
