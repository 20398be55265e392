//! Finding the cell that holds a point: a uniform grid of buckets over the
//! mesh's bounding box, each listing the cells whose bounding box meets it,
//! so a query tests a handful of cells instead of all of them (probes,
//! interpolation between moved meshes, monitor functions).

/// Cells by bucket of a uniform grid over their bounding boxes.
#[derive(Clone, Debug)]
pub struct CellGrid {
    dim: usize,
    lower: [f64; 3],
    /// Bucket widths.
    width: [f64; 3],
    /// Buckets along each axis (1 beyond `dim`).
    counts: [usize; 3],
    /// CSR: bucket `b` holds `cells[start[b]..start[b + 1]]`.
    start: Vec<usize>,
    cells: Vec<usize>,
}

impl CellGrid {
    /// The grid of `boxes` (each cell's lower and upper corner) in `dim`
    /// dimensions, with about two cells per bucket.
    pub fn new(dim: usize, boxes: &[([f64; 3], [f64; 3])]) -> CellGrid {
        let mut lower = [0.0; 3];
        let mut upper = [0.0; 3];
        for a in 0..dim {
            lower[a] = boxes.iter().map(|b| b.0[a]).fold(f64::INFINITY, f64::min);
            upper[a] = boxes
                .iter()
                .map(|b| b.1[a])
                .fold(f64::NEG_INFINITY, f64::max);
        }
        let per_axis = ((boxes.len() as f64 / 2.0).max(1.0))
            .powf(1.0 / dim.max(1) as f64)
            .ceil() as usize;
        let mut counts = [1; 3];
        let mut width = [1.0; 3];
        for a in 0..dim {
            counts[a] = per_axis.max(1);
            let span = upper[a] - lower[a];
            width[a] = if span > 0.0 {
                span / counts[a] as f64
            } else {
                1.0
            };
        }
        let mut grid = CellGrid {
            dim,
            lower,
            width,
            counts,
            start: Vec::new(),
            cells: Vec::new(),
        };
        // Two passes (count, then fill) build the CSR without a Vec per bucket.
        let buckets = counts.iter().product::<usize>();
        let mut start = vec![0usize; buckets + 1];
        for b in boxes {
            grid.for_buckets(b, |k| start[k + 1] += 1);
        }
        for k in 0..buckets {
            start[k + 1] += start[k];
        }
        let mut cells = vec![0; start[buckets]];
        let mut next = start.clone();
        for (c, b) in boxes.iter().enumerate() {
            grid.for_buckets(b, |k| {
                cells[next[k]] = c;
                next[k] += 1;
            });
        }
        grid.start = start;
        grid.cells = cells;
        grid
    }

    /// The bucket index along axis `a` of coordinate `x` (clamped).
    fn index(&self, a: usize, x: f64) -> usize {
        let i = ((x - self.lower[a]) / self.width[a]).floor();
        (i.max(0.0) as usize).min(self.counts[a] - 1)
    }

    /// Calls `f` with every bucket the box meets.
    fn for_buckets(&self, b: &([f64; 3], [f64; 3]), mut f: impl FnMut(usize)) {
        let mut lo = [0; 3];
        let mut hi = [0; 3];
        for a in 0..self.dim {
            lo[a] = self.index(a, b.0[a]);
            hi[a] = self.index(a, b.1[a]);
        }
        for i in lo[0]..=hi[0] {
            for j in lo[1]..=hi[1] {
                for k in lo[2]..=hi[2] {
                    f(i + self.counts[0] * (j + self.counts[1] * k));
                }
            }
        }
    }

    /// The cells whose bounding box meets the buckets within a bucket's
    /// width of `p` (clamped to the grid): where the cell nearest to a
    /// point just outside the mesh is, sorted.
    pub fn around(&self, p: [f64; 3]) -> Vec<usize> {
        let reach = (
            std::array::from_fn(|a| p[a] - self.width[a]),
            std::array::from_fn(|a| p[a] + self.width[a]),
        );
        let mut cells = Vec::new();
        self.for_buckets(&reach, |k| {
            cells.extend_from_slice(&self.cells[self.start[k]..self.start[k + 1]]);
        });
        cells.sort_unstable();
        cells.dedup();
        cells
    }

    /// The cells whose bounding box may hold `p` (none outside the grid,
    /// beyond a relative margin for round-off).
    pub fn candidates(&self, p: [f64; 3]) -> &[usize] {
        let mut bucket = [0; 3];
        for a in 0..self.dim {
            let span = self.width[a] * self.counts[a] as f64;
            let margin = 1e-9 * span.max(1.0);
            let x = p[a];
            if !(x >= self.lower[a] - margin && x <= self.lower[a] + span + margin) {
                return &[];
            }
            bucket[a] = self.index(a, x);
        }
        let k = bucket[0] + self.counts[0] * (bucket[1] + self.counts[1] * bucket[2]);
        &self.cells[self.start[k]..self.start[k + 1]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_box_is_found_from_its_points() {
        // A row of unit boxes along x, and one tall box across them.
        let mut boxes: Vec<_> = (0..10)
            .map(|i| ([i as f64, 0.0, 0.0], [i as f64 + 1.0, 1.0, 0.0]))
            .collect();
        boxes.push(([0.0, 0.0, 0.0], [10.0, 0.5, 0.0]));
        let grid = CellGrid::new(2, &boxes);
        for (c, b) in boxes.iter().enumerate() {
            let centre = [0.5 * (b.0[0] + b.1[0]), 0.5 * (b.0[1] + b.1[1]), 0.0];
            assert!(grid.candidates(centre).contains(&c), "box {c}");
        }
        assert!(grid.candidates([11.0, 0.5, 0.0]).is_empty());
        assert!(grid.candidates([-1e-13, 0.0, 0.0]).contains(&0));
    }
}
