//! Plots as inline SVG text, so a report is one self-contained HTML file that any browser shows
//! without fonts, scripts or network. Every plot is an `<svg class="plot">` with a `data-plot`
//! name; the browser test checks each one is drawn.

use std::fmt::Write;

use boneseg_contract::metric::quantile;

use crate::html::escape;

/// Series colours (colour-blind-safe, Okabe-Ito).
const SERIES: [&str; 6] = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00"];

const WIDTH: f64 = 900.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;

/// A plot being drawn: an SVG canvas with a title and a y axis.
struct Canvas {
    svg: String,
    height: f64,
    bottom: f64,
}

impl Canvas {
    fn new(name: &str, title: &str, height: f64, bottom: f64) -> Self {
        let mut svg = format!(
            r#"<svg class="plot" data-plot="{}" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="11">"#,
            escape(name)
        );
        let _ = write!(
            svg,
            r#"<text x="{}" y="20" text-anchor="middle" font-size="14" font-weight="bold">{}</text>"#,
            WIDTH / 2.0,
            escape(title)
        );
        Canvas { svg, height, bottom }
    }

    fn plot_bottom(&self) -> f64 {
        self.height - self.bottom
    }

    /// The y axis from `lo` to `hi` with grid lines; returns the value-to-pixel map.
    fn y_axis(&mut self, lo: f64, hi: f64, label: &str) -> impl Fn(f64) -> f64 + use<> {
        let (top, bottom) = (TOP, self.plot_bottom());
        let span = if hi > lo { hi - lo } else { 1.0 };
        let map = move |v: f64| bottom - (v - lo) / span * (bottom - top);
        for tick in nice_ticks(lo, hi, 5) {
            let y = map(tick);
            let _ = write!(
                self.svg,
                r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
                WIDTH - RIGHT,
                LEFT - 5.0,
                y + 4.0,
                format_tick(tick)
            );
        }
        let _ = write!(
            self.svg,
            r#"<text transform="translate(14 {:.1}) rotate(-90)" text-anchor="middle">{}</text><line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{bottom}" stroke="black"/><line x1="{LEFT}" x2="{}" y1="{bottom}" y2="{bottom}" stroke="black"/>"#,
            (top + bottom) / 2.0,
            escape(label),
            WIDTH - RIGHT
        );
        map
    }

    /// A category label under the x axis at `x`, slanted when there are many.
    fn x_label(&mut self, x: f64, text: &str, slanted: bool) {
        let y = self.plot_bottom() + 14.0;
        if slanted {
            let _ = write!(
                self.svg,
                r#"<text transform="translate({x:.1} {y:.1}) rotate(-55)" text-anchor="end">{}</text>"#,
                escape(text)
            );
        } else {
            let _ = write!(
                self.svg,
                r#"<text x="{x:.1}" y="{y:.1}" text-anchor="middle">{}</text>"#,
                escape(text)
            );
        }
    }

    fn legend(&mut self, names: &[&str]) {
        if names.len() < 2 {
            return;
        }
        for (i, name) in names.iter().enumerate() {
            let x = LEFT + 10.0 + i as f64 * 150.0;
            let _ = write!(
                self.svg,
                r#"<rect x="{x}" y="26" width="10" height="10" fill="{}"/><text x="{}" y="35">{}</text>"#,
                SERIES[i % SERIES.len()],
                x + 14.0,
                escape(name)
            );
        }
    }

    fn finish(mut self) -> String {
        self.svg.push_str("</svg>");
        self.svg
    }
}

/// Grouped bars: one group per label, one bar per series.
pub fn bars(
    name: &str,
    title: &str,
    labels: &[String],
    series: &[(&str, Vec<f64>)],
    y_label: &str,
) -> String {
    let slanted = labels.len() > 8 || labels.iter().any(|l| l.len() > 10);
    let mut canvas =
        Canvas::new(name, title, if slanted { 380.0 } else { 320.0 }, if slanted { 90.0 } else { 30.0 });
    let hi = series.iter().flat_map(|(_, v)| v.iter().copied()).filter(|v| v.is_finite()).fold(0.0, f64::max);
    let y = canvas.y_axis(0.0, if hi > 0.0 { hi } else { 1.0 }, y_label);
    let slot = (WIDTH - LEFT - RIGHT) / labels.len().max(1) as f64;
    let bar = slot * 0.8 / series.len().max(1) as f64;
    for (i, label) in labels.iter().enumerate() {
        let x0 = LEFT + i as f64 * slot + slot * 0.1;
        for (s, (series_name, values)) in series.iter().enumerate() {
            let value = values.get(i).copied().filter(|v| v.is_finite()).unwrap_or(0.0);
            let top = y(value);
            let _ = write!(
                canvas.svg,
                r#"<rect x="{:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}: {} = {}</title></rect>"#,
                x0 + s as f64 * bar,
                bar.max(1.0),
                (canvas.plot_bottom() - top).max(0.5),
                SERIES[s % SERIES.len()],
                escape(series_name),
                escape(label),
                format_tick(value)
            );
        }
        canvas.x_label(x0 + slot * 0.4, label, slanted);
    }
    let names: Vec<&str> = series.iter().map(|(n, _)| *n).collect();
    canvas.legend(&names);
    canvas.finish()
}

/// One box per group: quartiles, whiskers at the extremes within 1.5 IQR, outliers as dots.
pub fn boxes(name: &str, title: &str, groups: &[(String, Vec<f64>)], y_label: &str) -> String {
    let mut canvas = Canvas::new(name, title, 400.0, 90.0);
    let all = groups.iter().flat_map(|(_, v)| v.iter().copied()).filter(|v| v.is_finite());
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let (lo, hi) = if lo.is_finite() { (lo.min(0.0), hi) } else { (0.0, 1.0) };
    let y = canvas.y_axis(lo, hi, y_label);
    let slot = (WIDTH - LEFT - RIGHT) / groups.len().max(1) as f64;
    for (i, (label, values)) in groups.iter().enumerate() {
        let centre = LEFT + (i as f64 + 0.5) * slot;
        canvas.x_label(centre, label, true);
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        if sorted.is_empty() {
            continue;
        }
        sorted.sort_by(f64::total_cmp);
        let [q1, median, q3] = [0.25, 0.5, 0.75].map(|q| quantile(&sorted, q));
        let fence = 1.5 * (q3 - q1);
        let inside = |v: &&f64| **v >= q1 - fence && **v <= q3 + fence;
        let low = sorted.iter().find(inside).copied().unwrap_or(q1);
        let high = sorted.iter().rev().find(inside).copied().unwrap_or(q3);
        let half = (slot * 0.35).max(1.5);
        let _ = write!(
            canvas.svg,
            r#"<g stroke="black" fill="{}"><title>{}: median {}, IQR {}–{}, n={}</title><line x1="{centre:.1}" x2="{centre:.1}" y1="{:.1}" y2="{:.1}"/><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}"/><line x1="{:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke-width="2"/></g>"#,
            SERIES[0],
            escape(label),
            format_tick(median),
            format_tick(q1),
            format_tick(q3),
            sorted.len(),
            y(high),
            y(low),
            centre - half,
            y(q3),
            2.0 * half,
            (y(q1) - y(q3)).max(1.0),
            centre - half,
            centre + half,
            y(median),
            y(median)
        );
        for v in sorted.iter().filter(|v| !inside(v)) {
            let _ = write!(
                canvas.svg,
                r##"<circle cx="{centre:.1}" cy="{:.1}" r="2.5" fill="#D55E00"/>"##,
                y(*v)
            );
        }
    }
    canvas.finish()
}

/// A square matrix as coloured cells (white = 0, dark = the largest value), labels on both axes.
pub fn heatmap(name: &str, title: &str, labels: &[&str], matrix: &[Vec<f64>]) -> String {
    let n = labels.len().max(1);
    let (left, top) = (110.0, 40.0);
    let cell = ((WIDTH - left - 20.0) / n as f64).min(24.0);
    let height = top + cell * n as f64 + 100.0;
    let mut canvas = Canvas::new(name, title, height, 0.0);
    let max = matrix.iter().flatten().copied().filter(|v| v.is_finite()).fold(0.0, f64::max);
    for (r, row) in matrix.iter().enumerate() {
        for (c, &value) in row.iter().enumerate() {
            let t = if max > 0.0 { (value / max).clamp(0.0, 1.0).sqrt() } else { 0.0 };
            let shade = |full: f64| (255.0 - t * (255.0 - full)).round() as u8;
            let _ = write!(
                canvas.svg,
                r##"<rect x="{:.1}" y="{:.1}" width="{cell:.1}" height="{cell:.1}" fill="rgb({},{},{})" stroke="#eee"><title>{} × {}: {}</title></rect>"##,
                left + c as f64 * cell,
                top + r as f64 * cell,
                shade(8.0),
                shade(48.0),
                shade(107.0),
                escape(labels[r]),
                escape(labels.get(c).copied().unwrap_or("")),
                format_tick(value)
            );
        }
    }
    for (i, label) in labels.iter().enumerate() {
        let middle = i as f64 * cell + cell / 2.0;
        let _ = write!(
            canvas.svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="10">{}</text><text transform="translate({:.1} {:.1}) rotate(-60)" text-anchor="end" font-size="10">{}</text>"#,
            left - 4.0,
            top + middle + 3.0,
            escape(label),
            left + middle + 3.0,
            top + n as f64 * cell + 6.0,
            escape(label)
        );
    }
    canvas.finish()
}

/// Distributions as lines over shared bins: `(name, counts)`, each normalised to a share.
pub fn histogram(
    name: &str,
    title: &str,
    edges: (f64, f64),
    series: &[(&str, Vec<f64>)],
    x_label: &str,
) -> String {
    let mut canvas = Canvas::new(name, title, 320.0, 40.0);
    let shares: Vec<Vec<f64>> = series
        .iter()
        .map(|(_, counts)| {
            let total: f64 = counts.iter().sum();
            counts.iter().map(|c| if total > 0.0 { c / total } else { 0.0 }).collect()
        })
        .collect();
    let hi = shares.iter().flatten().copied().fold(0.0, f64::max);
    let y = canvas.y_axis(0.0, if hi > 0.0 { hi } else { 1.0 }, "share");
    let (x_lo, x_hi) = edges;
    let x = |v: f64| LEFT + (v - x_lo) / (x_hi - x_lo).max(f64::EPSILON) * (WIDTH - LEFT - RIGHT);
    for tick in nice_ticks(x_lo, x_hi, 8) {
        canvas.x_label(x(tick), &format_tick(tick), false);
    }
    let _ = write!(
        canvas.svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        (LEFT + WIDTH - RIGHT) / 2.0,
        canvas.height - 6.0,
        escape(x_label)
    );
    for (s, values) in shares.iter().enumerate() {
        let bins = values.len().max(1) as f64;
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| format!("{:.1},{:.1}", x(x_lo + (i as f64 + 0.5) / bins * (x_hi - x_lo)), y(v)))
            .collect();
        let _ = write!(
            canvas.svg,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="1.5"/>"#,
            points.join(" "),
            SERIES[s % SERIES.len()]
        );
    }
    let names: Vec<&str> = series.iter().map(|(n, _)| *n).collect();
    canvas.legend(&names);
    canvas.finish()
}

/// About `count` round tick values covering `lo..=hi`.
fn nice_ticks(lo: f64, hi: f64, count: usize) -> Vec<f64> {
    let span = if hi > lo { hi - lo } else { 1.0 };
    let raw = span / count as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(raw);
    let first = (lo / step).ceil() as i64;
    let last = (hi.max(lo + span) / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

fn format_tick(value: f64) -> String {
    let a = value.abs();
    if a >= 1e6 {
        format!("{:.1}M", value / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", value / 1e3)
    } else if a >= 100.0 || value == value.round() {
        format!("{value:.0}")
    } else if a >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(nice_ticks(0.0, 1.0, 5), vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]);
        assert_eq!(nice_ticks(0.0, 950.0, 5), vec![0.0, 200.0, 400.0, 600.0, 800.0]);
    }

    #[test]
    fn every_plot_is_named_svg_with_marks() {
        let labels = vec!["a".to_string(), "b <&>".to_string()];
        let plots = [
            bars("b", "Bars", &labels, &[("n", vec![1.0, 3.0])], "count"),
            boxes("x", "Boxes", &[("a".into(), vec![1.0, 2.0, 3.0, 40.0])], "area"),
            heatmap("h", "Heat", &["a", "b"], &[vec![0.0, 2.0], vec![2.0, 0.0]]),
            histogram(
                "i",
                "Hist",
                (0.0, 256.0),
                &[("train", vec![1.0, 2.0]), ("test", vec![2.0, 1.0])],
                "grey",
            ),
        ];
        for plot in &plots {
            assert!(plot.starts_with(r#"<svg class="plot""#) && plot.ends_with("</svg>"), "{plot}");
            assert!(plot.contains("<rect") || plot.contains("<polyline"));
            assert!(!plot.contains("<&>"), "labels are escaped");
        }
        assert!(plots[1].contains("<circle"), "40 is an outlier dot");
    }
}
