//! Convolution of f32 NCHW slices as GEMMs over im2col columns, for the CPU.
//!
//! The three passes of a training step share one shape of work: a *task* is one image, one group
//! and a block of whole output rows, whose im2col columns (`K x pixels`, `K = channels per group x
//! kernel area`) are kept under [`COLUMN_BUDGET`] floats so they stay in cache. Per task:
//!
//! - forward: `out = W · columns`;
//! - weight gradient: `dW += dOut · columnsᵀ`, one GEMM per task, summed over tasks;
//! - input gradient: with stride 1, the forward of a convolution of `dOut` with the flipped
//!   kernel; otherwise `dColumns = Wᵀ · dOut`, then col2im adds the columns back into `dX`.
//!
//! Tasks run in parallel on rayon's pool and each GEMM is single-threaded, so the cores work on
//! independent blocks instead of splitting small GEMMs. A pointwise convolution (1x1, stride 1,
//! no padding) uses the input itself as its columns. The `gemm` crate picks the widest SIMD the
//! CPU has at run time (AVX-512 where present, else AVX2/FMA).

use rayon::prelude::*;

use crate::affine::Affine;

/// Floats in one task's column buffer (1 MiB).
const COLUMN_BUDGET: usize = 1 << 18;

/// Shapes and options of one 2-D convolution, as burn's `ConvOptions` gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub batch: usize,
    pub channels_in: usize,
    pub channels_out: usize,
    pub groups: usize,
    pub input: [usize; 2],
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    /// Zeros added before the first row and column; those after the last only shorten `output`.
    pub padding_begin: [usize; 2],
    pub dilation: [usize; 2],
    pub output: [usize; 2],
}

impl Geometry {
    /// `x` is `[batch, channels_in, h, w]`, `weight` `[channels_out, channels_in / groups, kh, kw]`,
    /// `padding` `(begin, end)` per spatial dimension.
    pub fn new(
        x: [usize; 4],
        weight: [usize; 4],
        stride: [usize; 2],
        padding: [(usize, usize); 2],
        dilation: [usize; 2],
        groups: usize,
    ) -> Self {
        assert_eq!(
            x[1],
            weight[1] * groups,
            "conv2d: input channels {} != {} x {groups} groups",
            x[1],
            weight[1]
        );
        assert_eq!(
            weight[0] % groups,
            0,
            "conv2d: {} output channels are not divisible by {groups} groups",
            weight[0]
        );
        let output = std::array::from_fn(|d| {
            let padded = x[2 + d] + padding[d].0 + padding[d].1;
            let span = dilation[d] * (weight[2 + d] - 1) + 1;
            assert!(padded >= span, "conv2d: kernel {span} is larger than the padded input {padded}");
            (padded - span) / stride[d] + 1
        });
        Self {
            batch: x[0],
            channels_in: x[1],
            channels_out: weight[0],
            groups,
            input: [x[2], x[3]],
            kernel: [weight[2], weight[3]],
            stride,
            padding_begin: [padding[0].0, padding[1].0],
            dilation,
            output,
        }
    }

    pub fn output_shape(&self) -> [usize; 4] {
        [self.batch, self.channels_out, self.output[0], self.output[1]]
    }

    fn group_in(&self) -> usize {
        self.channels_in / self.groups
    }

    fn group_out(&self) -> usize {
        self.channels_out / self.groups
    }

    /// Rows of the im2col matrix: input channels of a group times the kernel area.
    fn depth(&self) -> usize {
        self.group_in() * self.kernel[0] * self.kernel[1]
    }

    fn input_pixels(&self) -> usize {
        self.input[0] * self.input[1]
    }

    fn output_pixels(&self) -> usize {
        self.output[0] * self.output[1]
    }

    /// The columns are the input itself.
    fn is_pointwise(&self) -> bool {
        self.kernel == [1, 1]
            && self.stride == [1, 1]
            && self.padding_begin == [0, 0]
            && self.output == self.input
    }

    /// Output rows per task: as many as fit the column budget, but at least enough that the
    /// input rows of blocks two apart never meet (see [`input_grad`]).
    fn block_rows(&self) -> usize {
        let budget = (COLUMN_BUDGET / (self.depth() * self.output[1])).max(1);
        let separating = (self.kernel[0] - 1) * self.dilation[0] / self.stride[0];
        budget.max(separating).max(1).min(self.output[0])
    }

    /// With stride 1, the input gradient is the convolution of the output gradient, padded by
    /// the kernel's span less the forward padding, with the [`flipped`] kernel. None for other
    /// strides, or padding wider than the kernel's span.
    fn transposed(&self) -> Option<Geometry> {
        if self.stride != [1, 1] {
            return None;
        }
        let span = |d: usize| self.dilation[d] * (self.kernel[d] - 1);
        // The forward's end padding: with stride 1, output = input + begin + end - span.
        let padding_end = |d: usize| self.output[d] + span(d) - self.input[d] - self.padding_begin[d];
        let fits = (0..2).all(|d| self.padding_begin[d] <= span(d) && padding_end(d) <= span(d));
        fits.then(|| {
            let padding =
                std::array::from_fn(|d| (span(d) - self.padding_begin[d], span(d) - padding_end(d)));
            let [oh, ow] = self.output;
            let [kh, kw] = self.kernel;
            let d_out = [self.batch, self.channels_out, oh, ow];
            Geometry::new(
                d_out,
                [self.channels_in, self.group_out(), kh, kw],
                [1, 1],
                padding,
                self.dilation,
                self.groups,
            )
        })
    }

    fn tasks(&self) -> Vec<Task> {
        let rows = self.block_rows();
        let blocks = self.output[0].div_ceil(rows);
        let mut tasks = Vec::with_capacity(self.batch * self.groups * blocks);
        for image in 0..self.batch {
            for group in 0..self.groups {
                for block in 0..blocks {
                    let first = block * rows;
                    let rows = [first, (first + rows).min(self.output[0])];
                    tasks.push(Task { image, group, block, rows });
                }
            }
        }
        tasks
    }
}

/// One image, one group, output rows `rows[0]..rows[1]`.
#[derive(Debug, Clone, Copy)]
struct Task {
    image: usize,
    group: usize,
    block: usize,
    rows: [usize; 2],
}

impl Task {
    fn first_pixel(&self, geometry: &Geometry) -> usize {
        self.rows[0] * geometry.output[1]
    }

    fn pixels(&self, geometry: &Geometry) -> usize {
        (self.rows[1] - self.rows[0]) * geometry.output[1]
    }

    /// Offset of this task's first input channel, image and group included.
    fn input_offset(&self, geometry: &Geometry) -> usize {
        (self.image * geometry.channels_in + self.group * geometry.group_in()) * geometry.input_pixels()
    }

    /// Offset of this task's first output value.
    fn output_offset(&self, geometry: &Geometry) -> usize {
        (self.image * geometry.channels_out + self.group * geometry.group_out()) * geometry.output_pixels()
            + self.first_pixel(geometry)
    }
}

/// A row-major matrix view: the element at `(r, c)` is at `ptr + r * row + c * col`.
#[derive(Clone, Copy)]
struct View {
    ptr: *const f32,
    row: isize,
    col: isize,
}

/// A pointer shared by tasks that write disjoint parts of one buffer.
#[derive(Clone, Copy)]
struct SharedMut(*mut f32);

// SAFETY: every use below writes ranges that no other concurrently running task touches.
unsafe impl Send for SharedMut {}
unsafe impl Sync for SharedMut {}

impl SharedMut {
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// `dst (m x n, row stride dst_row) = [dst +] lhs (m x k) · rhs (k x n)`, on the calling thread;
/// `[m, n, k]` is `shape`.
///
/// # Safety
/// The views must address `m x k`, `k x n` and `m x n` valid elements.
unsafe fn gemm([m, n, k]: [usize; 3], dst: *mut f32, dst_row: usize, accumulate: bool, lhs: View, rhs: View) {
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_row as isize,
            accumulate,
            lhs.ptr,
            lhs.col,
            lhs.row,
            rhs.ptr,
            rhs.col,
            rhs.row,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

/// The task's im2col columns: a view of `x` for a pointwise convolution, else `buffer` filled.
fn columns(x: &[f32], geometry: &Geometry, task: &Task, buffer: &mut Vec<f32>) -> View {
    let start = task.input_offset(geometry);
    if geometry.is_pointwise() {
        let ptr = x[start + task.first_pixel(geometry)..].as_ptr();
        return View { ptr, row: geometry.input_pixels() as isize, col: 1 };
    }
    let pixels = task.pixels(geometry);
    let len = geometry.depth() * pixels;
    if buffer.len() < len {
        buffer.resize(len, 0.0);
    }
    let channels = &x[start..start + geometry.group_in() * geometry.input_pixels()];
    im2col(channels, geometry, task.rows, &mut buffer[..len]);
    View { ptr: buffer.as_ptr(), row: pixels as isize, col: 1 }
}

/// For each kernel tap, the output columns `ow` that read inside the input row and the input
/// column of the first one: `iw = ow * stride + kw * dilation - padding`.
fn valid_columns(geometry: &Geometry, dim: usize, tap: usize) -> (usize, usize, usize) {
    let offset = (tap * geometry.dilation[dim]) as isize - geometry.padding_begin[dim] as isize;
    let stride = geometry.stride[dim] as isize;
    let size = geometry.input[dim] as isize;
    let first = if offset < 0 { (-offset + stride - 1) / stride } else { 0 };
    let end = if size - 1 - offset < 0 { 0 } else { (size - 1 - offset) / stride + 1 };
    let end = (end as usize).min(geometry.output[dim]);
    let first = (first as usize).min(end);
    (first, end, (first as isize * stride + offset).max(0) as usize)
}

/// The input row read by output row `oh` at kernel row `kh`, if inside the image.
fn input_row(geometry: &Geometry, oh: usize, kh: usize) -> Option<usize> {
    let row =
        (oh * geometry.stride[0] + kh * geometry.dilation[0]) as isize - geometry.padding_begin[0] as isize;
    (0..geometry.input[0] as isize).contains(&row).then_some(row as usize)
}

/// Fills `columns` (`depth x pixels`) from the group's input channels, zeros where the kernel
/// reads padding. Every value is written, so the buffer is reused between tasks without first
/// being cleared: for convolutions with few output channels, clearing it cost as much as
/// filling it.
fn im2col(channels: &[f32], geometry: &Geometry, rows: [usize; 2], columns: &mut [f32]) {
    let [kh_size, kw_size] = geometry.kernel;
    let width = geometry.output[1];
    let pixels = (rows[1] - rows[0]) * width;
    let stride = geometry.stride[1];
    for (r, column_row) in columns.chunks_exact_mut(pixels).enumerate() {
        let channel = &channels[(r / (kh_size * kw_size)) * geometry.input_pixels()..];
        let (kh, kw) = ((r / kw_size) % kh_size, r % kw_size);
        let (first, end, first_input) = valid_columns(geometry, 1, kw);
        for (oh, out) in (rows[0]..rows[1]).zip(column_row.chunks_exact_mut(width)) {
            let ih = input_row(geometry, oh, kh).filter(|_| first < end);
            let Some(ih) = ih else {
                out.fill(0.0);
                continue;
            };
            out[..first].fill(0.0);
            out[end..].fill(0.0);
            let input = &channel[ih * geometry.input[1] + first_input..];
            let out = &mut out[first..end];
            if stride == 1 {
                out.copy_from_slice(&input[..out.len()]);
            } else {
                out.iter_mut().zip(input.iter().step_by(stride)).for_each(|(o, i)| *o = *i);
            }
        }
    }
}

/// Adds `columns` (`depth x pixels`) back into the group's input-gradient channels.
///
/// # Safety
/// `channels` must address the task's image and group (`group_in` planes of the input), and no
/// other running task may write the input rows this task's output `rows` reach. Each input row
/// is borrowed on its own, so tasks of one pass never hold overlapping slices.
unsafe fn col2im(columns: &[f32], geometry: &Geometry, rows: [usize; 2], channels: *mut f32) {
    let [kh_size, kw_size] = geometry.kernel;
    let width = geometry.output[1];
    let pixels = (rows[1] - rows[0]) * width;
    let stride = geometry.stride[1];
    let plane = geometry.input_pixels();
    for (r, column_row) in columns.chunks_exact(pixels).enumerate() {
        let channel = (r / (kh_size * kw_size)) * plane;
        let (kh, kw) = ((r / kw_size) % kh_size, r % kw_size);
        let (first, end, first_input) = valid_columns(geometry, 1, kw);
        if first == end {
            continue;
        }
        let span = (end - first - 1) * stride + 1;
        for (oh, column) in (rows[0]..rows[1]).zip(column_row.chunks_exact(width)) {
            let Some(ih) = input_row(geometry, oh, kh) else { continue };
            // SAFETY: the row lies inside the task's planes (the caller's promise) and no other
            // running task writes it.
            let input = unsafe {
                std::slice::from_raw_parts_mut(
                    channels.add(channel + ih * geometry.input[1] + first_input),
                    span,
                )
            };
            let column = &column[first..end];
            input.iter_mut().step_by(stride).zip(column).for_each(|(i, c)| *i += *c);
        }
    }
}

/// `weight` of group `group` as a `group_out x depth` matrix.
fn group_weight(weight: &[f32], geometry: &Geometry, group: usize) -> View {
    let size = geometry.group_out() * geometry.depth();
    View { ptr: weight[group * size..].as_ptr(), row: geometry.depth() as isize, col: 1 }
}

/// The task's block of `d_out` as a `group_out x pixels` matrix.
fn output_block(d_out: &[f32], geometry: &Geometry, task: &Task) -> View {
    View {
        ptr: d_out[task.output_offset(geometry)..].as_ptr(),
        row: geometry.output_pixels() as isize,
        col: 1,
    }
}

/// The convolution, then `epilogue` per output channel if given: `[batch, channels_out, oh, ow]`,
/// row-major. The epilogue (a bias, or an inference batch norm and its ReLU) runs on each task's
/// output rows right after its GEMM wrote them, while they are still in cache.
pub fn forward(x: &[f32], weight: &[f32], geometry: &Geometry, epilogue: Option<&Affine>) -> Vec<f32> {
    check_lengths(geometry, Some(x), Some(weight), None);
    let mut out = vec![0.0; geometry.output_shape().iter().product()];
    let dst = SharedMut(out.as_mut_ptr());
    geometry.tasks().par_iter().for_each_init(Vec::new, |buffer, task| {
        let cols = columns(x, geometry, task, buffer);
        let w = group_weight(weight, geometry, task.group);
        // SAFETY: each task writes only its own output rows of its image and group.
        unsafe {
            let dst = dst.get().add(task.output_offset(geometry));
            let pixels = task.pixels(geometry);
            gemm(
                [geometry.group_out(), pixels, geometry.depth()],
                dst,
                geometry.output_pixels(),
                false,
                w,
                cols,
            );
            if let Some(epilogue) = epilogue {
                for row in 0..geometry.group_out() {
                    let values =
                        std::slice::from_raw_parts_mut(dst.add(row * geometry.output_pixels()), pixels);
                    epilogue.apply_to(task.group * geometry.group_out() + row, values);
                }
            }
        }
    });
    out
}

/// The gradient of the loss with respect to the weight, given `d_out` (the output's gradient).
///
/// The sum over tasks runs in an order fixed by the geometry and the number of threads, so that
/// the same inputs give the same bits every time (a training run repeats from its seed): the
/// tasks are cut into one contiguous run per thread, each run accumulates into its own partial
/// gradient in task order, and the partials are added in run order. A work-stealing fold would
/// group the tasks differently from one call to the next. One partial per thread, not per task:
/// a deep layer's gradient is megabytes, and zeroing and adding a partial per task cost as much
/// as its GEMMs.
pub fn weight_grad(x: &[f32], d_out: &[f32], geometry: &Geometry) -> Vec<f32> {
    check_lengths(geometry, Some(x), None, Some(d_out));
    let size = geometry.channels_out * geometry.depth();
    let group_size = geometry.group_out() * geometry.depth();
    let tasks = geometry.tasks();
    let parts = tasks.len().min(rayon::current_num_threads()).max(1);
    let run = tasks.len().div_ceil(parts).max(1);
    let partials: Vec<Vec<f32>> = tasks
        .par_chunks(run)
        .map(|run| {
            let (mut grad, mut buffer) = (vec![0.0; size], Vec::new());
            for task in run {
                let cols = columns(x, geometry, task, &mut buffer);
                let cols_t = View { ptr: cols.ptr, row: cols.col, col: cols.row };
                let block = output_block(d_out, geometry, task);
                // SAFETY: the views address the task's block, columns and its group's gradient.
                unsafe {
                    let dst = grad[task.group * group_size..].as_mut_ptr();
                    gemm(
                        [geometry.group_out(), geometry.depth(), task.pixels(geometry)],
                        dst,
                        geometry.depth(),
                        true,
                        block,
                        cols_t,
                    );
                }
            }
            grad
        })
        .collect();
    let mut partials = partials.into_iter();
    let mut total = partials.next().unwrap_or_else(|| vec![0.0; size]);
    for partial in partials {
        total.par_chunks_mut(1 << 14).zip(partial.par_chunks(1 << 14)).for_each(|(total, partial)| {
            total.iter_mut().zip(partial).for_each(|(t, p)| *t += p);
        });
    }
    total
}

/// The gradient of the loss with respect to the input, given `d_out` (the output's gradient).
///
/// With stride 1 it is itself a convolution (see [`Geometry::transposed`]) and runs as one.
/// Otherwise each task's `dColumns = Wᵀ · dOut` is added back by col2im; neighbouring blocks add
/// into shared input rows (the kernel's halo), so the even blocks run in parallel first and the
/// odd ones after: blocks two apart never share a row (see [`Geometry::block_rows`]).
pub fn input_grad(weight: &[f32], d_out: &[f32], geometry: &Geometry) -> Vec<f32> {
    check_lengths(geometry, None, Some(weight), Some(d_out));
    if let Some(transposed) = geometry.transposed() {
        return forward(d_out, &flipped(weight, geometry), &transposed, None);
    }
    let mut d_x = vec![0.0; geometry.batch * geometry.channels_in * geometry.input_pixels()];
    let dst = SharedMut(d_x.as_mut_ptr());
    let tasks = geometry.tasks();
    for parity in [0, 1] {
        let pass: Vec<_> = tasks.iter().filter(|task| task.block % 2 == parity).collect();
        pass.par_iter().for_each_init(Vec::new, |buffer: &mut Vec<f32>, task| {
            let w = group_weight(weight, geometry, task.group);
            let w_t = View { ptr: w.ptr, row: w.col, col: w.row };
            let block = output_block(d_out, geometry, task);
            let pixels = task.pixels(geometry);
            buffer.resize(geometry.depth() * pixels, 0.0);
            let d_columns = &mut buffer[..geometry.depth() * pixels];
            // SAFETY: the views address the task's weight and block; no two tasks of one pass
            // touch the same input row of the same image and group.
            unsafe {
                let (m, k) = (geometry.depth(), geometry.group_out());
                gemm([m, pixels, k], d_columns.as_mut_ptr(), pixels, false, w_t, block);
                let channels = dst.get().add(task.input_offset(geometry));
                col2im(d_columns, geometry, task.rows, channels);
            }
        });
    }
    d_x
}

/// The kernel of [`Geometry::transposed`]: each group's channel axes swapped, taps reversed.
fn flipped(weight: &[f32], geometry: &Geometry) -> Vec<f32> {
    let [kh, kw] = geometry.kernel;
    let (taps, group_in, group_out) = (kh * kw, geometry.group_in(), geometry.group_out());
    let mut out = vec![0.0; weight.len()];
    for group in 0..geometry.groups {
        for o in 0..group_out {
            for i in 0..group_in {
                let from = &weight[((group * group_out + o) * group_in + i) * taps..][..taps];
                let to = &mut out[((group * group_in + i) * group_out + o) * taps..][..taps];
                to.iter_mut().zip(from.iter().rev()).for_each(|(t, f)| *t = *f);
            }
        }
    }
    out
}

/// The slices the raw-pointer GEMMs read must hold what the geometry says.
fn check_lengths(geometry: &Geometry, x: Option<&[f32]>, weight: Option<&[f32]>, d_out: Option<&[f32]>) {
    let expected = [
        (x, geometry.batch * geometry.channels_in * geometry.input_pixels(), "input"),
        (weight, geometry.channels_out * geometry.depth(), "weight"),
        (d_out, geometry.output_shape().iter().product(), "output gradient"),
    ];
    for (slice, len, name) in expected {
        if let Some(slice) = slice {
            assert_eq!(slice.len(), len, "conv2d: {name} has {} values, its shape says {len}", slice.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values from a fixed sequence, spread over [-1, 1).
    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len as u32)
            .map(|i| {
                let v = i.wrapping_mul(2_654_435_761).wrapping_add(seed.wrapping_mul(40_503)) >> 8;
                v as f32 / (1 << 23) as f32 - 1.0
            })
            .collect()
    }

    /// The weight gradient's bits do not depend on how rayon happens to split the work: the same
    /// inputs on the same number of threads give the same bits every time.
    #[test]
    fn weight_gradients_are_the_same_bits_every_time() {
        let geometry = Geometry::new([3, 64, 40, 36], [16, 64, 3, 3], [1, 1], [(1, 1), (1, 1)], [1, 1], 1);
        assert!(geometry.tasks().len() > 3, "several tasks share the sum");
        let x = values(3 * 64 * 40 * 36, 1);
        let d_out = values(geometry.output_shape().iter().product(), 2);
        for threads in [1, 2, 3, 4, 7] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let reference = pool.install(|| weight_grad(&x, &d_out, &geometry));
            for _ in 0..8 {
                let again = pool.install(|| weight_grad(&x, &d_out, &geometry));
                assert!(again == reference, "{threads} threads summed the tasks differently");
            }
        }
    }
}
