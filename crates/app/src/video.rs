//! Videos made fit to keep: the metadata boxes of an MP4 or MOV (where it was taken, the phone's
//! make and model, XMP) blanked in place, without re-encoding and without a second copy.
//!
//! An MP4 is a tree of boxes (size, four-letter type, contents). Location and device live in
//! `udta` and `meta` boxes (`©xyz`, `©mak`, `©mod`, Apple's `com.apple.quicktime.location.ISO6709`
//! keys) and in XMP `uuid` boxes. Each is turned into a `free` box of the same size with its
//! contents zeroed, so no offset into the media data moves and players skip it. Nothing here does
//! I/O.

/// The XMP packet's UUID, as it heads a `uuid` box.
const XMP_UUID: [u8; 16] = [
    0xBE, 0x7A, 0xCF, 0xCB, 0x97, 0xA9, 0x42, 0xE8, 0x9C, 0x71, 0x99, 0x94, 0x91, 0xE3, 0xAF, 0xAC,
];

/// Boxes that hold other boxes and are walked into.
const CONTAINERS: &[&[u8; 4]] = &[
    b"moov", b"trak", b"mdia", b"minf", b"edts", b"moof", b"traf",
];

/// Deepest box tree walked; real files are 6 or 7 deep.
const MAX_DEPTH: usize = 12;

/// Blanks every metadata box of the MP4 or MOV `bytes` in place; gives how many were blanked.
/// Refuses a file whose boxes do not add up (cut short, corrupt) or that has no `moov` (no film).
pub fn strip_metadata(bytes: &mut [u8]) -> Result<usize, String> {
    let mut blanked = 0;
    let mut has_film = false;
    walk_range(bytes, 0, bytes.len(), 0, &mut blanked, &mut has_film)?;
    if !has_film {
        return Err("the video has no `moov` box: it is cut short or not a film".into());
    }
    Ok(blanked)
}

/// One box's place: where its contents start and where it ends.
struct Found {
    kind: [u8; 4],
    contents: usize,
    end: usize,
}

/// The box at `at` within `bytes[..end]`.
fn read_box(bytes: &[u8], at: usize, end: usize) -> Result<Found, String> {
    let corrupt = |why: &str| format!("the video is corrupt at byte {at}: {why}");
    let header = bytes
        .get(at..at + 8)
        .filter(|_| at + 8 <= end)
        .ok_or_else(|| corrupt("a box header is cut short"))?;
    let size32 = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    let kind = [header[4], header[5], header[6], header[7]];
    let (size, contents) = match size32 {
        0 => ((end - at) as u64, at + 8),
        1 => {
            let large = bytes
                .get(at + 8..at + 16)
                .filter(|_| at + 16 <= end)
                .ok_or_else(|| corrupt("a large box header is cut short"))?;
            (
                u64::from_be_bytes(large.try_into().expect("eight bytes")),
                at + 16,
            )
        }
        n => (u64::from(n), at + 8),
    };
    let box_end = (at as u64)
        .checked_add(size)
        .filter(|&e| e <= end as u64 && size >= (contents - at) as u64)
        .ok_or_else(|| {
            corrupt(&format!(
                "a `{}` box claims {size} bytes, past the end of what holds it",
                String::from_utf8_lossy(&kind)
            ))
        })?;
    Ok(Found {
        kind,
        contents,
        end: box_end as usize,
    })
}

fn walk_range(
    bytes: &mut [u8],
    mut at: usize,
    end: usize,
    depth: usize,
    blanked: &mut usize,
    has_film: &mut bool,
) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("the video nests boxes deeper than {MAX_DEPTH}"));
    }
    while at < end {
        let found = read_box(bytes, at, end)?;
        if depth == 0 && found.kind == *b"moov" {
            *has_film = true;
        }
        let xmp = found.kind == *b"uuid"
            && bytes.get(found.contents..found.contents + 16) == Some(&XMP_UUID[..]);
        if matches!(&found.kind, b"udta" | b"meta") || xmp {
            bytes[at + 4..at + 8].copy_from_slice(b"free");
            bytes[found.contents..found.end].fill(0);
            *blanked += 1;
        } else if CONTAINERS.contains(&&found.kind) {
            walk_range(
                bytes,
                found.contents,
                found.end,
                depth + 1,
                blanked,
                has_film,
            )?;
        }
        at = found.end;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samples::{holds, mp4_box, phone_video, DEVICE_TRACES, LOCATION_TRACES};

    #[test]
    fn location_device_and_xmp_are_blanked_and_the_frames_stay_where_they_were() {
        // given a phone video with its location in four boxes
        let frames = b"\x00\x00\x00\x10frames of the pothole".repeat(50);
        let video = phone_video(&frames);
        assert!(holds(&video, b"\xA9xyz") && holds(&video, b"+41.7677"));
        let frames_at = video.len() - frames.len();

        // when its metadata is stripped
        let mut stripped = video.clone();
        let blanked = strip_metadata(&mut stripped).unwrap();

        // then no location, make or model is left, the size is the same, and the frames are untouched
        assert_eq!(blanked, 4);
        for trace in LOCATION_TRACES.iter().chain(DEVICE_TRACES) {
            assert!(
                !holds(&stripped, trace),
                "{:?} left",
                String::from_utf8_lossy(trace)
            );
        }
        assert_eq!(stripped.len(), video.len());
        assert_eq!(&stripped[frames_at..], &frames[..]);
        assert_eq!(
            infer::get(&stripped).map(|t| t.mime_type()),
            Some("video/mp4")
        );
        // and stripping again changes nothing
        let mut again = stripped.clone();
        assert_eq!(strip_metadata(&mut again).unwrap(), 0);
        assert_eq!(again, stripped);
    }

    #[test]
    fn a_corrupt_or_cut_short_video_is_refused_with_where() {
        let video = phone_video(b"frames");
        let mut cut = video[..video.len() - 3].to_vec();
        let why = strip_metadata(&mut cut).unwrap_err();
        assert!(why.contains("`mdat` box claims"), "{why}");

        let mut lying = video.clone();
        lying[28..32].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(strip_metadata(&mut lying).unwrap_err().contains("corrupt"));

        let mut no_film = mp4_box(b"ftyp", b"isom\0\0\x02\0isom");
        no_film.extend(mp4_box(b"mdat", b"frames"));
        assert!(strip_metadata(&mut no_film)
            .unwrap_err()
            .contains("no `moov`"));

        for junk in [&b""[..], b"\0\0\0", b"\0\0\0\x01ftyp"] {
            assert!(strip_metadata(&mut junk.to_vec()).is_err());
        }
    }
}
