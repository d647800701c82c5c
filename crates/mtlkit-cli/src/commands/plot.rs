//! Figures (SVG and PNG, plotters): coefficient row-norm paths and cross-validation curves.
//!
//! Text is drawn with the bundled DejaVu Sans Mono (`assets/`, Bitstream Vera licence), so PNGs
//! look the same on every machine. Each file is written to a temporary name and renamed.

use std::path::{Path, PathBuf};
use std::sync::Once;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

static FONT: Once = Once::new();
const FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSansMono.ttf");

fn register_font() {
    FONT.call_once(|| {
        // a bundled, valid font: registration cannot fail for a reason a user could fix
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT_BYTES);
    });
}

/// A line of a figure.
pub struct Line {
    /// Points `(alpha, value)`.
    pub points: Vec<(f64, f64)>,
    /// Error bar half-widths (same length as `points`), if any.
    pub err: Option<Vec<f64>>,
    /// Legend label, if any.
    pub label: Option<String>,
}

/// What to draw.
pub struct Figure<'a> {
    /// Title.
    pub title: &'a str,
    /// y-axis label.
    pub y_label: &'a str,
    /// The lines.
    pub lines: Vec<Line>,
    /// A vertical marker at this alpha (the chosen one), if any.
    pub marker: Option<f64>,
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, fig: &Figure<'_>) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing the figure: {e:?}");
    root.fill(&WHITE).map_err(e)?;
    let xs = fig.lines.iter().flat_map(|l| l.points.iter().map(|p| p.0));
    let (xmin, xmax) = xs.fold((f64::INFINITY, 0.0f64), |(a, b), x| (a.min(x), b.max(x)));
    let ys = fig.lines.iter().flat_map(|l| {
        l.points.iter().enumerate().flat_map(move |(i, p)| {
            let w = l.err.as_ref().map_or(0.0, |e| e[i]);
            [p.1 - w, p.1 + w]
        })
    });
    let (ymin, ymax) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
        (a.min(y), b.max(y))
    });
    let pad = ((ymax - ymin) * 0.05).max(1e-12);
    let (xmin, xmax) = if xmin < xmax {
        (xmin, xmax)
    } else {
        (xmin * 0.5, xmin * 2.0 + 1e-12)
    };
    let mut chart = ChartBuilder::on(root)
        .caption(fig.title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((xmin..xmax).log_scale(), (ymin - pad)..(ymax + pad))
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("alpha (log scale)")
        .y_desc(fig.y_label)
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(e)?;
    for (k, line) in fig.lines.iter().enumerate() {
        let color = Palette99::pick(k).to_rgba();
        let series = chart
            .draw_series(LineSeries::new(
                line.points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(e)?;
        if let Some(l) = &line.label {
            series.label(l.clone()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        }
        if let Some(err) = &line.err {
            chart
                .draw_series(
                    line.points
                        .iter()
                        .zip(err)
                        .map(|(&(x, y), &w)| PathElement::new(vec![(x, y - w), (x, y + w)], color)),
                )
                .map_err(e)?;
        }
    }
    if let Some(a) = fig.marker {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(a, ymin - pad), (a, ymax + pad)],
                RED.stroke_width(2),
            )))
            .map_err(e)?;
    }
    if fig.lines.iter().any(|l| l.label.is_some()) {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 12))
            .draw()
            .map_err(e)?;
    }
    root.present().map_err(e)?;
    Ok(())
}

/// Write `fig` as `<base>.svg` and `<base>.png` (800 × 500); returns the two paths.
pub fn write(fig: &Figure<'_>, base: &Path) -> Result<Vec<PathBuf>> {
    register_font();
    let mut out = Vec::new();
    for ext in ["svg", "png"] {
        let path = base.with_extension(ext);
        let tmp = base.with_extension(format!("tmp.{ext}"));
        {
            if ext == "svg" {
                let root = SVGBackend::new(&tmp, (800, 500)).into_drawing_area();
                draw(&root, fig)?;
            } else {
                let root = BitMapBackend::new(&tmp, (800, 500)).into_drawing_area();
                draw(&root, fig)?;
            }
        }
        std::fs::rename(&tmp, &path).map_err(|e| anyhow!("writing '{}': {e}", path.display()))?;
        out.push(path);
    }
    Ok(out)
}
