//! Finding the images and label files of a dataset and pairing them, as the reference code did:
//! both lists sorted by relative path, paired by relative path without extension; and finding
//! the radiographs of any folder to predict on ([`list_radiographs`]).

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::path::{Path, PathBuf};

use boneseg_contract::PersonId;

use crate::error::DataError;
use crate::image_io::{IMAGE_EXTENSIONS, image_size};
use crate::meta::{self, MetaTable};

/// One image of a dataset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageEntry {
    /// Path relative to the images folder, `/`-separated: `ID001/image1661130828152.png`.
    /// Entries are sorted by it (byte order, like Python's `sorted`).
    pub rel: String,
    pub person: PersonId,
    pub image: PathBuf,
    /// The label file; `None` for test images.
    pub label: Option<PathBuf>,
    /// From the image's header.
    pub width: usize,
    pub height: usize,
}

impl ImageEntry {
    /// The base name (`image_name` in a submission).
    pub fn name(&self) -> &str {
        base_name(&self.rel)
    }
}

/// An image to predict on, found in any folder layout ([`list_radiographs`]): a dataset's
/// image without what only training needs (its person and label).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Radiograph {
    /// Path relative to the folder searched, `/`-separated; radiographs are sorted by it.
    pub rel: String,
    pub image: PathBuf,
    /// As the image is shown (its orientation tag applied).
    pub width: usize,
    pub height: usize,
}

impl Radiograph {
    /// The base name (`image_name` in a submission).
    pub fn name(&self) -> &str {
        base_name(&self.rel)
    }
}

impl From<&ImageEntry> for Radiograph {
    fn from(entry: &ImageEntry) -> Radiograph {
        Radiograph {
            rel: entry.rel.clone(),
            image: entry.image.clone(),
            width: entry.width,
            height: entry.height,
        }
    }
}

/// What a submission knows an image by (its base name), and where the image is.
pub trait NamedImage {
    fn name(&self) -> &str;
    fn path(&self) -> &Path;
}

impl NamedImage for ImageEntry {
    fn name(&self) -> &str {
        ImageEntry::name(self)
    }
    fn path(&self) -> &Path {
        &self.image
    }
}

impl NamedImage for Radiograph {
    fn name(&self) -> &str {
        Radiograph::name(self)
    }
    fn path(&self) -> &Path {
        &self.image
    }
}

fn base_name(rel: &str) -> &str {
    rel.rsplit('/').next().unwrap_or(rel)
}

/// How strictly to read.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadOptions {
    /// Skip bad files (and record why) instead of failing on the first.
    pub skip_bad: bool,
}

/// The images found in a folder, and what was skipped.
#[derive(Debug, Default)]
pub struct Listing {
    pub entries: Vec<ImageEntry>,
    pub skipped: Vec<DataError>,
}

/// Files under `dir` whose extension is one of `extensions` (case-insensitive), by relative
/// path without extension. Hidden files and folders (a leading `.`) are ignored. Symbolic links
/// are followed (a person folder linked in from elsewhere is listed like any other); a link back
/// to a folder already listed is a problem, as is a link that leads nowhere, and so are two
/// files that differ only in their extension (`a.png` and `a.jpg`: which one is meant?): never
/// a silent skip. Problems are collected in `problems` and the walk goes on.
fn files_by_stem(
    dir: &Path,
    extensions: &[&str],
    problems: &mut Vec<DataError>,
) -> Result<BTreeMap<String, (String, PathBuf)>, DataError> {
    let mut found = BTreeMap::new();
    let canonical = |path: &Path| std::fs::canonicalize(path).map_err(|e| DataError::io(path, e));
    let mut listed = BTreeMap::from([(canonical(dir)?, dir.to_path_buf())]);
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let entries = std::fs::read_dir(&folder).map_err(|e| DataError::io(&folder, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| DataError::io(&folder, e))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let mut kind = entry.file_type().map_err(|e| DataError::io(&path, e))?;
            if kind.is_symlink() {
                match std::fs::metadata(&path) {
                    Ok(target) => kind = target.file_type(),
                    Err(e) => {
                        problems.push(DataError::BrokenLink { path, problem: e.to_string() });
                        continue;
                    }
                }
            }
            if kind.is_dir() {
                if let Some(first) = listed.insert(canonical(&path)?, path.clone()) {
                    problems.push(DataError::LinkLoop { path, first });
                    continue;
                }
                pending.push(path);
                continue;
            }
            let rel = path.strip_prefix(dir).expect("walked below dir");
            let rel: Vec<String> =
                rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
            let rel = rel.join("/");
            let Some(dot) = rel.rfind('.') else { continue };
            if !extensions.iter().any(|extension| rel[dot + 1..].eq_ignore_ascii_case(extension)) {
                continue;
            }
            match found.entry(rel[..dot].to_string()) {
                Entry::Vacant(slot) => {
                    slot.insert((rel, path));
                }
                Entry::Occupied(first) => {
                    problems.push(DataError::SameStem { path, other: first.get().1.clone() });
                }
            }
        }
    }
    Ok(found)
}

/// The person folder an image sits in.
fn person_of(rel: &str, path: &Path) -> Result<PersonId, DataError> {
    let not_in_folder = || DataError::NotInPersonFolder { path: path.to_path_buf() };
    let (folder, _) = rel.split_once('/').ok_or_else(not_in_folder)?;
    folder.parse().map_err(|_| not_in_folder())
}

/// Lists the images (PNG, or JPEG) under `images`, paired with the JSON of the same relative
/// path under `labels` when given. An image without its label and a label without its image are
/// errors.
///
/// Every image's header is read: a file that is no image, or whose size differs from the
/// dataset's (the most common size), is an error.
pub fn list_images(images: &Path, labels: Option<&Path>, options: ReadOptions) -> Result<Listing, DataError> {
    if !images.is_dir() {
        return Err(DataError::MissingFolder { path: images.to_path_buf(), what: "image folder" });
    }
    let mut problems = Vec::new();
    let found = files_by_stem(images, &IMAGE_EXTENSIONS, &mut problems)?;
    if found.is_empty() && problems.is_empty() {
        return Err(DataError::NoImages { path: images.to_path_buf() });
    }
    let mut jsons = match labels {
        Some(dir) if !dir.is_dir() => {
            return Err(DataError::MissingFolder { path: dir.to_path_buf(), what: "label folder" });
        }
        Some(dir) => files_by_stem(dir, &["json"], &mut problems)?,
        None => BTreeMap::new(),
    };

    let mut listing = Listing::default();
    let fail = |error: DataError, listing: &mut Listing| {
        if options.skip_bad {
            listing.skipped.push(error);
            Ok(())
        } else {
            Err(error)
        }
    };
    for problem in problems {
        fail(problem, &mut listing)?;
    }
    for (stem, (rel, image)) in found {
        let label = match labels {
            Some(dir) => match jsons.remove(&stem) {
                Some((_, label)) => Some(label),
                None => {
                    let expected = dir.join(format!("{stem}.json"));
                    fail(DataError::ImageWithoutLabel { image, expected }, &mut listing)?;
                    continue;
                }
            },
            None => None,
        };
        let entry = person_of(&rel, &image).and_then(|person| {
            let (width, height) = image_size(&image)?;
            Ok(ImageEntry { rel, person, image, label, width, height })
        });
        match entry {
            Ok(entry) => listing.entries.push(entry),
            Err(error) => fail(error, &mut listing)?,
        }
    }
    for (stem, (_, label)) in jsons {
        let expected = images.join(format!("{stem}.png"));
        fail(DataError::LabelWithoutImage { label, expected }, &mut listing)?;
    }
    listing.entries.sort_by(|a, b| a.rel.cmp(&b.rel));
    check_sizes(&mut listing, options)?;
    Ok(listing)
}

/// Every image must have the dataset's size: the one most images have. An image of another
/// size is named with the size of the rest and one image that has it; when no size has more
/// images than every other (two images of two sizes), both sides are named.
fn check_sizes(listing: &mut Listing, options: ReadOptions) -> Result<(), DataError> {
    let mut counts: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for entry in &listing.entries {
        *counts.entry((entry.width, entry.height)).or_default() += 1;
    }
    let mut by_count: Vec<_> = counts.iter().map(|(&size, &n)| (n, size)).collect();
    by_count.sort_by_key(|&(n, _)| std::cmp::Reverse(n));
    let Some(&(count, expected)) = by_count.first() else { return Ok(()) };
    let tied = by_count.get(1).is_some_and(|&(n, _)| n == count);
    let (good, bad): (Vec<_>, Vec<_>) =
        std::mem::take(&mut listing.entries).into_iter().partition(|e| (e.width, e.height) == expected);
    let example = good[0].image.clone();
    listing.entries = good;
    for entry in bad {
        let error = if tied {
            DataError::MixedSizes {
                path: entry.image,
                size: (entry.width, entry.height),
                other: example.clone(),
                other_size: expected,
            }
        } else {
            DataError::ImageSize {
                path: entry.image,
                width: entry.width,
                height: entry.height,
                expected_width: expected.0,
                expected_height: expected.1,
                count,
                example: example.clone(),
            }
        };
        if !options.skip_bad {
            return Err(error);
        }
        listing.skipped.push(error);
    }
    Ok(())
}

/// The radiographs (PNG or JPEG) under `dir`, in any layout (loose files, person folders,
/// deeper trees) and of any sizes, sorted by relative path: what a model is run on when the
/// images are not a competition dataset (an atlas, a hospital's export). A file that is no
/// image, or two files that differ only in their extension, are errors.
pub fn list_radiographs(dir: &Path) -> Result<Vec<Radiograph>, DataError> {
    if !dir.is_dir() {
        return Err(DataError::MissingFolder { path: dir.to_path_buf(), what: "image folder" });
    }
    let mut problems = Vec::new();
    let found = files_by_stem(dir, &IMAGE_EXTENSIONS, &mut problems)?;
    if let Some(problem) = problems.into_iter().next() {
        return Err(problem);
    }
    if found.is_empty() {
        return Err(DataError::NoImages { path: dir.to_path_buf() });
    }
    let mut radiographs = found
        .into_values()
        .map(|(rel, image)| {
            let (width, height) = image_size(&image)?;
            Ok(Radiograph { rel, image, width, height })
        })
        .collect::<Result<Vec<_>, DataError>>()?;
    radiographs.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(radiographs)
}

/// Fails when two images share a base name (a submission could not tell them apart).
pub fn check_unique_names(images: &[impl NamedImage]) -> Result<(), DataError> {
    duplicate_names(images).into_iter().next().map_or(Ok(()), Err)
}

/// Every image whose base name an earlier image already has, naming that first image.
pub fn duplicate_names(images: &[impl NamedImage]) -> Vec<DataError> {
    let mut first: BTreeMap<&str, &Path> = BTreeMap::new();
    images
        .iter()
        .filter_map(|image| {
            let other = *first.entry(image.name()).or_insert(image.path());
            (other != image.path()).then(|| DataError::DuplicateName {
                path: image.path().to_path_buf(),
                other: other.to_path_buf(),
            })
        })
        .collect()
}

/// A dataset in the competition layout.
#[derive(Debug)]
pub struct Dataset {
    pub root: PathBuf,
    /// Training images with their labels, sorted by relative path.
    pub train: Vec<ImageEntry>,
    /// Test images, sorted by relative path (the submission's order).
    pub test: Vec<ImageEntry>,
    /// `meta_data.xlsx` (or `meta_data.csv`) when present: the rows that read well.
    pub meta: Option<MetaTable>,
    /// What is wrong with the meta table: opening a dataset does not fail on it (training and
    /// splitting do not need it, and a missing table is no error either); `data check` reports
    /// it, and the commands that use the table say so.
    pub meta_problems: Vec<DataError>,
    /// What `skip_bad` skipped.
    pub skipped: Vec<DataError>,
}

impl Dataset {
    pub fn train_images(root: &Path) -> PathBuf {
        root.join("train").join("DCM")
    }

    pub fn train_labels(root: &Path) -> PathBuf {
        root.join("train").join("outputs_json")
    }

    pub fn test_images(root: &Path) -> PathBuf {
        root.join("test").join("DCM")
    }

    /// Opens a dataset: `train/` and `test/` are each optional, but one must be there.
    pub fn open(root: &Path, options: ReadOptions) -> Result<Dataset, DataError> {
        let mut skipped = Vec::new();
        let train_dir = Self::train_images(root);
        let test_dir = Self::test_images(root);
        if !train_dir.is_dir() && !test_dir.is_dir() {
            return Err(DataError::MissingFolder { path: root.to_path_buf(), what: "train/DCM or test/DCM" });
        }
        let mut read = |images: &Path, labels: Option<&Path>| -> Result<Vec<ImageEntry>, DataError> {
            if !images.is_dir() {
                return Ok(Vec::new());
            }
            let listing = list_images(images, labels, options)?;
            skipped.extend(listing.skipped);
            Ok(listing.entries)
        };
        let train = read(&train_dir, Some(&Self::train_labels(root)))?;
        let test = read(&test_dir, None)?;
        let (meta, meta_problems) = meta::find(root).map_or((None, Vec::new()), |path| meta::read_all(&path));
        Ok(Dataset { root: root.to_path_buf(), train, test, meta, meta_problems, skipped })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image_io::{GrayImage, write_gray_png};

    fn image(path: &Path, size: u32) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        write_gray_png(path, &GrayImage::new(size, size)).unwrap();
    }

    fn label(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, r#"{"annotations": []}"#).unwrap();
    }

    #[test]
    fn pairs_by_relative_path_in_sorted_order() {
        let dir = tempfile::tempdir().unwrap();
        let (images, labels) = (dir.path().join("DCM"), dir.path().join("json"));
        for rel in ["ID002/b", "ID001/z", "ID001/a", "ID010/c"] {
            image(&images.join(format!("{rel}.png")), 8);
            label(&labels.join(format!("{rel}.json")));
        }
        std::fs::write(images.join("ID001/.hidden.png"), b"x").unwrap();
        let listing = list_images(&images, Some(&labels), ReadOptions::default()).unwrap();
        let rels: Vec<_> = listing.entries.iter().map(|e| e.rel.as_str()).collect();
        assert_eq!(rels, ["ID001/a.png", "ID001/z.png", "ID002/b.png", "ID010/c.png"]);
        assert_eq!(listing.entries[2].person, PersonId(2));
        assert_eq!(listing.entries[2].name(), "b.png");
        assert_eq!(listing.entries[3].label.as_deref(), Some(labels.join("ID010/c.json").as_path()));
    }

    #[test]
    fn unpaired_files_are_errors_that_name_them() {
        let dir = tempfile::tempdir().unwrap();
        let (images, labels) = (dir.path().join("DCM"), dir.path().join("json"));
        image(&images.join("ID001/a.png"), 8);
        image(&images.join("ID001/b.png"), 8);
        label(&labels.join("ID001/a.json"));
        label(&labels.join("ID002/c.json"));
        let err = list_images(&images, Some(&labels), ReadOptions::default()).unwrap_err().to_string();
        assert!(err.contains("ID001/b.png: image without a label file"), "{err}");
        let listing = list_images(&images, Some(&labels), ReadOptions { skip_bad: true }).unwrap();
        assert_eq!(listing.entries.len(), 1);
        let skipped: Vec<_> = listing.skipped.iter().map(|e| e.to_string()).collect();
        assert!(skipped[1].contains("ID002/c.json: label file without an image"), "{skipped:?}");
    }

    #[test]
    fn odd_sizes_and_loose_files_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let images = dir.path().join("DCM");
        image(&images.join("ID001/a.png"), 8);
        image(&images.join("ID001/b.png"), 8);
        image(&images.join("ID002/c.png"), 9);
        let err = list_images(&images, None, ReadOptions::default()).unwrap_err().to_string();
        assert!(
            err.contains("c.png: unexpected image size 9x9; the other images are 8x8 (2 images"),
            "{err}"
        );
        assert!(err.contains("ID001/a.png"), "one image of the common size is named: {err}");
        image(&images.join("loose.png"), 8);
        let listing = list_images(&images, None, ReadOptions { skip_bad: true }).unwrap();
        assert_eq!(listing.entries.len(), 2);
        assert!(
            listing.skipped.iter().any(|e| e.to_string().contains("loose.png: not inside a person folder"))
        );
    }

    #[test]
    fn two_images_of_two_sizes_are_both_named() {
        let dir = tempfile::tempdir().unwrap();
        let images = dir.path().join("DCM");
        image(&images.join("ID001/a.png"), 8);
        image(&images.join("ID002/b.png"), 9);
        let err = list_images(&images, None, ReadOptions::default()).unwrap_err().to_string();
        assert!(err.contains("a.png") && err.contains("b.png"), "{err}");
        assert!(
            err.contains("8x8") && err.contains("9x9") && err.contains("no size is shared by most"),
            "{err}"
        );
    }

    #[test]
    fn linked_person_folders_are_listed_and_loops_refused() {
        let dir = tempfile::tempdir().unwrap();
        let images = dir.path().join("DCM");
        image(&images.join("ID001/a.png"), 8);
        image(&dir.path().join("elsewhere/ID002/b.png"), 8);
        std::os::unix::fs::symlink(dir.path().join("elsewhere/ID002"), images.join("ID002")).unwrap();
        let listing = list_images(&images, None, ReadOptions::default()).unwrap();
        let rels: Vec<_> = listing.entries.iter().map(|e| e.rel.as_str()).collect();
        assert_eq!(rels, ["ID001/a.png", "ID002/b.png"]);

        std::os::unix::fs::symlink(&images, images.join("ID001/again")).unwrap();
        let err = list_images(&images, None, ReadOptions::default()).unwrap_err().to_string();
        assert!(err.contains("ID001/again: a symbolic link to a folder already listed"), "{err}");
        std::fs::remove_file(images.join("ID001/again")).unwrap();

        std::os::unix::fs::symlink(dir.path().join("gone"), images.join("ID003")).unwrap();
        let err = list_images(&images, None, ReadOptions::default()).unwrap_err().to_string();
        assert!(err.contains("ID003: a symbolic link that leads nowhere"), "{err}");
    }

    #[test]
    fn duplicate_base_names_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let images = dir.path().join("DCM");
        image(&images.join("ID001/a.png"), 8);
        image(&images.join("ID002/a.png"), 8);
        let listing = list_images(&images, None, ReadOptions::default()).unwrap();
        let err = check_unique_names(&listing.entries).unwrap_err().to_string();
        assert!(err.contains("ID002/a.png: the image name is used twice"), "{err}");
    }

    /// A grey JPEG of `width x height` at `path`.
    fn jpeg(path: &Path, width: u32, height: u32) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        GrayImage::new(width, height).save_with_format(path, image::ImageFormat::Jpeg).unwrap();
    }

    #[test]
    fn a_dataset_may_hold_jpegs_but_not_two_files_of_one_stem() {
        let dir = tempfile::tempdir().unwrap();
        let (images, labels) = (dir.path().join("DCM"), dir.path().join("json"));
        image(&images.join("ID001/a.png"), 8);
        jpeg(&images.join("ID001/b.JPG"), 8, 8);
        label(&labels.join("ID001/a.json"));
        label(&labels.join("ID001/b.json"));
        let listing = list_images(&images, Some(&labels), ReadOptions::default()).unwrap();
        let names: Vec<_> = listing.entries.iter().map(|e| e.name()).collect();
        assert_eq!(names, ["a.png", "b.JPG"]);
        jpeg(&images.join("ID001/a.jpeg"), 8, 8);
        let err = list_images(&images, Some(&labels), ReadOptions::default()).unwrap_err().to_string();
        assert!(err.contains("another file has the same name but for its extension"), "{err}");
        assert!(err.contains("ID001/a.png") && err.contains("ID001/a.jpeg"), "both are named: {err}");
    }

    #[test]
    fn radiographs_are_found_in_any_layout_at_any_size() {
        let dir = tempfile::tempdir().unwrap();
        let atlas = dir.path().join("atlas");
        jpeg(&atlas.join("hand 03.jpg"), 30, 40);
        image(&atlas.join("loose.png"), 8);
        jpeg(&atlas.join("boys/10y/hand 01.jpeg"), 50, 20);
        image(&atlas.join("ID001/a.png"), 9);
        std::fs::write(atlas.join("notes.txt"), "not an image").unwrap();
        let found = list_radiographs(&atlas).unwrap();
        let rels: Vec<_> = found.iter().map(|r| (r.rel.as_str(), r.width, r.height)).collect();
        assert_eq!(
            rels,
            [
                ("ID001/a.png", 9, 9),
                ("boys/10y/hand 01.jpeg", 50, 20),
                ("hand 03.jpg", 30, 40),
                ("loose.png", 8, 8)
            ]
        );
        assert_eq!(found[1].name(), "hand 01.jpeg");

        std::fs::write(atlas.join("broken.jpg"), b"GIF89a").unwrap();
        let err = list_radiographs(&atlas).unwrap_err().to_string();
        assert!(err.contains("broken.jpg: not a PNG or JPEG file: it is a GIF"), "{err}");
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let err = list_radiographs(&empty).unwrap_err().to_string();
        assert!(err.contains("empty: no images found (.png, .jpg or .jpeg)"), "{err}");
    }
}
