//! PNG line plots of monitors (forces over time, ...) and log–log scatter
//! plots of measurements, for people who would rather look than read.
//! Drawn with `plotters` into memory, encoded with `png`, and written
//! atomically. The font (DejaVu Sans Mono, licence in
//! `engine/assets/DejaVu-LICENSE`) is embedded, so plots need no system fonts.

use std::path::Path;
use std::sync::Once;

use anyhow::{anyhow, Result};
use plotters::prelude::*;

/// One panel of a figure: a curve with its y-axis label.
#[derive(Clone, Debug)]
pub struct Panel {
    /// The y-axis label.
    pub label: String,
    /// The points `(x, y)`, in order of x.
    pub points: Vec<(f64, f64)>,
    /// Draw only the points from this x on (e.g. to leave out a start-up
    /// transient that would dwarf the rest).
    pub from: Option<f64>,
    /// A second curve to compare with (e.g. the classical solver's next to
    /// a learned one's): its legend and points; the first curve is then
    /// labelled `legend.0`.
    pub reference: Option<Reference>,
}

/// A curve drawn for comparison in a [`Panel`].
#[derive(Clone, Debug)]
pub struct Reference {
    /// Legend of the panel's own curve.
    pub own: String,
    /// Legend of this curve.
    pub label: String,
    /// Its points `(x, y)`.
    pub points: Vec<(f64, f64)>,
}

const WIDTH: u32 = 1000;
const PANEL_HEIGHT: u32 = 320;
const FONT: &[u8] = include_bytes!("../assets/DejaVuSansMono.ttf");

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The embedded font is valid; a failure would only lose the labels.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// The range of `values` with a margin (a flat curve gets a unit-ish range).
fn padded_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = if hi > lo {
        0.05 * (hi - lo)
    } else {
        0.5 * lo.abs().max(1e-12)
    };
    (lo - pad, hi + pad)
}

/// Draws `panels` stacked under a title, sharing the x axis, into `path`.
pub fn panels(path: &Path, title: &str, x_label: &str, panels: &[Panel]) -> Result<()> {
    let height = 40 + PANEL_HEIGHT * panels.len().max(1) as u32;
    figure(path, (WIDTH, height), title, |root| {
        let fail = |e: &dyn std::fmt::Display| failed(path, e);
        let shown = |p: &Panel, points: &[(f64, f64)]| {
            let from = p.from.unwrap_or(f64::NEG_INFINITY);
            points
                .iter()
                .copied()
                .filter(move |q| q.0 >= from)
                .collect::<Vec<_>>()
        };
        let (x0, x1) = padded_range(
            panels
                .iter()
                .flat_map(|p| shown(p, &p.points).into_iter().map(|q| q.0)),
        );
        for (area, panel) in root.split_evenly((panels.len(), 1)).iter().zip(panels) {
            let points = shown(panel, &panel.points);
            let reference = panel
                .reference
                .as_ref()
                .map(|r| (r, shown(panel, &r.points)));
            let (y0, y1) = padded_range(
                points
                    .iter()
                    .chain(reference.iter().flat_map(|(_, p)| p))
                    .map(|q| q.1),
            );
            let mut chart = ChartBuilder::on(area)
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(80)
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(|e| fail(&e))?;
            chart
                .configure_mesh()
                .x_desc(x_label)
                .y_desc(panel.label.as_str())
                .label_style(("sans-serif", 14))
                .draw()
                .map_err(|e| fail(&e))?;
            let own = RGBColor(31, 119, 180);
            let drawn = chart
                .draw_series(LineSeries::new(points, own.stroke_width(2)))
                .map_err(|e| fail(&e))?;
            if let Some((r, points)) = reference {
                let other = RGBColor(214, 39, 40);
                drawn
                    .label(r.own.as_str())
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], own));
                chart
                    .draw_series(LineSeries::new(points, other.stroke_width(2)))
                    .map_err(|e| fail(&e))?
                    .label(r.label.as_str())
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], other));
                legend(&mut chart, SeriesLabelPosition::MiddleRight).map_err(|e| fail(&e))?;
            }
        }
        Ok(())
    })
}

/// One log–log panel of a scatter figure.
#[derive(Clone, Debug)]
pub struct ScatterPanel {
    /// The x-axis label.
    pub x_label: String,
    /// The y-axis label.
    pub y_label: String,
    /// Each series' legend and points `(x, y)` (points that are not
    /// positive cannot be drawn on log axes and are left out).
    pub series: Vec<(String, Vec<(f64, f64)>)>,
}

/// Series colours, in order.
const PALETTE: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
];

/// The range of positive `values` widened by a quarter on a log scale.
fn log_range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
    if lo.is_finite() {
        lo / 1.25..hi * 1.25
    } else {
        1.0..10.0
    }
}

/// A tick label of a log axis: `300`, `1e4`, `0.01`.
fn compact(v: f64) -> String {
    if (1.0..1e4).contains(&v) {
        format!("{v:.0}")
    } else {
        format!("{v:.0e}")
    }
}

/// Draws `panels` side by side under a title, both axes logarithmic, each
/// series as dots of its own colour, into `path`.
pub fn scatter(path: &Path, title: &str, panels: &[ScatterPanel]) -> Result<()> {
    let size = (500 * panels.len().max(1) as u32, 40 + 420);
    figure(path, size, title, |root| {
        let fail = |e: &dyn std::fmt::Display| failed(path, e);
        for (area, panel) in root.split_evenly((1, panels.len())).iter().zip(panels) {
            let points = || panel.series.iter().flat_map(|(_, p)| p.iter());
            let xs = log_range(points().map(|p| p.0));
            // Room at the top for the legend.
            let ys = log_range(points().map(|p| p.1));
            let ys = ys.start..ys.end * 2.5;
            let mut chart = ChartBuilder::on(area)
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d(xs.log_scale(), ys.log_scale())
                .map_err(|e| fail(&e))?;
            chart
                .configure_mesh()
                .x_desc(panel.x_label.as_str())
                .y_desc(panel.y_label.as_str())
                .x_labels(6)
                .y_labels(6)
                .x_label_formatter(&|v| compact(*v))
                .y_label_formatter(&|v| compact(*v))
                .light_line_style(WHITE)
                .label_style(("sans-serif", 14))
                .draw()
                .map_err(|e| fail(&e))?;
            for ((name, series), colour) in panel.series.iter().zip(PALETTE.iter().cycle()) {
                let colour = *colour;
                let dots = series
                    .iter()
                    .filter(|p| p.0 > 0.0 && p.1 > 0.0)
                    .map(move |&p| Circle::new(p, 4, colour.filled()));
                chart
                    .draw_series(dots)
                    .map_err(|e| fail(&e))?
                    .label(name.as_str())
                    .legend(move |(x, y)| Circle::new((x + 10, y), 4, colour.filled()));
            }
            legend(&mut chart, SeriesLabelPosition::UpperLeft).map_err(|e| fail(&e))?;
        }
        Ok(())
    })
}

/// The error of a figure for `path` that could not be drawn.
fn failed(path: &Path, e: &dyn std::fmt::Display) -> anyhow::Error {
    anyhow!("{}: plotting failed: {e}", path.display())
}

/// The drawing area of a figure, below its title.
type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

/// Draws a figure of `size` pixels, white, titled `title`, with `draw`, and
/// writes it as a PNG to `path`, atomically.
fn figure(
    path: &Path,
    (width, height): (u32, u32),
    title: &str,
    draw: impl FnOnce(&Area) -> Result<()>,
) -> Result<()> {
    register_font();
    let mut pixels = vec![0u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| failed(path, &e))?;
        let titled = root
            .titled(title, ("sans-serif", 22))
            .map_err(|e| failed(path, &e))?;
        draw(&titled)?;
        root.present().map_err(|e| failed(path, &e))?;
    }
    pde_mesh::io::vtk::write_atomically(path, |w| {
        let mut encoder = png::Encoder::new(w, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
        writer
            .write_image_data(&pixels)
            .map_err(std::io::Error::other)?;
        writer.finish().map_err(std::io::Error::other)
    })?;
    Ok(())
}

/// Draws the legend of `chart`'s labelled series at `position`.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
}
