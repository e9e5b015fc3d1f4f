//! Radiograph PNGs: grey images stored as 3-channel PNG, as in the competition.

use std::io::{Read, Write};
use std::path::Path;

use boneseg_contract::atomic::AtomicFile;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ImageEncoder, ImageFormat};

pub use image::{GrayImage, RgbImage};

use crate::error::DataError;

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

fn image_error(path: &Path, problem: impl Into<String>) -> DataError {
    DataError::Image { path: path.to_path_buf(), problem: problem.into() }
}

/// Says what a file is when it is not a PNG, from its first bytes.
fn check_signature(path: &Path, head: &[u8]) -> Result<(), DataError> {
    if head.starts_with(&PNG_SIGNATURE) {
        return Ok(());
    }
    let what = match head {
        [] => "the file is empty".to_string(),
        [0xff, 0xd8, ..] => "not a PNG file: it is a JPEG (convert it to PNG)".to_string(),
        [b'G', b'I', b'F', ..] => "not a PNG file: it is a GIF".to_string(),
        [b'B', b'M', ..] => "not a PNG file: it is a BMP".to_string(),
        _ if head.len() < 8 && PNG_SIGNATURE.starts_with(head) => {
            "truncated PNG: the file ends inside its signature".to_string()
        }
        _ => format!("not a PNG file (it starts with {:02x?})", &head[..head.len().min(8)]),
    };
    Err(image_error(path, what))
}

/// Width and height from the PNG header, without decoding the pixels.
pub fn png_size(path: &Path) -> Result<(usize, usize), DataError> {
    let mut file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut head = Vec::with_capacity(33);
    Read::by_ref(&mut file).take(33).read_to_end(&mut head).map_err(|e| DataError::io(path, e))?;
    check_signature(path, &head)?;
    if head.len() < 33 || &head[12..16] != b"IHDR" {
        return Err(image_error(path, "truncated or corrupt PNG: no complete IHDR header"));
    }
    let width = u32::from_be_bytes(head[16..20].try_into().unwrap()) as usize;
    let height = u32::from_be_bytes(head[20..24].try_into().unwrap()) as usize;
    Ok((width, height))
}

/// Decodes a PNG into one grey channel (grey PNGs stored as RGB keep their values exactly).
pub fn read_gray(path: &Path) -> Result<GrayImage, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    decode_gray(&bytes).map_err(|problem| image_error(path, problem))
}

/// [`read_gray`] on the bytes of a file; the problem, said for a user, when they are no PNG.
pub fn decode_gray(bytes: &[u8]) -> Result<GrayImage, String> {
    check_signature(Path::new(""), &bytes[..bytes.len().min(8)]).map_err(|e| match e {
        DataError::Image { problem, .. } => problem,
        other => other.to_string(),
    })?;
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), ImageFormat::Png);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(decoded_bound(bytes.len()));
    reader.limits(limits);
    let decoded = reader.decode().map_err(|e| {
        let message = e.to_string();
        if let image::ImageError::Limits(_) = e {
            let claimed = header_size(bytes).map(|(w, h)| format!("{w}x{h} pixels")).unwrap_or_default();
            format!("corrupt PNG: its header claims {claimed}, more than its {} bytes can hold", bytes.len())
        } else if message.contains("EOF") || message.contains("end of") || message.contains("truncated") {
            format!("truncated PNG: {message}")
        } else {
            format!("corrupt PNG: {message}")
        }
    })?;
    Ok(decoded.into_luma8())
}

/// The most a PNG of `len` bytes can decode to: deflate packs at most 1032 bytes into one, so
/// a header that claims more pixels than the file can hold (100000² in a few hundred bytes)
/// is refused before its buffer is allocated. A megabyte of slack covers the decoder's own
/// buffers on small files.
fn decoded_bound(len: usize) -> u64 {
    (len as u64).saturating_mul(1032) + (1 << 20)
}

/// Width and height from the IHDR chunk of a PNG in memory.
fn header_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let field = |at: usize| Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    (bytes.get(12..16)? == b"IHDR").then_some(())?;
    Some((field(16)?, field(20)?))
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
        assert_eq!(png_size(&path).unwrap(), (37, 20));
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
        let jpeg = write("j.png", &[0xff, 0xd8, 0xff, 0xe0, 0, 0, 0, 0]);
        assert!(read_gray(&jpeg).unwrap_err().to_string().contains("j.png: not a PNG file: it is a JPEG"));
        let empty = write("e.png", b"");
        assert!(png_size(&empty).unwrap_err().to_string().contains("the file is empty"));

        let good = dir.path().join("g.png");
        write_gray_png(&good, &GrayImage::from_fn(64, 64, |x, y| image::Luma([(x ^ y) as u8]))).unwrap();
        let bytes = std::fs::read(&good).unwrap();
        let cut = write("cut.png", &bytes[..bytes.len() / 2]);
        assert_eq!(png_size(&cut).unwrap(), (64, 64), "the header survives the cut");
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
        assert!(png_size(&header_only).unwrap_err().to_string().contains("no complete IHDR"));
    }
}
