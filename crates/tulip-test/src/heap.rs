//! The heap in use, for tests that work gives its memory back.

/// Bytes of heap in use, all threads and arenas together (glibc's
/// `mallinfo2`: small blocks plus mmapped large ones); `None` where the C
/// library is not glibc, and a test then has nothing to measure.
///
/// ```
/// use tulip_test::heap_in_use;
///
/// if let Some(before) = heap_in_use() {
///     let block = vec![1u8; 1 << 20];
///     assert!(heap_in_use().unwrap() >= before + block.len());
/// }
/// ```
pub fn heap_in_use() -> Option<usize> {
    #[cfg(target_env = "gnu")]
    {
        // SAFETY: `mallinfo2` takes no arguments and returns a plain struct
        // by value; it only reads the allocator's counters, under the
        // allocator's own locks, so it is sound from any thread at any time.
        let info = unsafe { libc::mallinfo2() };
        Some(info.uordblks + info.hblkhd)
    }
    #[cfg(not(target_env = "gnu"))]
    {
        None
    }
}
