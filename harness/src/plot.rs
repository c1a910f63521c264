//! SVG miss-ratio curves (plotters, SVG backend only).

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::prelude::*;

use crate::sweep::{policy_names, SweepPoint};

const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Writes one line per policy: x = cache size as % of the footprint (log
/// scale), y = miss ratio.
pub fn write_svg(path: &Path, title: &str, unit: &str, points: &[SweepPoint]) -> Result<()> {
    let err = |e: &dyn std::fmt::Display| anyhow!("plotting: {e}");
    let xs: Vec<f64> = points.iter().map(|p| p.fraction * 100.0).collect();
    let (x_min, x_max) = xs
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    let (x_min, x_max) = if x_min < x_max {
        (x_min, x_max)
    } else {
        (x_min / 2.0, x_max * 2.0)
    };
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(56)
        .build_cartesian_2d((x_min..x_max).log_scale(), 0.0f64..1.0f64)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc(format!("cache size, % of trace footprint ({unit})"))
        .y_desc("miss ratio")
        .draw()
        .map_err(|e| err(&e))?;
    for (i, name) in policy_names(points).iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let series: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| &p.policy == name)
            .map(|p| (p.fraction * 100.0, p.miss_ratio))
            .collect();
        chart
            .draw_series(LineSeries::new(series.clone(), color.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        chart
            .draw_series(
                series
                    .iter()
                    .map(|&(x, y)| Circle::new((x, y), 3, color.filled())),
            )
            .map_err(|e| err(&e))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerLeft)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
