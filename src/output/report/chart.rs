//! Inline SVG bar charts, drawn here (a few rectangles and labels need no plotting
//! library). Each chart has a `<title>` and `<desc>` and is labelled by them; the numbers
//! are always also in a table next to the chart, which is what screen readers and copying
//! use.

use maud::{html, Markup};

/// The Okabe–Ito palette (distinguishable with the common colour-vision deficiencies), one
/// colour per category in `Category::ALL` order; black for criminal data stands apart.
pub const CATEGORY_COLOURS: [&str; 7] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000",
];
/// Bars that are not a category.
pub const NEUTRAL: &str = "#0072B2";

/// One bar.
pub struct Bar {
    /// Label left of the bar.
    pub label: String,
    /// Its value.
    pub value: f64,
    /// The value as shown right of the bar ("< 5", "42%").
    pub shown: String,
    /// Fill colour.
    pub colour: &'static str,
}

const ROW: f64 = 26.0;
const LABEL: f64 = 200.0;
const WIDTH: f64 = 560.0;
const VALUE: f64 = 70.0;

/// A horizontal bar chart; `max`: the value of a full-length bar (the largest if `None`).
pub fn bars(id: &str, title: &str, desc: &str, rows: &[Bar], max: Option<f64>) -> Markup {
    let max = max
        .unwrap_or_else(|| rows.iter().map(|b| b.value).fold(0.0, f64::max))
        .max(1e-9);
    let height = ROW * rows.len().max(1) as f64 + 4.0;
    let span = WIDTH - LABEL - VALUE;
    let title_id = format!("{id}-title");
    let desc_id = format!("{id}-desc");
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" role="img"
            viewBox=(format!("0 0 {WIDTH} {height}"))
            aria-labelledby=(format!("{title_id} {desc_id}")) {
            title id=(title_id) { (title) }
            desc id=(desc_id) { (desc) }
            @for (i, b) in rows.iter().enumerate() {
                @let y = ROW * i as f64 + 2.0;
                @let w = (b.value.max(0.0) / max * span).max(if b.value > 0.0 { 2.0 } else { 0.0 });
                text x=(LABEL - 8.0) y=(y + ROW * 0.65) text-anchor="end" class="label" {
                    (shorten(&b.label, 31))
                }
                rect x=(LABEL) y=(y + 4.0) width=(format!("{w:.1}")) height=(ROW - 8.0)
                    fill=(b.colour) {}
                text x=(LABEL + w + 6.0) y=(y + ROW * 0.65) class="value" { (b.shown) }
            }
        }
    }
}

/// A vertical bar chart over time (months), with a label under every bar (`labels` as
/// short as "11").
pub fn columns(id: &str, title: &str, desc: &str, rows: &[Bar]) -> Markup {
    let max = rows.iter().map(|b| b.value).fold(0.0, f64::max).max(1e-9);
    let n = rows.len().max(1) as f64;
    let (height, base) = (180.0, 150.0);
    let step = (WIDTH - 20.0) / n;
    let title_id = format!("{id}-title");
    let desc_id = format!("{id}-desc");
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" role="img"
            viewBox=(format!("0 0 {WIDTH} {height}"))
            aria-labelledby=(format!("{title_id} {desc_id}")) {
            title id=(title_id) { (title) }
            desc id=(desc_id) { (desc) }
            line x1="10" x2=(WIDTH - 10.0) y1=(base) y2=(base) stroke="#767676" {}
            @for (i, b) in rows.iter().enumerate() {
                @let h = b.value.max(0.0) / max * (base - 20.0);
                @let x = 10.0 + step * i as f64;
                rect x=(format!("{:.1}", x + step * 0.15)) y=(format!("{:.1}", base - h))
                    width=(format!("{:.1}", step * 0.7)) height=(format!("{h:.1}"))
                    fill=(b.colour) {}
                @if rows.len() <= 24 || i % 3 == 0 {
                    text x=(format!("{:.1}", x + step / 2.0)) y=(base + 16.0)
                        text-anchor="middle" class="label" { (b.label) }
                }
            }
        }
    }
}

/// `s` cut to `n` chars with an ellipsis (chart labels only; tables show names whole).
fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut out: String = s.chars().take(n - 1).collect();
    out.push('…');
    out
}
