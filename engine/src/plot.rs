//! PNG line plots of monitors (forces over time, ...), for people who would
//! rather look than read. Drawn with `plotters` into memory, encoded with
//! `png`, and written atomically. The font (DejaVu Sans Mono, licence in
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
    register_font();
    let height = 40 + PANEL_HEIGHT * panels.len().max(1) as u32;
    let mut pixels = vec![0u8; (WIDTH * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (WIDTH, height)).into_drawing_area();
        let fail = |e: &dyn std::fmt::Display| anyhow!("{}: plotting failed: {e}", path.display());
        root.fill(&WHITE).map_err(|e| fail(&e))?;
        let root = root
            .titled(title, ("sans-serif", 22))
            .map_err(|e| fail(&e))?;
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
                chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .label_font(("sans-serif", 14))
                    .draw()
                    .map_err(|e| fail(&e))?;
            }
        }
        root.present().map_err(|e| fail(&e))?;
    }
    pde_mesh::io::vtk::write_atomically(path, |w| {
        let mut encoder = png::Encoder::new(w, WIDTH, height);
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
