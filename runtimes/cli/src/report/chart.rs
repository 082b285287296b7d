//! The equity chart (SVG via plotters), downsampled so large runs stay cheap to draw.

use anyhow::anyhow;
use chimera_kernel::ids::PortfolioId;
use chimera_kernel::time::Timestamp;
use chimera_sim::EquityPoint;
use plotters::prelude::*;

/// Points drawn per curve at most.
pub(crate) const MAX_POINTS: usize = 2_000;

/// Chart coordinates only: plotting needs floats (never used for money).
fn to_f64(d: chimera_kernel::Decimal) -> f64 {
    chimera_kernel::value::to_f64_fast(d)
}

/// Keeps the first, last, minimum and maximum of each bucket, so spikes and drawdowns stay
/// visible after downsampling.
fn downsample(curve: &[(i64, f64)]) -> Vec<(i64, f64)> {
    if curve.len() <= MAX_POINTS {
        return curve.to_vec();
    }
    let bucket = curve.len().div_ceil(MAX_POINTS / 2);
    let mut out = Vec::with_capacity(MAX_POINTS + 2);
    for chunk in curve.chunks(bucket) {
        let (mut lo, mut hi) = (chunk[0], chunk[0]);
        for &p in chunk {
            if p.1 < lo.1 {
                lo = p;
            }
            if p.1 > hi.1 {
                hi = p;
            }
        }
        let (first, second) = if lo.0 <= hi.0 { (lo, hi) } else { (hi, lo) };
        out.push(first);
        if second.0 != first.0 {
            out.push(second);
        }
    }
    if let Some(&last) = curve.last() {
        out.push(last);
    }
    out
}

/// A curve in chart coordinates.
fn as_f64(curve: &[EquityPoint]) -> Vec<(i64, f64)> {
    curve.iter().map(|p| (p.ts.0, to_f64(p.equity))).collect()
}

pub(crate) fn date(ms: i64) -> String {
    let text = Timestamp(ms).to_rfc3339();
    text[..16].replace('T', " ")
}

/// Renders all curves into one SVG document.
///
/// # Errors
/// When plotters fails to draw.
pub(crate) fn equity_svg(curves: &[(PortfolioId, Vec<EquityPoint>)]) -> anyhow::Result<String> {
    let series: Vec<(String, Vec<(i64, f64)>)> = curves
        .iter()
        .map(|(id, c)| (id.to_string(), downsample(&as_f64(c))))
        .collect();
    lines_svg(
        "Equity",
        &series,
        &|v| format!("{v:.0}"),
        SeriesLabelPosition::UpperLeft,
    )
}

/// The drawdown of each curve (percent below its running peak).
///
/// # Errors
/// When plotters fails to draw.
pub(crate) fn drawdown_svg(curves: &[(PortfolioId, Vec<EquityPoint>)]) -> anyhow::Result<String> {
    let series: Vec<(String, Vec<(i64, f64)>)> = curves
        .iter()
        .map(|(id, c)| {
            let points: Vec<(i64, f64)> = super::tearsheet::drawdowns(c)
                .into_iter()
                .map(|(ts, d)| (ts, d * 100.0))
                .collect();
            (id.to_string(), downsample(&points))
        })
        .collect();
    lines_svg(
        "Drawdown (%)",
        &series,
        &|v| format!("{v:.1}"),
        SeriesLabelPosition::LowerLeft,
    )
}

fn lines_svg(
    title: &str,
    series: &[(String, Vec<(i64, f64)>)],
    y_format: &dyn Fn(&f64) -> String,
    legend: SeriesLabelPosition,
) -> anyhow::Result<String> {
    let points = series.iter().flat_map(|(_, s)| s.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (i64::MAX, i64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in points {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0, 1, 0.0, 1.0);
    }
    if x1 == x0 {
        x1 = x0 + 1;
    }
    let pad = ((y1 - y0) * 0.05).max(1e-9);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1100, 520)).into_drawing_area();
        let draw = |e: &dyn std::fmt::Display| anyhow!("drawing the {title} chart: {e}");
        root.fill(&WHITE).map_err(|e| draw(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(90)
            .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))
            .map_err(|e| draw(&e))?;
        chart
            .configure_mesh()
            .x_labels(6)
            .y_labels(8)
            .x_label_formatter(&|ms| date(*ms))
            .y_label_formatter(y_format)
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(|e| draw(&e))?;
        for (i, (name, points)) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(|e| draw(&e))?
                .label(name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(legend)
            .draw()
            .map_err(|e| draw(&e))?;
        root.present().map_err(|e| draw(&e))?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::{downsample, MAX_POINTS};

    #[test]
    fn downsampling_keeps_each_buckets_extremes_and_the_last_point() {
        let mut curve: Vec<(i64, f64)> = (0..10_000).map(|i| (i, 100.0)).collect();
        curve[4_321].1 = 5.0;
        curve[7_777].1 = 900.0;
        let drawn = downsample(&curve);
        assert!(drawn.len() <= MAX_POINTS + 2, "{} points", drawn.len());
        assert!(drawn.contains(&(4_321, 5.0)));
        assert!(drawn.contains(&(7_777, 900.0)));
        assert_eq!(drawn.last(), Some(&(9_999, 100.0)));
        assert!(
            drawn.windows(2).all(|w| w[0].0 <= w[1].0),
            "time order kept"
        );
        let short = &curve[..10];
        assert_eq!(downsample(short), short.to_vec());
    }
}
