//! Label polygons moved with their image: each point mapped, the polygon clipped to a rectangle
//! (Sutherland–Hodgman, so a bone leaving the image keeps its inside part), rounded back to the
//! integer points the competition files hold.

use boneseg_contract::{AnnotationFile, Polygon};

/// An axis-aligned rectangle of pixel coordinates, inclusive: `[x0, x1] x [y0, y1]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    pub x0: f64,
    pub y0: f64,
    pub x1: f64,
    pub y1: f64,
}

impl Rect {
    /// The whole of a `width x height` image.
    pub fn image(width: usize, height: usize) -> Rect {
        Rect { x0: 0.0, y0: 0.0, x1: width as f64 - 1.0, y1: height as f64 - 1.0 }
    }
}

/// Clips a closed polygon to `rect`.
pub fn clip(points: &[[f64; 2]], rect: &Rect) -> Vec<[f64; 2]> {
    // Each edge: the axis it cuts, where, and whether the inside lies above that value.
    let edges = [(0, rect.x0, true), (0, rect.x1, false), (1, rect.y0, true), (1, rect.y1, false)];
    let mut out = points.to_vec();
    for (axis, value, above) in edges {
        let inside = |p: [f64; 2]| if above { p[axis] >= value } else { p[axis] <= value };
        let input = std::mem::take(&mut out);
        let Some(&last) = input.last() else { break };
        let mut previous = last;
        for &point in &input {
            let crossing = || {
                let t = (value - previous[axis]) / (point[axis] - previous[axis]);
                let mut p =
                    [previous[0] + t * (point[0] - previous[0]), previous[1] + t * (point[1] - previous[1])];
                p[axis] = value;
                p
            };
            match (inside(previous), inside(point)) {
                (true, true) => out.push(point),
                (true, false) => out.push(crossing()),
                (false, true) => {
                    out.push(crossing());
                    out.push(point);
                }
                (false, false) => {}
            }
            previous = point;
        }
    }
    out
}

/// Integer points without consecutive repeats; `None` when fewer than 3 remain.
fn round_points(points: &[[f64; 2]]) -> Option<Vec<[i32; 2]>> {
    let mut out: Vec<[i32; 2]> = Vec::with_capacity(points.len());
    for p in points {
        let q = [p[0].round() as i32, p[1].round() as i32];
        if out.last() != Some(&q) {
            out.push(q);
        }
    }
    while out.len() > 1 && out.first() == out.last() {
        out.pop();
    }
    (out.len() >= 3).then_some(out)
}

/// Every polygon mapped by `map`, clipped to `rect` and rounded; polygons that vanish (outside,
/// or collapsed to fewer than 3 points) are dropped. `suffix` is appended to each id.
pub fn map_polygons(
    file: &AnnotationFile,
    map: impl Fn([f64; 2]) -> [f64; 2],
    rect: &Rect,
    suffix: &str,
) -> Vec<Polygon> {
    file.polygons
        .iter()
        .filter_map(|polygon| {
            let mapped: Vec<[f64; 2]> =
                polygon.points.iter().map(|&[x, y]| map([f64::from(x), f64::from(y)])).collect();
            let points = round_points(&clip(&mapped, rect))?;
            Some(Polygon { id: format!("{}{suffix}", polygon.id), class: polygon.class, points })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_keeps_the_inside_part() {
        let square = [[-5.0, -5.0], [5.0, -5.0], [5.0, 5.0], [-5.0, 5.0]];
        let clipped = clip(&square, &Rect::image(100, 100));
        let rounded = round_points(&clipped).unwrap();
        assert_eq!(rounded, vec![[0, 0], [5, 0], [5, 5], [0, 5]]);
        assert!(clip(&[[-9.0, -9.0], [-5.0, -9.0], [-5.0, -5.0]], &Rect::image(10, 10)).is_empty());
        assert!(round_points(&[[1.0, 1.0], [1.2, 1.1], [0.9, 1.0]]).is_none(), "collapsed to a point");
    }
}
