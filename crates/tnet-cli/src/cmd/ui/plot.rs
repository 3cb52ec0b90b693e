//! A habit's numbers over time, drawn as SVG: one point per run that
//! printed a number (its `value`, picked by the host: `[habit_details]
//! value_pattern`), joined by a line, scaled to fit any screen.

use std::fmt::Write;

use super::html::esc;

/// One point: when (milliseconds since the epoch) and the value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// When the run started.
    pub at_ms: i64,
    /// What it printed.
    pub value: f64,
}

/// The drawing's size in its own units; the page scales it to its width.
const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 200.0;
/// Room for the labels.
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 22.0;
const TOP: f64 = 10.0;
const RIGHT: f64 = 10.0;

/// An SVG plot of `points` (in any order), titled `title`; `None` with no points.
pub fn svg(title: &str, points: &[Point]) -> Option<String> {
    if points.is_empty() {
        return None;
    }
    let mut points = points.to_vec();
    points.sort_by_key(|p| p.at_ms);
    let (t0, t1) = (points[0].at_ms, points[points.len() - 1].at_ms);
    let (mut lo, mut hi) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.value), hi.max(p.value))
        });
    if lo == hi {
        // One value: a flat line in the middle.
        lo -= 1.0;
        hi += 1.0;
    }
    let x = |at: i64| {
        if t1 == t0 {
            LEFT + (WIDTH - LEFT - RIGHT) / 2.0
        } else {
            LEFT + (at - t0) as f64 / (t1 - t0) as f64 * (WIDTH - LEFT - RIGHT)
        }
    };
    let y = |v: f64| TOP + (hi - v) / (hi - lo) * (HEIGHT - TOP - BOTTOM);
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="plot" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}" data-points="{}">"#,
        esc(title),
        points.len()
    );
    let _ = write!(
        out,
        r#"<line class="axis" x1="{LEFT}" y1="{b}" x2="{r}" y2="{b}"/><line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{b}"/>"#,
        b = HEIGHT - BOTTOM,
        r = WIDTH - RIGHT
    );
    let _ = write!(
        out,
        r#"<text x="{lx}" y="{ty}" text-anchor="end">{}</text><text x="{lx}" y="{by}" text-anchor="end">{}</text>"#,
        number(hi),
        number(lo),
        lx = LEFT - 4.0,
        ty = TOP + 10.0,
        by = HEIGHT - BOTTOM
    );
    let _ = write!(
        out,
        r#"<text x="{LEFT}" y="{HEIGHT}">{}</text><text x="{r}" y="{HEIGHT}" text-anchor="end">{}</text>"#,
        clock(t0),
        clock(t1),
        r = WIDTH - RIGHT
    );
    let line: Vec<String> = points
        .iter()
        .map(|p| format!("{:.1},{:.1}", x(p.at_ms), y(p.value)))
        .collect();
    let _ = write!(out, r#"<polyline points="{}"/>"#, line.join(" "));
    for p in &points {
        let _ = write!(
            out,
            r#"<circle cx="{:.1}" cy="{:.1}" r="3"><title>{} at {}</title></circle>"#,
            x(p.at_ms),
            y(p.value),
            number(p.value),
            clock(p.at_ms)
        );
    }
    out.push_str("</svg>");
    Some(out)
}

/// A value as a label: short, without a float's noise.
fn number(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

/// A time as a label (UTC, to the second).
fn clock(at_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(at_ms)
        .map(|t| t.format("%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_point_is_a_circle_in_time_order_within_the_drawing() {
        assert_eq!(svg("none", &[]), None);
        let points = [
            Point {
                at_ms: 2_000,
                value: 5.0,
            },
            Point {
                at_ms: 1_000,
                value: 1.0,
            },
            Point {
                at_ms: 3_000,
                value: 3.0,
            },
        ];
        let drawn = svg("price <usd>", &points).expect("a plot");
        assert_eq!(drawn.matches("<circle").count(), 3);
        assert!(drawn.contains(r#"data-points="3""#));
        assert!(drawn.contains("price &lt;usd&gt;"));
        // Oldest first, on the left edge, at the bottom (the lowest value).
        assert!(
            drawn.contains(r#"<polyline points="56.0,178.0 323.0,10.0 590.0,94.0"/>"#),
            "{drawn}"
        );
    }

    #[test]
    fn one_point_or_one_value_still_draws() {
        let one = svg(
            "x",
            &[Point {
                at_ms: 0,
                value: 7.0,
            }],
        )
        .expect("a plot");
        assert_eq!(one.matches("<circle").count(), 1);
        assert!(!one.contains("NaN"), "{one}");
        assert_eq!(number(7.25), "7.25");
        assert_eq!(number(3.0), "3");
    }
}
