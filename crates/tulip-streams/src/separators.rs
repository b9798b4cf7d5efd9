//! The separators of `readuntil`: one byte string or several (asyncio
//! 3.13 accepts a tuple), and the search for the earliest match.

/// The earliest end of any separator in `data[offset..]`: `(start, end)`
/// of the match (on a tie, the shorter separator wins).
pub(crate) fn find_separator(
    data: &[u8],
    offset: usize,
    separators: &[&[u8]],
) -> Option<(usize, usize)> {
    let hay = data.get(offset..)?;
    let mut best: Option<(usize, usize)> = None;
    for sep in separators {
        // A separator cannot end before the best match if it starts
        // after it: search only up to the best end found so far.
        let limit = best.map_or(hay.len(), |(_, end)| (end - offset).min(hay.len()));
        let region = &hay[..limit];
        let found = if sep.len() == 1 {
            memchr::memchr(sep[0], region)
        } else {
            memchr::memmem::find(region, sep)
        };
        if let Some(i) = found {
            let (start, end) = (offset + i, offset + i + sep.len());
            let better = match best {
                None => true,
                Some((bs, be)) => end < be || (end == be && start > bs),
            };
            if better {
                best = Some((start, end));
            }
        }
    }
    best
}

/// One or several separators for
/// [`StreamReader::readuntil`](crate::StreamReader::readuntil): a byte
/// string (`b"\r\n"`, `&[u8]`, `&Vec<u8>`, `&str`) or a list of them
/// (`[&b"\r\n"[..], b"\n"]`, `&[&[u8]]`), as asyncio accepts `bytes` or a
/// tuple of `bytes`.
///
/// ```
/// use tulip::streams::StreamReader;
/// tulip::run(async {
///     let mut reader = StreamReader::new();
///     reader.feed_data(b"a\r\nb\nc;");
///     // One separator, or several: the first found ends the chunk.
///     assert_eq!(reader.readuntil(b"\r\n").await?, b"a\r\n");
///     assert_eq!(reader.readuntil([&b"\r\n"[..], b"\n"]).await?, b"b\n");
///     assert_eq!(reader.readuntil(";").await?, b"c;");
///     Ok::<(), tulip::streams::Error>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Separators {
    /// Calls `f` with the separators.
    ///
    /// ```
    /// use tulip::streams::Separators;
    /// let several = [&b"\r\n"[..], b"\n"];
    /// assert_eq!(several.with_separators(|seps| seps.len()), 2);
    /// assert!("\n".with_separators(|seps| seps == [b"\n"]));
    /// ```
    fn with_separators<R>(&self, f: impl FnOnce(&[&[u8]]) -> R) -> R;
}

impl Separators for &[u8] {
    fn with_separators<R>(&self, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        f(std::slice::from_ref(self))
    }
}

impl<const N: usize> Separators for &[u8; N] {
    fn with_separators<R>(&self, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        let s: &[u8] = &self[..];
        f(&[s])
    }
}

impl Separators for &Vec<u8> {
    fn with_separators<R>(&self, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        f(&[self.as_slice()])
    }
}

impl Separators for &str {
    fn with_separators<R>(&self, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        f(&[self.as_bytes()])
    }
}

impl Separators for &[&[u8]] {
    fn with_separators<R>(&self, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        f(self)
    }
}

impl<const N: usize> Separators for [&[u8]; N] {
    fn with_separators<R>(&self, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        f(self)
    }
}

impl<const N: usize> Separators for &[&[u8]; N] {
    fn with_separators<R>(&self, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        f(&self[..])
    }
}

impl Separators for &Vec<&[u8]> {
    fn with_separators<R>(&self, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        f(self)
    }
}

#[cfg(test)]
mod tests {
    use super::find_separator;

    #[test]
    fn earliest_end_wins() {
        let seps: [&[u8]; 2] = [b"\r\n", b"\n"];
        // Both end at 4: the shorter one wins (asyncio sorts by length);
        // the chunk returned is the same.
        assert_eq!(find_separator(b"ab\r\ncd", 0, &seps), Some((3, 4)));
        assert_eq!(find_separator(b"ab\ncd\r\n", 0, &seps), Some((2, 3)));
        let seps: [&[u8]; 2] = [b"abc", b"c"];
        assert_eq!(find_separator(b"xabc", 0, &seps), Some((3, 4)));
        assert_eq!(find_separator(b"xabc", 5, &seps), None);
        assert_eq!(find_separator(b"xyz", 0, &seps), None);
    }
}
