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

/// Tick labels of categories drawn as unit cells `[i, i + 1)`: the name of category `i` at the
/// cell's centre `i + 0.5` (when `show`), nothing at other ticks.
fn category_labels(labels: Vec<String>, show: bool) -> impl Fn(&f64) -> String {
    move |v: &f64| {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let i = v.floor() as usize;
        if show && (*v - i as f64 - 0.5).abs() < 1e-6 {
            labels.get(i).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    }
}

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

/// The widest alpha range a path figure draws, in decades.
const MAX_DECADES: f64 = 60.0;

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, fig: &Figure<'_>) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing the figure: {e:?}");
    root.fill(&WHITE).map_err(e)?;
    let xs = fig.lines.iter().flat_map(|l| l.points.iter().map(|p| p.0));
    // the log axis takes positive normal alphas over a sane span (plotters' log ticks loop
    // without end on subnormal ends or hundreds of decades)
    let (xmin, xmax) = xs
        .filter(|&x| drawable(x))
        .fold((f64::INFINITY, 0.0f64), |(a, b), x| (a.min(x), b.max(x)));
    if xmax == 0.0 {
        return Err(anyhow!(
            "no positive alpha to draw on the figure's log axis (alpha = 0 has no place on it)"
        ));
    }
    if (xmax / xmin).log10() > MAX_DECADES {
        return Err(anyhow!(
            "the alphas span {:.0} decades ({xmin:e} to {xmax:e}); a figure draws at most \
             {MAX_DECADES} (give a narrower grid)",
            (xmax / xmin).log10()
        ));
    }
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
        legend(&mut chart).map_err(e)?;
    }
    root.present().map_err(e)?;
    Ok(())
}

/// The series legend of a chart, in the figures' one style.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 12))
        .draw()
}

/// Write `fig` as `<base>.svg` and `<base>.png` (800 × 500); returns the two paths.
pub fn write(fig: &Figure<'_>, base: &Path) -> Result<Vec<PathBuf>> {
    let off = fig
        .lines
        .iter()
        .flat_map(|l| l.points.iter())
        .filter(|p| !drawable(p.0))
        .count();
    if off > 0 {
        log::warn!(
            "{off} point(s) at alpha = 0 (or below f64's normal range) left off the figure's \
             log axis"
        );
    }
    write_both(base, (800, 500), |a| draw(a, fig), |a| draw(a, fig))
}

/// Whether an alpha has a place on the log axis (positive, normal, finite).
fn drawable(x: f64) -> bool {
    x >= f64::MIN_POSITIVE && x.is_finite()
}

/// A task affinity heatmap: `matrix` (`T × T`) with tasks in the given order, blocks (`[start,
/// end)` in that order) outlined.
pub struct Heatmap<'a> {
    /// Title.
    pub title: &'a str,
    /// Task names, in display order.
    pub labels: Vec<String>,
    /// The matrix, in display order.
    pub matrix: Vec<Vec<f64>>,
    /// Group blocks `[start, end)` along the diagonal.
    pub blocks: Vec<(usize, usize)>,
}

/// Blue (negative) – white (0) – red (positive), `v` scaled to `[-1, 1]`.
fn diverging(v: f64) -> RGBColor {
    let v = v.clamp(-1.0, 1.0);
    let fade = |c: f64| (255.0 * (1.0 - v.abs()) + c * v.abs()) as u8;
    if v >= 0.0 {
        RGBColor(fade(200.0), fade(30.0), fade(40.0))
    } else {
        RGBColor(fade(30.0), fade(80.0), fade(200.0))
    }
}

fn draw_heatmap<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, h: &Heatmap<'_>) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing the heatmap: {e:?}");
    root.fill(&WHITE).map_err(e)?;
    let n = h.matrix.len();
    let scale = h
        .matrix
        .iter()
        .enumerate()
        .flat_map(|(i, r)| r.iter().enumerate().filter(move |(j, _)| *j != i))
        .fold(0.0f64, |m, (_, v)| m.max(v.abs()))
        .max(1e-12);
    let show_labels = n <= 60;
    let label_area = if show_labels { 110 } else { 30 };
    let title = format!("{} (colour: -{scale:.2} blue .. +{scale:.2} red)", h.title);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(label_area)
        .y_label_area_size(label_area)
        .build_cartesian_2d(0f64..n as f64, n as f64..0f64)
        .map_err(e)?;
    let fmt = category_labels(h.labels.clone(), show_labels);
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(if show_labels { 2 * n + 1 } else { 0 })
        .y_labels(if show_labels { 2 * n + 1 } else { 0 })
        .x_label_formatter(&fmt)
        .y_label_formatter(&fmt)
        .x_label_style(
            ("sans-serif", 10)
                .into_font()
                .transform(FontTransform::Rotate90),
        )
        .y_label_style(("sans-serif", 10))
        .draw()
        .map_err(e)?;
    chart
        .draw_series(h.matrix.iter().enumerate().flat_map(|(i, r)| {
            r.iter().enumerate().map(move |(j, &v)| {
                Rectangle::new(
                    [(j as f64, i as f64), (j as f64 + 1.0, i as f64 + 1.0)],
                    diverging(v / scale).filled(),
                )
            })
        }))
        .map_err(e)?;
    chart
        .draw_series(h.blocks.iter().map(|&(a, b)| {
            Rectangle::new(
                [(a as f64, a as f64), (b as f64, b as f64)],
                BLACK.stroke_width(2),
            )
        }))
        .map_err(e)?;
    root.present().map_err(e)?;
    Ok(())
}

/// One bar: `(mean, half-width of the error bar, flagged)`.
pub type BarValue = (f64, f64, bool);

/// A bar chart of per-task gains with error bars, two series side by side.
pub struct Bars<'a> {
    /// Title.
    pub title: &'a str,
    /// y-axis label.
    pub y_label: &'a str,
    /// Task names.
    pub labels: Vec<String>,
    /// Series: name, `(mean, se, flagged)` per task.
    pub series: Vec<(String, Vec<BarValue>)>,
}

fn draw_bars<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, b: &Bars<'_>) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing the bar chart: {e:?}");
    root.fill(&WHITE).map_err(e)?;
    let n = b.labels.len();
    let vals = b
        .series
        .iter()
        .flat_map(|(_, v)| v.iter())
        .filter(|(m, s, _)| m.is_finite() && s.is_finite())
        .flat_map(|&(m, s, _)| [m - s, m + s]);
    let (lo, hi) = vals.fold((0.0f64, 0.0f64), |(a, c), v| (a.min(v), c.max(v)));
    let pad = ((hi - lo) * 0.05).max(1e-6);
    let show_labels = n <= 60;
    let mut chart = ChartBuilder::on(root)
        .caption(b.title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(if show_labels { 110 } else { 40 })
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..n as f64, (lo - pad)..(hi + pad))
        .map_err(e)?;
    let fmt = category_labels(b.labels.clone(), show_labels);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(if show_labels { 2 * n + 1 } else { 0 })
        .x_label_formatter(&fmt)
        .x_label_style(
            ("sans-serif", 10)
                .into_font()
                .transform(FontTransform::Rotate90),
        )
        .x_desc(if show_labels {
            ""
        } else {
            "tasks, ordered by group"
        })
        .y_desc(b.y_label)
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(e)?;
    let k = b.series.len().max(1) as f64;
    let width = 0.8 / k;
    for (s, (name, v)) in b.series.iter().enumerate() {
        let color = Palette99::pick(s).to_rgba();
        let x0 = move |i: usize| i as f64 + 0.1 + width * s as f64;
        chart
            .draw_series(v.iter().enumerate().filter(|(_, t)| t.0.is_finite()).map(
                |(i, &(m, _, _))| {
                    Rectangle::new([(x0(i), 0.0), (x0(i) + width, m)], color.filled())
                },
            ))
            .map_err(e)?
            .label(name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
        chart
            .draw_series(
                v.iter()
                    .enumerate()
                    .filter(|(_, t)| t.0.is_finite() && t.1.is_finite())
                    .map(|(i, &(m, se, _))| {
                        let c = x0(i) + width / 2.0;
                        PathElement::new(vec![(c, m - se), (c, m + se)], BLACK)
                    }),
            )
            .map_err(e)?;
        chart
            .draw_series(
                v.iter()
                    .enumerate()
                    .filter(|(_, t)| t.2)
                    .map(|(i, &(m, se, _))| {
                        let c = x0(i) + width / 2.0;
                        let y = if m < 0.0 {
                            m - se - pad * 0.5
                        } else {
                            m + se + pad * 0.5
                        };
                        Circle::new((c, y), 4, RED.filled())
                    }),
            )
            .map_err(e)?;
    }
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(0.0, 0.0), (n as f64, 0.0)],
            BLACK,
        )))
        .map_err(e)?;
    legend(&mut chart).map_err(e)?;
    root.present().map_err(e)?;
    Ok(())
}

/// Write `h` as `<base>.svg` and `<base>.png` (800 × 800).
pub fn write_heatmap(h: &Heatmap<'_>, base: &Path) -> Result<Vec<PathBuf>> {
    write_both(
        base,
        (800, 800),
        |root| draw_heatmap(root, h),
        |root| draw_heatmap(root, h),
    )
}

/// Write `b` as `<base>.svg` and `<base>.png` (1000 × 500).
pub fn write_bars(b: &Bars<'_>, base: &Path) -> Result<Vec<PathBuf>> {
    write_both(
        base,
        (1000, 500),
        |root| draw_bars(root, b),
        |root| draw_bars(root, b),
    )
}

type SvgArea<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type PngArea<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

fn write_both(
    base: &Path,
    size: (u32, u32),
    svg: impl Fn(&SvgArea<'_>) -> Result<()>,
    png: impl Fn(&PngArea<'_>) -> Result<()>,
) -> Result<Vec<PathBuf>> {
    register_font();
    let mut out = Vec::new();
    for ext in ["svg", "png"] {
        let path = base.with_extension(ext);
        // a hidden temporary of this process beside the target (no user file of a plain
        // `name.tmp.ext` is touched), removed when drawing or the rename fails
        let stem = base
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let tmp = base.with_file_name(format!(".{stem}.{}.tmp.{ext}", std::process::id()));
        let written = if ext == "svg" {
            svg(&SVGBackend::new(&tmp, size).into_drawing_area())
        } else {
            png(&BitMapBackend::new(&tmp, size).into_drawing_area())
        }
        .and_then(|()| {
            std::fs::rename(&tmp, &path).map_err(|e| anyhow!("writing '{}': {e}", path.display()))
        });
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        out.push(path);
    }
    Ok(out)
}
