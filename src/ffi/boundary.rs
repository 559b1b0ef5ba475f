//! Everything that touches C pointers or crosses the panic boundary, in one place: the guard every exported
//! function runs its body in, the checks that turn `(ptr, len)` into slices, output writers, and the
//! thread-local last error.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::{ptr, slice};

use super::result::rcemit_result;

/// Longest last-error message kept (bytes); longer ones are cut on a character boundary.
pub const MAX_ERROR_LEN: usize = 1000;

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// A failed call: its code and, when there is more to say than the code's message, a detail for
/// `rcemit_last_error()`.
pub struct Failure {
    pub code: rcemit_result,
    pub detail: Option<String>,
}

impl From<rcemit_result> for Failure {
    fn from(code: rcemit_result) -> Self {
        Self { code, detail: None }
    }
}

impl Failure {
    pub fn with_detail(code: rcemit_result, detail: String) -> Self {
        Self {
            code,
            detail: Some(detail),
        }
    }
}

/// Runs an exported function's body: a panic becomes `Panic`, a failure's detail becomes the last error.
pub fn guard(body: impl FnOnce() -> Result<(), Failure>) -> rcemit_result {
    let failure = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return rcemit_result::Ok,
        Ok(Err(failure)) => failure,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Failure::with_detail(rcemit_result::Panic, format!("rcemit panicked: {what}"))
        }
    };
    if let Some(mut detail) = failure.detail {
        if detail.len() > MAX_ERROR_LEN {
            let mut end = MAX_ERROR_LEN;
            while !detail.is_char_boundary(end) {
                end -= 1;
            }
            detail.truncate(end);
        }
        // Ignore the (theoretical) case of a thread whose locals are being destroyed.
        let _ = LAST_ERROR.try_with(|last| *last.borrow_mut() = detail);
    }
    failure.code
}

/// The last error detail recorded on this thread ("" if none).
pub fn last_error() -> String {
    LAST_ERROR
        .try_with(|last| last.borrow().clone())
        .unwrap_or_default()
}

/// A borrowed input buffer.
///
/// # Safety
/// Unless `ptr` is NULL, it must point to `len` readable bytes that stay unchanged during the call.
pub unsafe fn input<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], Failure> {
    if ptr.is_null() {
        return Err(rcemit_result::NullParameter.into());
    }
    // SAFETY: non-null, and the caller promises `len` readable bytes.
    Ok(unsafe { slice::from_raw_parts(ptr, len) })
}

/// Checks an output pointer before any work is done, so outputs can be written only on success.
pub fn output<T>(ptr: *mut T) -> Result<*mut T, Failure> {
    if ptr.is_null() {
        Err(rcemit_result::NullParameter.into())
    } else {
        Ok(ptr)
    }
}

/// Writes one value through a checked output pointer.
///
/// # Safety
/// `out` must be non-NULL (see [`output`]), aligned and writable for a `T`.
pub unsafe fn write<T>(out: *mut T, value: T) {
    // SAFETY: the caller's promise; `write` does not read or drop the old contents (may be uninitialised).
    unsafe { ptr::write(out, value) }
}

/// Writes the first `size` bytes of `value` (all of it if `size` is larger) through a checked output
/// pointer: how structs the caller sized are filled.
///
/// # Safety
/// `out` must be non-NULL (see [`output`]) and writable for `min(size, size_of::<T>())` bytes.
pub unsafe fn write_prefix<T: Copy>(out: *mut T, value: &T, size: usize) {
    let len = size.min(std::mem::size_of::<T>());
    // SAFETY: the caller's promise; `value` is a different object than `*out`.
    unsafe { ptr::copy_nonoverlapping((value as *const T).cast::<u8>(), out.cast::<u8>(), len) }
}

/// Copies `text` into a caller's buffer with a terminating NUL and writes its length (without the NUL) to
/// `written_out`; `BufferTooSmall` and nothing written when `len` is under the text length + 1.
///
/// # Safety
/// Unless NULL, `buf` must be writable for `len` bytes and `written_out` writable for a `size_t`.
pub unsafe fn write_text(
    text: &str,
    buf: *mut u8,
    len: usize,
    written_out: *mut usize,
) -> Result<(), Failure> {
    let written_out = output(written_out)?;
    let buf = output(buf)?;
    if len < text.len() + 1 {
        return Err(rcemit_result::BufferTooSmall.into());
    }
    // SAFETY: `buf` has room for `len` > text.len() bytes, and is a different object than `text`.
    unsafe {
        ptr::copy_nonoverlapping(text.as_ptr(), buf, text.len());
        *buf.add(text.len()) = 0;
        write(written_out, text.len());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_a_result_code_and_a_last_error() {
        let code = guard(|| panic!("formatter bug {}", 42));
        assert_eq!(code, rcemit_result::Panic);
        assert_eq!(last_error(), "rcemit panicked: formatter bug 42");
        assert_eq!(guard(|| Ok(())), rcemit_result::Ok);
        // Success leaves the last error alone; a failure without detail too.
        assert_eq!(
            guard(|| Err(rcemit_result::QueueFull.into())),
            rcemit_result::QueueFull
        );
        assert_eq!(last_error(), "rcemit panicked: formatter bug 42");
    }

    #[test]
    fn long_details_are_cut_on_a_character_boundary() {
        let detail = "é".repeat(MAX_ERROR_LEN);
        guard(|| Err(Failure::with_detail(rcemit_result::InvalidConfig, detail)));
        let kept = last_error();
        assert!(kept.len() <= MAX_ERROR_LEN && kept.len() >= MAX_ERROR_LEN - 1);
        assert!(kept.chars().all(|c| c == 'é'));
    }

    #[test]
    fn text_is_written_only_when_it_fits() {
        let mut buf = [0xAAu8; 4];
        let mut written = 99usize;
        let result = unsafe { write_text("abcd", buf.as_mut_ptr(), buf.len(), &mut written) };
        assert!(matches!(
            result,
            Err(Failure {
                code: rcemit_result::BufferTooSmall,
                ..
            })
        ));
        assert_eq!((buf, written), ([0xAA; 4], 99));
        unsafe { write_text("abc", buf.as_mut_ptr(), buf.len(), &mut written) }
            .ok()
            .unwrap();
        assert_eq!((&buf, written), (b"abc\0", 3));
        let null = unsafe { write_text("a", ptr::null_mut(), 4, &mut written) };
        assert!(matches!(
            null,
            Err(Failure {
                code: rcemit_result::NullParameter,
                ..
            })
        ));
    }
}
