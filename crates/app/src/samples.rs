//! Media made in the test, as phones make them: a JPEG whose EXIF says where it was taken, and an
//! MP4 with its location, make and model in the boxes phones use. No big file is committed.

use image::codecs::jpeg::JpegEncoder;
use image::RgbImage;

/// Where the samples say they were taken, in every spelling they use.
pub const LOCATION_TRACES: &[&[u8]] = &[b"41.7677", b"41,46", b"GPSLat", b"\xA9xyz", b"ISO6709"];

/// Who made the samples.
pub const DEVICE_TRACES: &[&[u8]] = &[b"Apple", b"iPhone"];

/// A `width`×`height` photo (a gradient) as a JPEG with an EXIF block: orientation `orientation`
/// and a GPS position, then an XMP block with the position again and a comment.
pub fn photo_with_location(width: u32, height: u32, orientation: u16) -> Vec<u8> {
    let picture = RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x ^ y) % 256) as u8])
    });
    let mut plain = Vec::new();
    JpegEncoder::new_with_quality(&mut plain, 90)
        .encode_image(&picture)
        .expect("a picture in memory encodes");
    let mut exif = b"Exif\0\0II\x2A\0\x08\0\0\0\x02\0".to_vec();
    exif.extend([0x12, 0x01, 3, 0, 1, 0, 0, 0]);
    exif.extend(orientation.to_le_bytes());
    exif.extend([0, 0]);
    exif.extend([0x25, 0x88, 4, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    exif.extend([0, 0, 0, 0]);
    exif.extend(b"GPSLatitude 41.7677N 72.6760W Apple iPhone 15");
    let segments: [(u8, &[u8]); 4] = [
        (0xE1, &exif),
        (
            0xE1,
            b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta><exif:GPSLatitude>41,46.06N</exif:GPSLatitude></x:xmpmeta>",
        ),
        (0xED, b"Photoshop 3.0\08BIM +41.7677-072.6760"),
        (0xFE, b"taken at +41.7677-072.6760"),
    ];
    let mut out = plain[..2].to_vec();
    for (marker, payload) in segments {
        out.extend([0xFF, marker]);
        out.extend(((payload.len() + 2) as u16).to_be_bytes());
        out.extend(payload);
    }
    out.extend_from_slice(&plain[2..]);
    out
}

/// A small photo whose EXIF holds a real GPS position (`lat`, `long`), as a phone writes one:
/// IFD0 points to a GPS IFD with the references and degrees, minutes, seconds as rationals.
pub fn photo_taken_at(lat: f64, long: f64) -> Vec<u8> {
    let picture = RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 90]));
    let mut plain = Vec::new();
    JpegEncoder::new_with_quality(&mut plain, 90)
        .encode_image(&picture)
        .expect("a picture in memory encodes");
    let rationals = |value: f64| {
        let value = value.abs();
        let degrees = value.trunc();
        let minutes = ((value - degrees) * 60.0).trunc();
        let seconds = ((value - degrees) * 60.0 - minutes) * 60.0;
        let mut out = Vec::new();
        for (numerator, denominator) in [
            (degrees as u32, 1u32),
            (minutes as u32, 1),
            ((seconds * 10_000.0).round() as u32, 10_000),
        ] {
            out.extend(numerator.to_le_bytes());
            out.extend(denominator.to_le_bytes());
        }
        out
    };
    // TIFF header, then IFD0 (one entry: the GPS IFD at 26), then the GPS IFD (four entries)
    // with its rationals after it, at 80 and 104.
    let mut tiff = b"II\x2A\0\x08\0\0\0".to_vec();
    tiff.extend([1, 0]);
    tiff.extend([0x25, 0x88, 4, 0, 1, 0, 0, 0, 26, 0, 0, 0]);
    tiff.extend([0, 0, 0, 0]);
    tiff.extend([4, 0]);
    let north = if lat >= 0.0 { b'N' } else { b'S' };
    let east = if long >= 0.0 { b'E' } else { b'W' };
    tiff.extend([1, 0, 2, 0, 2, 0, 0, 0, north, 0, 0, 0]);
    tiff.extend([2, 0, 5, 0, 3, 0, 0, 0, 80, 0, 0, 0]);
    tiff.extend([3, 0, 2, 0, 2, 0, 0, 0, east, 0, 0, 0]);
    tiff.extend([4, 0, 5, 0, 3, 0, 0, 0, 104, 0, 0, 0]);
    tiff.extend([0, 0, 0, 0]);
    tiff.extend(rationals(lat));
    tiff.extend(rationals(long));
    let mut exif = b"Exif\0\0".to_vec();
    exif.extend(tiff);
    let mut out = plain[..2].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend(((exif.len() + 2) as u16).to_be_bytes());
    out.extend(exif);
    out.extend_from_slice(&plain[2..]);
    out
}

/// A box of `kind` around `contents`.
pub fn mp4_box(kind: &[u8; 4], contents: &[u8]) -> Vec<u8> {
    let mut out = ((contents.len() + 8) as u32).to_be_bytes().to_vec();
    out.extend(kind);
    out.extend(contents);
    out
}

/// A small MP4 as a phone writes one: `ftyp`; a `moov` whose `udta` holds `©xyz`, `©mak` and
/// `©mod` and whose `meta` holds Apple's location key, with a track that has its own `udta`; an
/// XMP `uuid` box; then `frames` as the `mdat`.
pub fn phone_video(frames: &[u8]) -> Vec<u8> {
    let xyz = mp4_box(b"\xA9xyz", b"\0\x12\x15\xc7+41.7677-072.6760/");
    let mut udta = xyz.clone();
    udta.extend(mp4_box(b"\xA9mak", b"\0\x05\x15\xc7Apple"));
    udta.extend(mp4_box(b"\xA9mod", b"\0\x09\x15\xc7iPhone 15"));
    let mut meta = vec![0, 0, 0, 0];
    meta.extend(mp4_box(
        b"hdlr",
        &[&[0u8; 8][..], b"mdta", &[0; 12]].concat(),
    ));
    let key = mp4_box(b"mdta", b"com.apple.quicktime.location.ISO6709");
    meta.extend(mp4_box(
        b"keys",
        &[&[0, 0, 0, 0, 0, 0, 0, 1][..], &key].concat(),
    ));
    meta.extend(mp4_box(
        b"ilst",
        &mp4_box(b"\0\0\0\x01", b"+41.7677-072.6760+030.000/"),
    ));
    let mut xmp = vec![
        0xBE, 0x7A, 0xCF, 0xCB, 0x97, 0xA9, 0x42, 0xE8, 0x9C, 0x71, 0x99, 0x94, 0x91, 0xE3, 0xAF,
        0xAC,
    ];
    xmp.extend(b"<x:xmpmeta><exif:GPSLatitude>41,46.06N</exif:GPSLatitude></x:xmpmeta>");
    let mut trak = mp4_box(b"tkhd", &[0; 84]);
    trak.extend(mp4_box(b"udta", &xyz));
    let mut moov = mp4_box(b"mvhd", &[0; 100]);
    moov.extend(mp4_box(b"trak", &trak));
    moov.extend(mp4_box(b"udta", &udta));
    moov.extend(mp4_box(b"meta", &meta));
    let mut file = mp4_box(b"ftyp", b"isom\0\0\x02\0isomiso2mp41");
    file.extend(mp4_box(b"moov", &moov));
    file.extend(mp4_box(b"uuid", &xmp));
    file.extend(mp4_box(b"mdat", frames));
    file
}

/// Whether `haystack` holds `needle` anywhere.
pub fn holds(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
