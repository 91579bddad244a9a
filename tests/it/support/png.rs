//! A decoder for the headless browser's PNG screenshots (8-bit RGB or RGBA, not interlaced):
//! enough to read the pixels a test looks at, with no dependency beyond miniz_oxide.

use std::path::Path;

/// A decoded screenshot: 8-bit RGB or RGBA, not interlaced (what Chromium writes).
pub(crate) struct Png {
    pub width: u32,
    pub height: u32,
    /// Pixels as RGBA.
    pub pixels: Vec<[u8; 4]>,
}

impl Png {
    #[track_caller]
    pub(crate) fn read(path: &Path) -> Png {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Png::decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Png, String> {
        let mut rest = bytes
            .strip_prefix(b"\x89PNG\r\n\x1a\n")
            .ok_or("not a PNG (no signature)")?;
        let mut header = None;
        let mut data = Vec::new();
        while rest.len() >= 12 {
            let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            let kind = &rest[4..8];
            let body = rest.get(8..8 + len).ok_or("a chunk runs past the end")?;
            match kind {
                b"IHDR" => header = Some(body.to_vec()),
                b"IDAT" => data.extend_from_slice(body),
                b"IEND" => break,
                _ => {}
            }
            rest = &rest[(12 + len).min(rest.len())..];
        }
        let header = header.ok_or("no IHDR chunk")?;
        if header.len() != 13 {
            return Err("IHDR of the wrong length".into());
        }
        let width = u32::from_be_bytes(header[0..4].try_into().unwrap());
        let height = u32::from_be_bytes(header[4..8].try_into().unwrap());
        let (depth, colour, interlace) = (header[8], header[9], header[12]);
        let channels = match (depth, colour, interlace) {
            (8, 2, 0) => 3,
            (8, 6, 0) => 4,
            _ => {
                return Err(format!(
                    "bit depth {depth}, colour type {colour}, interlace {interlace}: only 8-bit \
                     RGB/RGBA without interlace is read"
                ));
            }
        };
        let raw = miniz_oxide::inflate::decompress_to_vec_zlib(&data)
            .map_err(|e| format!("image data: {e:?}"))?;
        let stride = width as usize * channels;
        if raw.len() != (stride + 1) * height as usize {
            return Err(format!(
                "{} bytes of image data for {width}×{height}",
                raw.len()
            ));
        }
        let mut previous = vec![0u8; stride];
        let mut pixels = Vec::with_capacity(width as usize * height as usize);
        for line in raw.chunks(stride + 1) {
            let (filter, line) = (line[0], &line[1..]);
            let mut row = vec![0u8; stride];
            for i in 0..stride {
                let left = if i >= channels { row[i - channels] } else { 0 };
                let up = previous[i];
                let up_left = if i >= channels {
                    previous[i - channels]
                } else {
                    0
                };
                let predicted = match filter {
                    0 => 0,
                    1 => left,
                    2 => up,
                    3 => ((u16::from(left) + u16::from(up)) / 2) as u8,
                    4 => paeth(left, up, up_left),
                    other => return Err(format!("unknown filter type {other}")),
                };
                row[i] = line[i].wrapping_add(predicted);
            }
            pixels.extend(row.chunks(channels).map(|p| match *p {
                [r, g, b] => [r, g, b, 255],
                [r, g, b, a] => [r, g, b, a],
                _ => unreachable!(),
            }));
            previous = row;
        }
        Ok(Png {
            width,
            height,
            pixels,
        })
    }

    /// How many pixels differ from the commonest colour (the background).
    pub(crate) fn foreground_pixels(&self) -> usize {
        let mut counts = std::collections::HashMap::new();
        for p in &self.pixels {
            *counts.entry(*p).or_insert(0usize) += 1;
        }
        let background = counts.values().copied().max().unwrap_or(0);
        self.pixels.len() - background
    }
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = (
        (p - i16::from(a)).abs(),
        (p - i16::from(b)).abs(),
        (p - i16::from(c)).abs(),
    );
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

#[test]
fn png_decode_reads_pixels_and_refuses_what_is_not_a_png() {
    // 2×1 RGB, filter Sub on its one row: red, then red + (0, 255, 0) = yellow.
    let raw = [1u8, 255, 0, 0, 0, 255, 0];
    let data = miniz_oxide::deflate::compress_to_vec_zlib(&raw, 6);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], body: &[u8]| {
        png.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes());
        png.extend_from_slice(kind);
        png.extend_from_slice(body);
        png.extend_from_slice(&[0; 4]); // the CRC, which the decoder does not check
    };
    chunk(b"IHDR", &[0, 0, 0, 2, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
    chunk(b"IDAT", &data);
    chunk(b"IEND", &[]);
    let image = Png::decode(&png).unwrap();
    assert_eq!((image.width, image.height), (2, 1));
    assert_eq!(image.pixels, [[255, 0, 0, 255], [255, 255, 0, 255]]);
    assert_eq!(image.foreground_pixels(), 1);
    assert!(Png::decode(b"GIF89a").is_err());
}
