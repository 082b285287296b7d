//! The price chart: the traded symbol's price with the regime as coloured bands behind it
//! (FROZEN blue, EXTREME red), entries and exits as markers (triangles up for buys, down for
//! sells; hollow for exits), and one small panel per feature under it.

use super::tearsheet::Role;
use super::track::MarketTrack;
use anyhow::anyhow;
use chimera_kernel::features::RegimeLabel;
use chimera_kernel::order::Side;
use chimera_kernel::value::to_f64_fast;
use chimera_sim::FillRow;
use plotters::prelude::*;

const PRICE_HEIGHT: u32 = 420;
const PANEL_HEIGHT: u32 = 140;
const MAX_PANELS: usize = 6;
const MAX_MARKERS: usize = 3_000;

fn thin<T: Copy>(points: &[T], max: usize) -> Vec<T> {
    if points.len() <= max {
        return points.to_vec();
    }
    let step = points.len().div_ceil(max);
    points.iter().step_by(step).copied().collect()
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(hi.abs() * 1e-6).max(1e-9);
    (lo - pad, hi + pad)
}

/// Renders the chart, or `None` when the track is empty.
///
/// # Errors
/// When plotters fails to draw.
pub(crate) fn price_svg(
    track: &MarketTrack,
    fills: &[FillRow],
    roles: &[Role],
) -> anyhow::Result<Option<String>> {
    if track.price.len() < 2 {
        return Ok(None);
    }
    let draw = |e: &dyn std::fmt::Display| anyhow!("drawing the price chart: {e}");
    let (x0, x1) = (
        track.price[0].0,
        track.price[track.price.len() - 1]
            .0
            .max(track.price[0].0 + 1),
    );
    let (y0, y1) = bounds(track.price.iter().map(|p| p.1));
    let panels: Vec<usize> = (0..track.names.len())
        .filter(|&i| {
            track
                .features
                .iter()
                .any(|row| row.get(i).copied().flatten().is_some())
        })
        .take(MAX_PANELS)
        .collect();
    let height = PRICE_HEIGHT + PANEL_HEIGHT * u32::try_from(panels.len()).unwrap_or(0);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1100, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| draw(&e))?;
        let breaks: Vec<u32> = (0..panels.len())
            .map(|k| PRICE_HEIGHT + PANEL_HEIGHT * u32::try_from(k).unwrap_or(0))
            .collect();
        let areas = root.split_by_breakpoints(Vec::<u32>::new(), breaks);
        let symbol = track.symbol.as_ref().map_or("", |s| s.as_str());
        let mut chart = ChartBuilder::on(&areas[0])
            .caption(
                format!("{symbol}: price, regime, entries and exits"),
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(90)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| draw(&e))?;
        chart
            .configure_mesh()
            .x_labels(6)
            .y_labels(8)
            .x_label_formatter(&|ms| super::chart::date(*ms))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(|e| draw(&e))?;
        // Regime bands, one rectangle per run of equal labels.
        let mut start = 0;
        for i in 1..=track.regime.len() {
            if i < track.regime.len() && track.regime[i] == track.regime[start] {
                continue;
            }
            let color = match track.regime[start] {
                Some(RegimeLabel::Frozen) => Some(RGBColor(200, 220, 255)),
                Some(RegimeLabel::Extreme) => Some(RGBColor(255, 210, 210)),
                _ => None,
            };
            if let Some(color) = color {
                let (a, b) = (
                    track.price[start].0,
                    track.price[i.min(track.price.len() - 1)].0,
                );
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(a, y0), (b, y1)],
                        color.mix(0.6).filled(),
                    )))
                    .map_err(|e| draw(&e))?;
            }
            start = i;
        }
        let line: Vec<(i64, f64)> = thin(&track.price, 4_000);
        chart
            .draw_series(LineSeries::new(line, RGBColor(60, 60, 60).stroke_width(1)))
            .map_err(|e| draw(&e))?;
        let marks: Vec<(i64, f64, Side, Role)> = fills
            .iter()
            .zip(roles)
            .filter(|(f, _)| Some(&f.symbol) == track.symbol.as_ref())
            .map(|(f, r)| (f.ts.0, to_f64_fast(f.price.get()), f.side, *r))
            .collect();
        let size = if marks.len() > 500 { 3 } else { 5 };
        for (x, y, side, role) in thin(&marks, MAX_MARKERS) {
            let color = if side == Side::Buy {
                RGBColor(0, 140, 0)
            } else {
                RGBColor(200, 0, 0)
            };
            let style = if role == Role::Entry {
                color.filled()
            } else {
                color.stroke_width(1)
            };
            let marker = TriangleMarker::new((x, y), size, style);
            if side == Side::Buy {
                chart
                    .draw_series(std::iter::once(marker))
                    .map_err(|e| draw(&e))?;
            } else {
                // Pointing down: a triangle drawn as a polygon.
                let d = (y1 - y0) / f64::from(PRICE_HEIGHT) * f64::from(size) * 1.6;
                let w = (x1 - x0) / 1100 * i64::from(size);
                let shape = [(x - w, y + d), (x + w, y + d), (x, y - d)];
                let poly = Polygon::new(shape.to_vec(), style);
                chart
                    .draw_series(std::iter::once(poly))
                    .map_err(|e| draw(&e))?;
            }
        }
        for (k, &i) in panels.iter().enumerate() {
            let series: Vec<(i64, f64)> = track
                .price
                .iter()
                .zip(&track.features)
                .filter_map(|((ts, _), row)| Some((*ts, row.get(i).copied().flatten()?)))
                .filter(|(_, v)| v.is_finite())
                .collect();
            let (lo, hi) = bounds(series.iter().map(|p| p.1));
            let mut panel = ChartBuilder::on(&areas[k + 1])
                .caption(&track.names[i], ("sans-serif", 14))
                .margin(8)
                .x_label_area_size(20)
                .y_label_area_size(90)
                .build_cartesian_2d(x0..x1, lo..hi)
                .map_err(|e| draw(&e))?;
            panel
                .configure_mesh()
                .x_labels(6)
                .y_labels(4)
                .x_label_formatter(&|ms| super::chart::date(*ms))
                .light_line_style(RGBColor(240, 240, 240))
                .draw()
                .map_err(|e| draw(&e))?;
            panel
                .draw_series(LineSeries::new(
                    thin(&series, 4_000),
                    Palette99::pick(k).stroke_width(1),
                ))
                .map_err(|e| draw(&e))?;
        }
        root.present().map_err(|e| draw(&e))?;
    }
    Ok(Some(svg))
}
