//! The streaming drivers behind `boneseg ensemble`: the inputs are read in lockstep, one image
//! and class at a time (all inputs list images in the same sorted order and classes in class
//! order, as every boneseg output does), combined, post-processed and written. Memory is one row
//! per input, whatever the number of images.

use std::path::{Path, PathBuf};

use boneseg_contract::submission::{Rows, SubmissionWriter};
use boneseg_contract::{CLASSES, class_index};

use crate::mean::{MeanOptions, mean_vote};
use crate::postprocess::PostProcess;
use crate::recipe::Recipe;
use crate::runs::{self, Runs};
use crate::store::{ProbReader, ProbRow, StoreError};
use crate::thresholds::ClassThresholds;
use crate::vote::hard_vote;

#[derive(Debug, thiserror::Error)]
pub enum EnsembleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Input(String),
}

pub(crate) type Result<T> = std::result::Result<T, EnsembleError>;

/// Writes the combined submission: post-processing when asked, RLE, one row.
struct Output {
    path: PathBuf,
    writer: SubmissionWriter,
    post: PostProcess,
    text: String,
    images: usize,
}

impl Output {
    fn create(path: &Path, post: PostProcess) -> Result<Output> {
        let writer = SubmissionWriter::create(path)
            .map_err(|source| EnsembleError::Io { path: path.into(), source })?;
        Ok(Output { path: path.into(), writer, post, text: String::new(), images: 0 })
    }

    fn write(
        &mut self,
        image: &str,
        class: usize,
        height: usize,
        width: usize,
        mut mask: Runs,
    ) -> Result<()> {
        if !self.post.rules[class].is_noop() {
            let mut bits = runs::to_mask(&mask, height, width);
            self.post.apply(class, &mut bits);
            mask = runs::from_mask(&bits);
        }
        self.text.clear();
        runs::write_rle(&mask, &mut self.text);
        self.images += usize::from(class == CLASSES.len() - 1);
        let io = |source| EnsembleError::Io { path: self.path.clone(), source };
        self.writer.write_row(image, CLASSES[class], &self.text).map_err(io)
    }

    /// Renames the file into place; returns the number of images.
    fn finish(self) -> Result<usize> {
        let path = self.path;
        self.writer.finish().map_err(|source| EnsembleError::Io { path, source })?;
        Ok(self.images)
    }
}

/// `(height, width)` of an image by name, or why it is unknown.
pub type ImageSize<'a> = dyn Fn(&str) -> std::result::Result<(usize, usize), String> + 'a;

/// Hard vote over submission CSVs: a pixel is kept when more than `more_than` of them have it.
/// `size_of(image_name)` gives each image's `(height, width)`.
pub fn vote_submissions(
    inputs: &[PathBuf],
    out: &Path,
    more_than: usize,
    size_of: &ImageSize<'_>,
    post: PostProcess,
) -> Result<usize> {
    let mut readers = inputs
        .iter()
        .map(|p| Rows::open(p).map_err(|source| EnsembleError::Io { path: p.clone(), source }))
        .collect::<Result<Vec<Rows>>>()?;
    let mut output = Output::create(out, post)?;
    let mut masks: Vec<Runs> = vec![Runs::new(); inputs.len()];
    loop {
        let mut first: Option<(String, String)> = None;
        let mut ended = 0;
        for ((reader, path), mask) in readers.iter_mut().zip(inputs).zip(masks.iter_mut()) {
            let Some(row) = reader.next() else {
                ended += 1;
                continue;
            };
            let row = row
                .map_err(|(line, p)| EnsembleError::Input(format!("{}: line {line}: {p}", path.display())))?;
            let at = |p: String| EnsembleError::Input(format!("{}: line {}: {p}", path.display(), row.line));
            match &first {
                None => first = Some((row.image_name.clone(), row.class.clone())),
                Some((image, class)) if *image != row.image_name || *class != row.class => {
                    return Err(at(format!(
                        "{} / {} where {} has {image} / {class}: ensembles need inputs with the same images in the same order",
                        row.image_name,
                        row.class,
                        inputs[0].display()
                    )));
                }
                Some(_) => {}
            }
            let (height, width) = size_of(&row.image_name).map_err(at)?;
            *mask = runs::parse(&row.rle, height * width).map_err(|e| at(format!("malformed RLE: {e}")))?;
        }
        if ended == inputs.len() {
            return output.finish();
        }
        if ended > 0 {
            return Err(EnsembleError::Input("the inputs have different numbers of rows".into()));
        }
        let (image, class_name) = first.expect("some input had a row");
        let class = class_index(&class_name)
            .ok_or_else(|| EnsembleError::Input(format!("unknown class `{class_name}` in {image}")))?;
        let (height, width) = size_of(&image).map_err(EnsembleError::Input)?;
        let views: Vec<&[(usize, usize)]> = masks.iter().map(Vec::as_slice).collect();
        output.write(&image, class, height, width, hard_vote(&views, more_than))?;
    }
}

/// Probability stores read in lockstep.
pub(crate) struct Stores {
    readers: Vec<ProbReader>,
}

impl Stores {
    pub(crate) fn open(paths: &[PathBuf]) -> Result<Stores> {
        Ok(Stores {
            readers: paths.iter().map(|p| ProbReader::open(p)).collect::<std::result::Result<_, _>>()?,
        })
    }

    pub(crate) fn readers(&self) -> &[ProbReader] {
        &self.readers
    }

    /// The next row of every store, all for the same image and class; `None` at the end.
    pub(crate) fn next(&mut self) -> Result<Option<Vec<ProbRow>>> {
        let mut rows = Vec::with_capacity(self.readers.len());
        for reader in &mut self.readers {
            match reader.next().transpose()? {
                Some(row) => rows.push(row),
                None if rows.is_empty() => continue,
                None => return Err(mismatch(reader.path(), "ends early")),
            }
        }
        if rows.is_empty() {
            return Ok(None);
        }
        if rows.len() < self.readers.len() {
            return Err(EnsembleError::Input("the stores have different numbers of rows".into()));
        }
        let first = &rows[0];
        for (row, reader) in rows.iter().zip(&self.readers).skip(1) {
            if (&row.image_name, row.class, row.height, row.width)
                != (&first.image_name, first.class, first.height, first.width)
            {
                return Err(mismatch(
                    reader.path(),
                    &format!(
                        "has {} / {} ({}x{}) where the first store has {} / {} ({}x{})",
                        row.image_name,
                        CLASSES[row.class],
                        row.height,
                        row.width,
                        first.image_name,
                        CLASSES[first.class],
                        first.height,
                        first.width
                    ),
                ));
            }
        }
        Ok(Some(rows))
    }
}

fn mismatch(path: &Path, what: &str) -> EnsembleError {
    EnsembleError::Input(format!(
        "{}: {what}: ensembles need stores with the same images in the same order",
        path.display()
    ))
}

/// Soft vote over probability stores: the (weighted) mean above each class's threshold.
pub fn mean_stores(
    inputs: &[PathBuf],
    out: &Path,
    options: &MeanOptions,
    thresholds: &ClassThresholds,
    post: PostProcess,
) -> Result<usize> {
    let mut stores = Stores::open(inputs)?;
    let mut output = Output::create(out, post)?;
    while let Some(rows) = stores.next()? {
        let probs: Vec<_> = rows.iter().map(|r| &r.probs).collect();
        let first = &rows[0];
        let mask = mean_vote(&probs, options, thresholds.0[first.class]);
        output.write(&first.image_name, first.class, first.height, first.width, mask)?;
    }
    output.finish()
}

/// The two-level recipe: a soft vote per group, then a hard vote across groups.
pub fn run_recipe(recipe: &Recipe, out: &Path, post: PostProcess) -> Result<usize> {
    let mut groups = recipe.groups.iter().map(|g| Stores::open(&g.stores)).collect::<Result<Vec<_>>>()?;
    let mut output = Output::create(out, post)?;
    loop {
        let mut masks = Vec::with_capacity(groups.len());
        let mut first: Option<ProbRow> = None;
        for (group, stores) in recipe.groups.iter().zip(&mut groups) {
            let Some(rows) = stores.next()? else {
                if masks.is_empty() {
                    continue;
                }
                return Err(EnsembleError::Input(format!(
                    "group `{}` has fewer rows than the others",
                    group.name
                )));
            };
            let row = &rows[0];
            if let Some(f) = &first
                && (&f.image_name, f.class) != (&row.image_name, row.class)
            {
                return Err(EnsembleError::Input(format!(
                    "group `{}` has {} / {} where the first group has {} / {}",
                    group.name, row.image_name, CLASSES[row.class], f.image_name, CLASSES[f.class]
                )));
            }
            let probs: Vec<_> = rows.iter().map(|r| &r.probs).collect();
            masks.push(mean_vote(&probs, &group.mean, group.thresholds.0[row.class]));
            first.get_or_insert_with(|| rows.into_iter().next().expect("a row"));
        }
        let Some(first) = first else { return output.finish() };
        if masks.len() < groups.len() {
            return Err(EnsembleError::Input("the groups have different numbers of rows".into()));
        }
        let views: Vec<&[(usize, usize)]> = masks.iter().map(Vec::as_slice).collect();
        output.write(
            &first.image_name,
            first.class,
            first.height,
            first.width,
            hard_vote(&views, recipe.more_than),
        )?;
    }
}
