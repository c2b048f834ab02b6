//! LEB128, the variable-length integers of the compact encodings on disk
//! (rollups' counts, SQLite's check timings): seven bits a byte, low
//! first, the high bit set on every byte but the last. A value below 128
//! takes one byte, a `u32` at most five.

/// Appends `value`.
pub(super) fn push(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// The next value of `bytes`, `None` when they are used up. Garbage reads
/// as what it can: a value cut short ends with the bytes, and bits past 32
/// are dropped (five bytes end a value whatever its fifth holds).
pub(super) fn read<'a>(bytes: &mut impl Iterator<Item = &'a u8>) -> Option<u32> {
    let mut value: u32 = 0;
    let mut shift = 0;
    let mut any = false;
    for byte in bytes.by_ref() {
        any = true;
        value |= u32::from(byte & 0x7f).checked_shl(shift).unwrap_or(0);
        shift += 7;
        if byte & 0x80 == 0 || shift > 28 {
            break;
        }
    }
    any.then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_take_one_byte_per_seven_bits_and_read_back() {
        for (value, bytes) in [
            (0, vec![0]),
            (127, vec![0x7f]),
            (128, vec![0x80, 0x01]),
            (200, vec![0xC8, 0x01]),
            (16_384, vec![0x80, 0x80, 0x01]),
            (u32::MAX, vec![0xff, 0xff, 0xff, 0xff, 0x0f]),
        ] {
            let mut out = Vec::new();
            push(&mut out, value);
            assert_eq!(out, bytes, "{value}");
            assert_eq!(read(&mut out.iter()), Some(value));
        }
    }

    #[test]
    fn garbage_reads_as_what_it_can_and_ends() {
        // A value cut short, then nothing more.
        let bytes = [0x81];
        let mut iter = bytes.iter();
        assert_eq!(read(&mut iter), Some(1));
        assert_eq!(read(&mut iter), None);
        // Six continuation bytes: five make a value, the sixth starts the next.
        let bytes = [0xff; 6];
        let mut iter = bytes.iter();
        assert_eq!(read(&mut iter), Some(u32::MAX));
        assert_eq!(read(&mut iter), Some(0x7f));
        assert_eq!(read(&mut iter), None);
    }
}
