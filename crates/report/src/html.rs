//! A report page: one self-contained HTML file (inline CSS, inline SVG plots, PNG pictures as
//! data URIs), readable offline and without JavaScript.

use std::fmt::Write;

use base64::Engine;

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

const STYLE: &str = "body{font-family:sans-serif;margin:24px auto;max-width:1000px;color:#222}\
h1{font-size:24px}h2{font-size:19px;border-bottom:1px solid #ccc;margin-top:36px}\
table{border-collapse:collapse;margin:8px 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}\
.figure{margin:12px 0}.thumbs{display:flex;flex-wrap:wrap;gap:10px}.thumbs figure{margin:0;font-size:12px;max-width:240px}\
.note{color:#555;font-size:13px}";

/// A page under construction.
pub struct Page {
    body: String,
    title: String,
}

impl Page {
    pub fn new(title: &str, intro: &str) -> Self {
        let body = format!("<h1>{}</h1><p class=\"note\">{}</p>", escape(title), escape(intro));
        Page { body, title: title.to_string() }
    }

    pub fn section(&mut self, id: &str, heading: &str) {
        let _ = write!(self.body, "<h2 id=\"{}\">{}</h2>", escape(id), escape(heading));
    }

    pub fn paragraph(&mut self, text: &str) {
        let _ = write!(self.body, "<p>{}</p>", escape(text));
    }

    /// A table; cells are text (escaped).
    pub fn table(&mut self, header: &[&str], rows: &[Vec<String>]) {
        self.body.push_str("<table><tr>");
        for h in header {
            let _ = write!(self.body, "<th>{}</th>", escape(h));
        }
        self.body.push_str("</tr>");
        for row in rows {
            self.body.push_str("<tr>");
            for cell in row {
                let _ = write!(self.body, "<td>{}</td>", escape(cell));
            }
            self.body.push_str("</tr>");
        }
        self.body.push_str("</table>");
    }

    /// An SVG plot from [`crate::chart`].
    pub fn plot(&mut self, svg: &str) {
        let _ = write!(self.body, "<div class=\"figure\">{svg}</div>");
    }

    /// A row of captioned PNG pictures.
    pub fn thumbnails(&mut self, pictures: &[(String, Vec<u8>)]) {
        self.body.push_str("<div class=\"thumbs\">");
        for (caption, png) in pictures {
            let _ = write!(
                self.body,
                "<figure>{}<figcaption>{}</figcaption></figure>",
                png_img(png, caption),
                escape(caption)
            );
        }
        self.body.push_str("</div>");
    }

    /// The whole document.
    pub fn finish(self) -> String {
        format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>{}</body></html>\n",
            escape(&self.title),
            self.body
        )
    }
}

/// A PNG as an `<img class="plot">` with a data URI (so the page needs no other file).
fn png_img(png: &[u8], alt: &str) -> String {
    format!(
        "<img class=\"plot\" data-plot=\"{}\" style=\"max-width:100%\" alt=\"{}\" src=\"data:image/png;base64,{}\">",
        escape(alt),
        escape(alt),
        base64::engine::general_purpose::STANDARD.encode(png)
    )
}

/// Encodes an RGB picture as PNG bytes.
pub fn png_bytes(image: &image::RgbImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
        .expect("encoding a PNG in memory cannot fail");
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_escaped_and_self_contained() {
        let mut page = Page::new("T <1>", "intro");
        page.section("s", "Section & more");
        page.table(&["a", "b"], &[vec!["<x>".into(), "2".into()]]);
        page.thumbnails(&[("pic".into(), png_bytes(&image::RgbImage::new(2, 2)))]);
        let html = page.finish();
        assert!(html.contains("<title>T &lt;1&gt;</title>"));
        assert!(html.contains("<td>&lt;x&gt;</td>"));
        assert!(html.contains("src=\"data:image/png;base64,iVBORw0KGgo"));
        assert!(!html.contains("http://") && !html.contains("https://"), "nothing to fetch");
    }
}
