//! Hand-written SVG charts (plain text elements, no font files or system
//! libraries needed to draw them).

use std::fmt::Write as _;

const COLORS: [&str; 4] = ["#1f77b4", "#d62728", "#7fb8e0", "#f08c8c"];

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A latency distribution chart: the share of deliveries at or below each
/// latency (a CDF), one line per series, log-scaled latency axis.
pub fn latency_cdf(title: &str, series: &[(&str, &[u32])]) -> String {
    let (w, h) = (760.0, 420.0);
    let (left, right, top, bottom) = (70.0, 20.0, 40.0, 60.0);
    let pw = w - left - right;
    let ph = h - top - bottom;
    // Axis from 10 µs to the next decade above the largest value.
    let max_us = series
        .iter()
        .filter_map(|(_, s)| s.iter().max().copied())
        .max()
        .unwrap_or(1)
        .max(10);
    let lo = 1.0f64; // log10(10 µs)
    let hi = (f64::from(max_us)).log10().ceil().max(lo + 1.0);
    let x = |us: f64| left + (us.max(10.0).log10() - lo) / (hi - lo) * pw;
    let y = |share: f64| top + (1.0 - share) * ph;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>
"#,
        w / 2.0,
        escape(title)
    );
    // Grid: decades on x, quarters on y.
    let mut decade = lo;
    while decade <= hi {
        let gx = left + (decade - lo) / (hi - lo) * pw;
        let us = 10f64.powf(decade);
        let label = if us >= 1000.0 {
            format!("{} ms", us / 1000.0)
        } else {
            format!("{us} µs")
        };
        let _ = writeln!(
            svg,
            r##"<line x1="{gx}" y1="{top}" x2="{gx}" y2="{}" stroke="#ddd"/><text x="{gx}" y="{}" text-anchor="middle">{label}</text>"##,
            top + ph,
            top + ph + 16.0
        );
        decade += 1.0;
    }
    for q in 0..=4 {
        let share = f64::from(q) / 4.0;
        let gy = y(share);
        let _ = writeln!(
            svg,
            r##"<line x1="{left}" y1="{gy}" x2="{}" y2="{gy}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{}%</text>"##,
            left + pw,
            left - 6.0,
            gy + 4.0,
            q * 25
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">latency (log scale)</text><text x="16" y="{}" transform="rotate(-90 16 {})" text-anchor="middle">deliveries at or below</text>"#,
        left + pw / 2.0,
        h - 14.0,
        top + ph / 2.0,
        top + ph / 2.0
    );
    for (i, (name, samples)) in series.iter().enumerate() {
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        if sorted.is_empty() {
            continue;
        }
        let mut points = String::new();
        let steps = 400;
        for s in 0..=steps {
            let share = f64::from(s) / f64::from(steps);
            let idx = ((share * (sorted.len() - 1) as f64).round() as usize).min(sorted.len() - 1);
            let _ = write!(points, "{:.1},{:.1} ", x(f64::from(sorted[idx])), y(share));
        }
        let color = COLORS[i % COLORS.len()];
        let dash = if i >= 2 {
            r#" stroke-dasharray="6 3""#
        } else {
            ""
        };
        let p50 = f64::from(sorted[sorted.len() / 2]) / 1e3;
        let p99 = f64::from(sorted[(sorted.len() - 1) * 99 / 100]) / 1e3;
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2"{dash} points="{points}"/>
<rect x="{}" y="{}" width="12" height="12" fill="{color}"/><text x="{}" y="{}">{} (p50 {p50:.2} ms, p99 {p99:.2} ms)</text>"#,
            left + 10.0,
            top + 10.0 + 18.0 * i as f64,
            left + 28.0,
            top + 20.0 + 18.0 * i as f64,
            escape(name)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// One panel of [`bar_panels`]: ours against another crate on one measure.
pub struct Bars {
    /// The measure, with its unit.
    pub title: String,
    /// Our figure.
    pub sse: f64,
    /// The other crate's figure.
    pub other: f64,
    /// The other crate's name.
    pub other_name: &'static str,
}

/// Ours against the other crate, one horizontal bar pair per measure.
pub fn bar_panels(panels: &[Bars]) -> String {
    let w = 760.0;
    let panel_h = 90.0;
    let h = 40.0 + panel_h * panels.len() as f64;
    let (left, right) = (90.0, 140.0);
    let pw = w - left - right;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="22" text-anchor="middle" font-size="14">sse against the alternatives, per measure</text>
"#,
        w / 2.0
    );
    for (i, panel) in panels.iter().enumerate() {
        let top = 40.0 + panel_h * i as f64;
        let max = panel.sse.max(panel.other).max(1e-9);
        let _ = writeln!(
            svg,
            r#"<text x="10" y="{}" font-weight="bold">{}</text>"#,
            top + 14.0,
            escape(&panel.title)
        );
        for (j, (name, value)) in [("sse", panel.sse), (panel.other_name, panel.other)]
            .into_iter()
            .enumerate()
        {
            let by = top + 24.0 + 26.0 * j as f64;
            let bw = value / max * pw;
            let _ = writeln!(
                svg,
                r#"<text x="{}" y="{}" text-anchor="end">{name}</text><rect x="{left}" y="{by}" width="{bw:.1}" height="20" fill="{}"/><text x="{}" y="{}">{}</text>"#,
                left - 8.0,
                by + 14.0,
                COLORS[j],
                left + bw + 6.0,
                by + 14.0,
                format_value(value)
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

fn format_value(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}
