//! Photos made fit to keep and show: a bounded decode, the picture turned upright, a web version
//! and a thumbnail re-encoded without any metadata, and the original with its metadata cut out.
//!
//! Nothing here does I/O: bytes in, bytes out. The decoder is told the most pixels and memory it
//! may use before it reads a pixel, so a decompression bomb is refused from its header, and the
//! whole decode runs under `catch_unwind` so a decoder bug is a refusal, not a dead function.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// Most pixels a photo may declare (50 megapixels; phones take 12 to 48).
pub const MAX_PIXELS: u64 = 50_000_000;

/// Most memory the decoder may take for one photo: 50 MP at 4 bytes a pixel. With the file itself
/// (at most 15 MB) and the small versions this stays well inside a 512 MB function.
pub const MAX_DECODE_BYTES: u64 = 200 * 1024 * 1024;

/// The longest side of the web version.
pub const WEB_SIDE: u32 = 1600;

/// The longest side of the thumbnail.
pub const THUMBNAIL_SIDE: u32 = 320;

/// About how large the web version may be; it is encoded again at lower quality until it fits.
pub const WEB_TARGET_BYTES: usize = 300 * 1024;

/// A photo ready to keep: every part free of EXIF, XMP, IPTC and comments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The file as sent, less its metadata (and anything after its end); for staff only.
    pub original: Vec<u8>,
    /// Upright, at most [`WEB_SIDE`] on its longest side, JPEG.
    pub web: Vec<u8>,
    /// Upright, at most [`THUMBNAIL_SIDE`] on its longest side, JPEG.
    pub thumbnail: Vec<u8>,
    /// The upright size of the photo as sent.
    pub width: u32,
    pub height: u32,
}

/// Makes the versions of a photo of `content_type`, or says why it cannot be taken.
pub fn prepare(content_type: &str, bytes: &[u8]) -> Result<Prepared, String> {
    let format = match content_type {
        "image/jpeg" => ImageFormat::Jpeg,
        "image/png" => ImageFormat::Png,
        "image/webp" => ImageFormat::WebP,
        other => return Err(format!("{other} is not a photo format taken here")),
    };
    let original = match format {
        ImageFormat::Jpeg => jpeg_without_metadata(bytes)?,
        ImageFormat::Png => png_without_metadata(bytes)?,
        _ => webp_without_metadata(bytes)?,
    };
    let decoded = std::panic::catch_unwind(|| decode_upright(format, bytes))
        .map_err(|_| format!("the {content_type} could not be read"))??;
    let (width, height) = (decoded.width(), decoded.height());
    let web = shrink(decoded, WEB_SIDE);
    let thumbnail = encode_jpeg(&shrink(web.clone(), THUMBNAIL_SIDE), 80)?;
    let web = encode_within(&web, WEB_TARGET_BYTES)?;
    let original = match (format, upright_tag(bytes, format)) {
        (ImageFormat::Jpeg, Some(orientation)) if orientation != 1 => {
            with_orientation_only(&original, orientation)
        }
        _ => original,
    };
    Ok(Prepared {
        original,
        web,
        thumbnail,
        width,
        height,
    })
}

/// Decodes within [`MAX_PIXELS`] and [`MAX_DECODE_BYTES`], checking the declared size first, and
/// turns the picture as its EXIF orientation says.
fn decode_upright(format: ImageFormat, bytes: &[u8]) -> Result<DynamicImage, String> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(unreadable)?;
    let (width, height) = decoder.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    if pixels > MAX_PIXELS {
        return Err(format!(
            "the photo declares {width}×{height} pixels, more than the {} megapixels taken",
            MAX_PIXELS / 1_000_000
        ));
    }
    if pixels == 0 {
        return Err("the photo declares no pixels".into());
    }
    // The decoder checks its own buffers against the limit; the picture it decodes into is
    // checked here, before it is allocated.
    if decoder.total_bytes() > MAX_DECODE_BYTES {
        return Err(unreadable(image::ImageError::Limits(
            image::error::LimitError::from_kind(image::error::LimitErrorKind::InsufficientMemory),
        )));
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut picture = DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    picture.apply_orientation(orientation);
    Ok(picture)
}

fn unreadable(error: image::ImageError) -> String {
    match error {
        image::ImageError::Limits(_) => format!(
            "the photo would take more than {} MB to open; send a smaller one",
            MAX_DECODE_BYTES / (1024 * 1024)
        ),
        other => format!("the photo cannot be read: {other}"),
    }
}

/// The picture at most `side` on its longest side (never enlarged).
fn shrink(picture: DynamicImage, side: u32) -> DynamicImage {
    if picture.width().max(picture.height()) <= side {
        return picture;
    }
    picture.resize(side, side, FilterType::Triangle)
}

fn encode_jpeg(picture: &DynamicImage, quality: u8) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(&DynamicImage::ImageRgb8(picture.to_rgb8()))
        .map_err(|e| format!("the photo could not be encoded again: {e}"))?;
    Ok(out)
}

/// The JPEG at the best of a few qualities that fits `target` bytes (the lowest if none does).
fn encode_within(picture: &DynamicImage, target: usize) -> Result<Vec<u8>, String> {
    let mut encoded = Vec::new();
    for quality in [82, 70, 58] {
        encoded = encode_jpeg(picture, quality)?;
        if encoded.len() <= target {
            break;
        }
    }
    Ok(encoded)
}

/// The EXIF orientation (1 to 8) of a JPEG, if it has one.
fn upright_tag(bytes: &[u8], format: ImageFormat) -> Option<u16> {
    if format != ImageFormat::Jpeg {
        return None;
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.no_limits();
    let mut decoder = reader.into_decoder().ok()?;
    decoder.orientation().ok().map(|o| o.to_exif().into())
}

/// A JPEG's marker segments up to its end (EOI), less every application segment but JFIF, ICC
/// colour profiles and Adobe's colour transform, and less comments. Refuses a JPEG that stops
/// before its end. Whatever follows the end (some phones append a video) is dropped.
fn jpeg_without_metadata(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let truncated = || "the JPEG stops before its end: it was cut short".to_string();
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return Err("not a JPEG".into());
    }
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&[0xFF, 0xD8]);
    let mut at = 2;
    loop {
        // Markers may be padded with any number of 0xFF.
        while bytes.get(at) == Some(&0xFF) && bytes.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        let (Some(&0xFF), Some(&marker)) = (bytes.get(at), bytes.get(at + 1)) else {
            return Err(if at >= bytes.len() {
                truncated()
            } else {
                format!("the JPEG is corrupt at byte {at}")
            });
        };
        if marker == 0xD9 {
            out.extend_from_slice(&[0xFF, 0xD9]);
            return Ok(out);
        }
        if (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            out.extend_from_slice(&bytes[at..at + 2]);
            at += 2;
            continue;
        }
        let length = match bytes.get(at + 2..at + 4) {
            Some(l) => usize::from(u16::from_be_bytes([l[0], l[1]])),
            None => return Err(truncated()),
        };
        let end = at + 2 + length;
        if length < 2 || end > bytes.len() {
            return Err(truncated());
        }
        let segment = &bytes[at..end];
        let payload = &segment[4..];
        let keep = match marker {
            0xE0 => payload.starts_with(b"JFIF\0"),
            0xE2 => payload.starts_with(b"ICC_PROFILE\0"),
            0xEE => payload.starts_with(b"Adobe"),
            0xE1 | 0xE3..=0xED | 0xEF | 0xFE => false,
            _ => true,
        };
        if keep {
            out.extend_from_slice(segment);
        }
        at = end;
        if marker == 0xDA {
            // The entropy-coded scan runs to the next marker that is not a stuffed 0xFF or a restart.
            let scan_start = at;
            loop {
                match bytes.get(at..at + 2) {
                    None => return Err(truncated()),
                    Some([0xFF, next]) if *next == 0x00 || (0xD0..=0xD7).contains(next) => at += 2,
                    Some([0xFF, _]) => break,
                    Some(_) => at += 1,
                }
            }
            out.extend_from_slice(&bytes[scan_start..at]);
        }
    }
}

/// A PNG less its text, EXIF and time chunks.
fn png_without_metadata(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut png = img_parts::png::Png::from_bytes(bytes.to_vec().into())
        .map_err(|e| format!("the PNG cannot be read: {e}"))?;
    png.chunks_mut().retain(|chunk| {
        !matches!(
            &chunk.kind(),
            b"tEXt" | b"zTXt" | b"iTXt" | b"eXIf" | b"tIME"
        )
    });
    Ok(png.encoder().bytes().to_vec())
}

/// A WebP less its EXIF and XMP chunks.
fn webp_without_metadata(bytes: &[u8]) -> Result<Vec<u8>, String> {
    use img_parts::ImageEXIF;
    let mut webp = img_parts::webp::WebP::from_bytes(bytes.to_vec().into())
        .map_err(|e| format!("the WebP cannot be read: {e}"))?;
    webp.set_exif(None);
    webp.remove_chunks_by_id(*b"XMP ");
    Ok(webp.encoder().bytes().to_vec())
}

/// The JPEG with one EXIF block that holds only its orientation, so a stripped original still
/// shows upright for staff.
fn with_orientation_only(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    // "Exif\0\0", a big-endian TIFF header, one IFD with one SHORT entry (0x0112), no next IFD.
    let mut exif = b"Exif\0\0MM\0\x2A\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01".to_vec();
    exif.extend(orientation.to_be_bytes());
    exif.extend([0, 0, 0, 0, 0, 0]);
    let mut out = Vec::with_capacity(jpeg.len() + exif.len() + 4);
    out.extend_from_slice(&jpeg[..2]);
    out.extend([0xFF, 0xE1]);
    out.extend(((exif.len() + 2) as u16).to_be_bytes());
    out.extend(exif);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samples::{holds, photo_with_location, DEVICE_TRACES, LOCATION_TRACES};
    use image::{ImageEncoder, RgbImage};

    /// A photo of `width`×`height` with a gradient, encoded as JPEG.
    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let picture = RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
        });
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, 90)
            .encode_image(&picture)
            .unwrap();
        out
    }

    fn size_of(jpeg: &[u8]) -> (u32, u32) {
        image::load_from_memory_with_format(jpeg, ImageFormat::Jpeg)
            .map(|p| (p.width(), p.height()))
            .unwrap()
    }

    #[test]
    fn every_version_loses_exif_xmp_iptc_and_comments_and_the_web_one_is_upright() {
        // given a landscape photo whose EXIF says "turn 90° clockwise" and where it was taken,
        // with XMP, IPTC and a comment saying so again
        let photo = photo_with_location(2400, 1200, 6);

        // when it is prepared
        let prepared = prepare("image/jpeg", &photo).unwrap();

        // then no version holds any of it, and the small versions stand upright
        for (name, version) in [
            ("original", &prepared.original),
            ("web", &prepared.web),
            ("thumbnail", &prepared.thumbnail),
        ] {
            for trace in LOCATION_TRACES.iter().chain(DEVICE_TRACES) {
                assert!(!holds(version, trace), "{name} keeps {trace:?}");
            }
            assert!(!holds(version, b"http://ns.adobe.com"), "{name} keeps XMP");
        }
        assert!(!holds(&prepared.web, b"Exif"));
        assert_eq!((prepared.width, prepared.height), (1200, 2400));
        assert_eq!(size_of(&prepared.web), (800, WEB_SIDE));
        assert_eq!(size_of(&prepared.thumbnail), (160, THUMBNAIL_SIDE));
        assert!(
            prepared.web.len() <= WEB_TARGET_BYTES,
            "{}",
            prepared.web.len()
        );
        // the original keeps only its orientation, so staff see it upright too
        assert_eq!(upright_tag(&prepared.original, ImageFormat::Jpeg), Some(6));
        assert_eq!(size_of(&prepared.original), (2400, 1200));
    }

    #[test]
    fn a_small_photo_is_not_enlarged() {
        let prepared = prepare("image/jpeg", &jpeg(640, 480)).unwrap();
        assert_eq!(size_of(&prepared.web), (640, 480));
        assert_eq!(size_of(&prepared.thumbnail), (320, 240));
    }

    #[test]
    fn a_truncated_jpeg_is_refused_as_cut_short() {
        let photo = jpeg(800, 600);
        let half = &photo[..photo.len() / 2];
        let why = prepare("image/jpeg", half).unwrap_err();
        assert!(why.contains("cut short"), "{why}");
    }

    #[test]
    fn a_truncated_png_is_refused() {
        let mut png = Vec::new();
        image::codecs::png::PngEncoder::new(&mut png)
            .write_image(
                &RgbImage::from_fn(300, 300, |x, y| image::Rgb([x as u8, y as u8, 7])),
                300,
                300,
                image::ExtendedColorType::Rgb8,
            )
            .unwrap();
        assert!(prepare("image/png", &png).is_ok());
        assert!(prepare("image/png", &png[..png.len() * 2 / 3]).is_err());
    }

    /// A PNG whose header declares `width`×`height` of 16-bit RGBA and whose data is a few bytes:
    /// a decompression bomb in shape.
    fn png_declaring(width: u32, height: u32) -> Vec<u8> {
        fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
            out.extend((data.len() as u32).to_be_bytes());
            let start = out.len();
            out.extend(kind);
            out.extend(data);
            let crc = crc32(&out[start..]);
            out.extend(crc.to_be_bytes());
        }
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut header = width.to_be_bytes().to_vec();
        header.extend(height.to_be_bytes());
        header.extend([16, 6, 0, 0, 0]);
        chunk(&mut out, b"IHDR", &header);
        chunk(
            &mut out,
            b"IDAT",
            &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
        );
        chunk(&mut out, b"IEND", &[]);
        out
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn a_decompression_bomb_is_refused_from_its_header() {
        // 100,000 × 100,000 pixels: refused on what it declares, before a pixel is read
        let why = prepare("image/png", &png_declaring(100_000, 100_000)).unwrap_err();
        assert!(why.contains("megapixels"), "{why}");
        // 7,000 × 7,000 of 16-bit RGBA (49 MP, 392 MB): under the pixels, over the memory
        let why = prepare("image/png", &png_declaring(7_000, 7_000)).unwrap_err();
        assert!(why.contains("MB to open"), "{why}");
    }

    #[test]
    fn bytes_of_no_photo_are_refused_without_a_panic() {
        for junk in [
            &b""[..],
            b"\xFF\xD8\xFF",
            b"\xFF\xD8garbage",
            b"\x89PNG\r\n\x1a\n",
        ] {
            assert!(prepare("image/jpeg", junk).is_err());
            assert!(prepare("image/png", junk).is_err());
            assert!(prepare("image/webp", junk).is_err());
        }
    }
}
