//! Radiographs on disk: read from PNG (the competition's files) or JPEG (atlases, exports from
//! viewers), always written as 3-channel grey PNG like the competition's.

use std::io::{BufReader, Read, Write};
use std::path::Path;

use boneseg_contract::atomic::AtomicFile;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageFormat};

pub use image::{GrayImage, RgbImage};

use crate::error::DataError;

/// The file name extensions of the images a folder is searched for (case-insensitive).
pub const IMAGE_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
const JPEG_SIGNATURE: [u8; 3] = [0xff, 0xd8, 0xff];

fn image_error(path: &Path, problem: impl Into<String>) -> DataError {
    DataError::Image { path: path.to_path_buf(), problem: problem.into() }
}

/// The format of a file from its first bytes (not its name), or what it is instead, said for
/// a user.
fn format_of(head: &[u8]) -> Result<ImageFormat, String> {
    if head.starts_with(&PNG_SIGNATURE) {
        return Ok(ImageFormat::Png);
    }
    if head.starts_with(&JPEG_SIGNATURE) {
        return Ok(ImageFormat::Jpeg);
    }
    Err(match head {
        [] => "the file is empty".to_string(),
        [b'G', b'I', b'F', ..] => "not a PNG or JPEG file: it is a GIF (convert it to PNG)".to_string(),
        [b'B', b'M', ..] => "not a PNG or JPEG file: it is a BMP (convert it to PNG)".to_string(),
        _ if head.len() < 8 && PNG_SIGNATURE.starts_with(head) => {
            "truncated PNG: the file ends inside its signature".to_string()
        }
        _ => format!("not a PNG or JPEG file (it starts with {:02x?})", &head[..head.len().min(8)]),
    })
}

fn format_name(format: ImageFormat) -> &'static str {
    if format == ImageFormat::Jpeg { "JPEG" } else { "PNG" }
}

/// A decoder's error, said for a user: truncated files apart from corrupt ones.
fn explain(format: ImageFormat, error: image::ImageError) -> String {
    let message = error.to_string();
    let name = format_name(format);
    if message.contains("EOF") || message.contains("end of") || message.contains("truncated") {
        format!("truncated {name}: {message}")
    } else {
        format!("corrupt {name}: {message}")
    }
}

/// A decoder for `source`, its format told by its first bytes.
fn decoder<'a, R: std::io::BufRead + std::io::Seek + 'a>(
    mut source: R,
) -> Result<(ImageFormat, impl ImageDecoder + 'a), String> {
    let mut head = Vec::with_capacity(8);
    Read::by_ref(&mut source).take(8).read_to_end(&mut head).map_err(|e| e.to_string())?;
    let format = format_of(&head)?;
    source.seek(std::io::SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    let decoder = image::ImageReader::with_format(source, format).into_decoder();
    Ok((format, decoder.map_err(|e| explain(format, e))?))
}

/// The size a decoder's image has once its orientation tag (EXIF, as photo viewers honour it)
/// is applied: a quarter turn swaps width and height.
fn oriented_size(decoder: &mut impl ImageDecoder, format: ImageFormat) -> Result<(usize, usize), String> {
    use image::metadata::Orientation::{Rotate90, Rotate90FlipH, Rotate270, Rotate270FlipH};
    let (width, height) = decoder.dimensions();
    let (width, height) = (width as usize, height as usize);
    match decoder.orientation().map_err(|e| explain(format, e))? {
        Rotate90 | Rotate270 | Rotate90FlipH | Rotate270FlipH => Ok((height, width)),
        _ => Ok((width, height)),
    }
}

/// Width and height, as [`read_gray`] will return the image, from the file's headers alone.
pub fn image_size(path: &Path) -> Result<(usize, usize), DataError> {
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let (format, mut decoder) =
        decoder(BufReader::new(file)).map_err(|problem| image_error(path, problem))?;
    oriented_size(&mut decoder, format).map_err(|problem| image_error(path, problem))
}

/// Decodes a PNG or JPEG into one grey channel (grey PNGs stored as RGB keep their values
/// exactly), turned as its orientation tag says.
pub fn read_gray(path: &Path) -> Result<GrayImage, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    decode_gray(&bytes).map_err(|problem| image_error(path, problem))
}

/// [`read_gray`] on the bytes of a file; the problem, said for a user, when they are no image.
pub fn decode_gray(bytes: &[u8]) -> Result<GrayImage, String> {
    let (format, mut decoder) = decoder(std::io::Cursor::new(bytes))?;
    let bound = decoded_bound(format, bytes.len());
    if decoder.total_bytes() > bound {
        let (width, height) = decoder.dimensions();
        let name = format_name(format);
        return Err(format!(
            "corrupt {name}: its header claims {width}x{height} pixels, more than its {} bytes can hold",
            bytes.len()
        ));
    }
    let orientation = decoder.orientation().map_err(|e| explain(format, e))?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| explain(format, e))?;
    image.apply_orientation(orientation);
    Ok(to_gray8(image))
}

/// One grey byte per pixel. An 8-bit image keeps its values; a 16-bit one (what DICOM exports
/// write, often using 10 or 12 of its bits) is stretched from its darkest to its brightest grey,
/// as a viewer's full window shows it: divided by 256 alone, a 12-bit radiograph would be
/// nearly black.
fn to_gray8(image: DynamicImage) -> GrayImage {
    use image::ColorType::{L16, La16, Rgb16, Rgba16};
    if !matches!(image.color(), L16 | La16 | Rgb16 | Rgba16) {
        return image.into_luma8();
    }
    let wide = image.into_luma16();
    let (low, high) = wide.iter().fold((u16::MAX, 0), |(low, high), &v| (low.min(v), high.max(v)));
    let scale = 255.0 / f32::from(high.saturating_sub(low)).max(1.0);
    let pixels = wide.iter().map(|&v| (f32::from(v - low) * scale).round() as u8).collect();
    GrayImage::from_raw(wide.width(), wide.height(), pixels).expect("one byte per pixel")
}

/// The most a file of `len` bytes can decode to, so that a header claiming more pixels than
/// the file can hold (100000² in a few hundred bytes) is refused before its buffer is
/// allocated. Deflate packs at most 1032 bytes into one (PNG); a JPEG spends at least one bit
/// on each 8x8 block of its brightness, so a byte holds at most 512 pixels of 3 colour bytes.
/// A megabyte of slack covers the decoders' own buffers on small files.
fn decoded_bound(format: ImageFormat, len: usize) -> u64 {
    let per_byte = if format == ImageFormat::Jpeg { 512 * 3 } else { 1032 };
    (len as u64).saturating_mul(per_byte) + (1 << 20)
}

/// Writes a grey image as a 3-channel PNG (like the competition's files), atomically.
pub fn write_gray_png(path: &Path, image: &GrayImage) -> Result<(), DataError> {
    let rgb: Vec<u8> = image.as_raw().iter().flat_map(|&v| [v, v, v]).collect();
    write_png(path, image.width(), image.height(), &rgb, image::ExtendedColorType::Rgb8)
}

/// Writes an RGB image as PNG, atomically.
pub fn write_rgb_png(path: &Path, image: &RgbImage) -> Result<(), DataError> {
    write_png(path, image.width(), image.height(), image.as_raw(), image::ExtendedColorType::Rgb8)
}

fn write_png(
    path: &Path,
    width: u32,
    height: u32,
    pixels: &[u8],
    color: image::ExtendedColorType,
) -> Result<(), DataError> {
    let mut file = AtomicFile::create(path).map_err(|e| DataError::io(path, e))?;
    PngEncoder::new_with_quality(&mut file, CompressionType::Fast, FilterType::Adaptive)
        .write_image(pixels, width, height, color)
        .map_err(|e| image_error(path, format!("cannot encode PNG: {e}")))?;
    file.flush().map_err(|e| DataError::io(path, e))?;
    file.commit().map_err(|e| DataError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grey_values_survive_a_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.png");
        let image = GrayImage::from_fn(37, 20, |x, y| image::Luma([(x * 7 + y * 3) as u8]));
        write_gray_png(&path, &image).unwrap();
        assert_eq!(image_size(&path).unwrap(), (37, 20));
        assert_eq!(read_gray(&path).unwrap(), image);
        let decoded = image::open(&path).unwrap();
        assert_eq!(decoded.color(), image::ColorType::Rgb8, "stored as 3 channels");
    }

    /// PNG's chunk checksum (CRC-32, polynomial 0xEDB88320).
    fn crc32(bytes: &[u8]) -> u32 {
        !bytes.iter().fold(!0u32, |crc, &byte| {
            (0..8).fold(crc ^ byte as u32, |c, _| if c & 1 == 1 { (c >> 1) ^ 0xedb8_8320 } else { c >> 1 })
        })
    }

    #[test]
    fn bad_files_are_named_and_explained() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        };
        let gif = write("g.png", b"GIF89a\x01\x00");
        assert!(
            read_gray(&gif).unwrap_err().to_string().contains("g.png: not a PNG or JPEG file: it is a GIF")
        );
        let empty = write("e.png", b"");
        assert!(image_size(&empty).unwrap_err().to_string().contains("the file is empty"));
        let jpeg_head = write("j.jpg", &[0xff, 0xd8, 0xff, 0xe0, 0, 0, 0, 0]);
        let err = read_gray(&jpeg_head).unwrap_err().to_string();
        assert!(err.contains("j.jpg: truncated JPEG") || err.contains("j.jpg: corrupt JPEG"), "{err}");

        let good = dir.path().join("good.png");
        write_gray_png(&good, &GrayImage::from_fn(64, 64, |x, y| image::Luma([(x ^ y) as u8]))).unwrap();
        let bytes = std::fs::read(&good).unwrap();
        let cut = write("cut.png", &bytes[..bytes.len() / 2]);
        assert_eq!(image_size(&cut).unwrap(), (64, 64), "the header survives the cut");
        let err = read_gray(&cut).unwrap_err().to_string();
        assert!(err.contains("cut.png: truncated PNG"), "{err}");
        // A header that claims 100000 x 100000 pixels, with its checksum right.
        let mut huge = bytes.clone();
        huge[16..24].copy_from_slice(&[0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0]);
        let crc = crc32(&huge[12..29]);
        huge[29..33].copy_from_slice(&crc.to_be_bytes());
        let huge = write("huge.png", &huge);
        let err = read_gray(&huge).unwrap_err().to_string();
        assert!(err.contains("huge.png: corrupt PNG: its header claims 100000x100000 pixels"), "{err}");
        let header_only = write("h.png", &bytes[..20]);
        let err = image_size(&header_only).unwrap_err().to_string();
        assert!(err.contains("h.png: truncated PNG"), "{err}");
    }

    #[test]
    fn a_16_bit_image_is_stretched_over_the_grey_range_it_uses() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dicom-export.png");
        // 12-bit values from 1000 to 3000, as a detector writes them.
        let wide = image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_fn(40, 3, |x, _| {
            image::Luma([1000 + 50 * x as u16])
        });
        wide.save(&path).unwrap();
        let read = read_gray(&path).unwrap();
        let row: Vec<u8> = (0..40).map(|x| read.get_pixel(x, 1)[0]).collect();
        assert_eq!((row[0], row[39]), (0, 255));
        assert!(row.windows(2).all(|w| w[1] > w[0]), "the ramp stays a ramp: {row:?}");
        let flat = dir.path().join("flat.png");
        image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_pixel(4, 4, image::Luma([700]))
            .save(&flat)
            .unwrap();
        assert!(read_gray(&flat).unwrap().iter().all(|&v| v == 0), "one grey: no division by zero");
    }

    /// `image` as a JPEG of the best quality, with `exif` (raw TIFF bytes) when not empty.
    fn jpeg_bytes(image: &GrayImage, exif: Vec<u8>) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 100);
        encoder.set_exif_metadata(exif).unwrap();
        encoder
            .write_image(image.as_raw(), image.width(), image.height(), image::ExtendedColorType::L8)
            .unwrap();
        bytes
    }

    /// An Exif block (little-endian TIFF) holding one tag: the orientation.
    fn exif_orientation(value: u16) -> Vec<u8> {
        let mut exif = b"II*\0".to_vec();
        exif.extend(8u32.to_le_bytes());
        exif.extend(1u16.to_le_bytes());
        exif.extend([0x12, 0x01, 3, 0]);
        exif.extend(1u32.to_le_bytes());
        exif.extend(u32::from(value).to_le_bytes());
        exif.extend(0u32.to_le_bytes());
        exif
    }

    /// A smooth grey ramp: JPEG keeps it within a few grey levels.
    fn ramp(width: u32, height: u32) -> GrayImage {
        GrayImage::from_fn(width, height, |x, y| image::Luma([(x * 3 + y * 2) as u8]))
    }

    fn max_difference(a: &GrayImage, b: &GrayImage) -> u8 {
        assert_eq!(a.dimensions(), b.dimensions());
        a.as_raw().iter().zip(b.as_raw()).map(|(&a, &b)| a.abs_diff(b)).max().unwrap()
    }

    #[test]
    fn jpegs_are_read_like_pngs_whatever_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let image = ramp(48, 32);
        for name in ["atlas.jpg", "atlas.JPEG", "named-wrongly.png"] {
            let path = dir.path().join(name);
            std::fs::write(&path, jpeg_bytes(&image, Vec::new())).unwrap();
            assert_eq!(image_size(&path).unwrap(), (48, 32), "{name}");
            let read = read_gray(&path).unwrap();
            assert!(max_difference(&read, &image) <= 3, "{name}: {}", max_difference(&read, &image));
        }
    }

    #[test]
    fn a_jpegs_orientation_tag_is_applied_to_its_size_and_pixels() {
        let dir = tempfile::tempdir().unwrap();
        let image = ramp(48, 32);
        let path = dir.path().join("turned.jpg");
        // Orientation 6: the stored image is shown turned a quarter clockwise.
        std::fs::write(&path, jpeg_bytes(&image, exif_orientation(6))).unwrap();
        assert_eq!(image_size(&path).unwrap(), (32, 48), "the size as shown");
        let read = read_gray(&path).unwrap();
        let turned = image::imageops::rotate90(&image);
        assert!(max_difference(&read, &turned) <= 3, "{}", max_difference(&read, &turned));
    }

    #[test]
    fn a_jpeg_header_claiming_more_than_its_bytes_can_hold_is_refused() {
        let mut bytes = jpeg_bytes(&ramp(16, 16), Vec::new());
        // The frame header (SOF0: ff c0, length, precision) carries height then width.
        let sof = bytes.windows(2).position(|w| w == [0xff, 0xc0]).unwrap();
        bytes[sof + 5..sof + 9].copy_from_slice(&[0xea, 0x60, 0xea, 0x60]);
        let err = decode_gray(&bytes).unwrap_err();
        assert!(err.contains("corrupt JPEG: its header claims 60000x60000 pixels"), "{err}");
    }
}
