//! Horizontal and vertical flips: exact (no resampling), image and labels together.

use boneseg_data::plane::{Plane, Sample};

fn hflip_plane<T: Copy>(plane: &Plane<T>) -> Plane<T> {
    let mut data = plane.data.clone();
    for row in data.chunks_mut(plane.width.max(1)) {
        row.reverse();
    }
    Plane { width: plane.width, height: plane.height, data }
}

fn vflip_plane<T: Copy>(plane: &Plane<T>) -> Plane<T> {
    let data = plane.data.chunks(plane.width.max(1)).rev().flatten().copied().collect();
    Plane { width: plane.width, height: plane.height, data }
}

/// `A.HorizontalFlip`: column `x` goes to `width - 1 - x`.
pub fn hflip(sample: &Sample) -> Sample {
    Sample::new(hflip_plane(&sample.image), hflip_plane(&sample.labels))
}

/// `A.VerticalFlip`: row `y` goes to `height - 1 - y`.
pub fn vflip(sample: &Sample) -> Sample {
    Sample::new(vflip_plane(&sample.image), vflip_plane(&sample.labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flips_mirror_and_undo_themselves() {
        let sample = Sample::new(
            Plane::from_fn(3, 2, |x, y| (x + 3 * y) as u8),
            Plane::from_fn(3, 2, |x, y| (x * y) as u32),
        );
        assert_eq!(hflip(&sample).image.data, [2, 1, 0, 5, 4, 3]);
        assert_eq!(vflip(&sample).image.data, [3, 4, 5, 0, 1, 2]);
        assert_eq!(hflip(&hflip(&sample)), sample);
        assert_eq!(vflip(&sample).labels.data, [0, 1, 2, 0, 0, 0]);
    }
}
