//! Free lists for the loop's handle objects (`Handle`, `TimerHandle`):
//! asyncio programs make and drop one per callback, and uvloop keeps its
//! handles on free lists too.
//!
//! PyO3's own `freelist` option keeps its list behind a mutex (for
//! free-threaded builds), which costs as much as the allocation it saves;
//! these lists are touched only by the GIL's holder (the module refuses an
//! interpreter running without it), like CPython's own free lists. Each
//! list replaces its exact type's `tp_alloc` and `tp_free` slots once the
//! type is made: an object of that exact type goes back to the list when
//! freed (up to [`CAPACITY`]) and comes out zeroed, as
//! `PyType_GenericAlloc` would give it; anything else (a subclass, a full
//! list) takes the interpreter's usual way.
//!
//! The objects are GC-typed (PyO3 makes every class one) but never
//! tracked while they live (`handle::new_untracked`) and untracked by
//! their deallocation, so a listed object's GC header is that of an
//! untracked object and stays so when reused; the header itself is never
//! touched here.

use std::cell::UnsafeCell;
use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyType;

/// How many freed objects a list keeps.
const CAPACITY: usize = 256;

/// One type's list.
struct FreeList {
    /// The exact type whose objects go on the list (null until installed).
    ty: AtomicPtr<ffi::PyTypeObject>,
    objects: UnsafeCell<Vec<*mut ffi::PyObject>>,
}

// SAFETY: `objects` is read and written only by `alloc` and `free`, which
// the interpreter calls with the GIL held and which run no Python code, so
// the GIL serialises them; the pointers it holds are freed objects owned
// by the list alone.
unsafe impl Sync for FreeList {}

/// The lists: 0 for `Handle`, 1 for `TimerHandle`.
static LISTS: [FreeList; 2] = [FreeList::new(), FreeList::new()];

impl FreeList {
    const fn new() -> FreeList {
        FreeList {
            ty: AtomicPtr::new(ptr::null_mut()),
            objects: UnsafeCell::new(Vec::new()),
        }
    }
}

/// Puts list `N` on the exact type `ty` (once, at module initialisation).
pub(crate) fn install<const N: usize>(ty: &Bound<'_, PyType>) {
    let raw = ty.as_type_ptr();
    LISTS[N].ty.store(raw, Ordering::Relaxed);
    // SAFETY: the GIL is held (`ty`); `raw` is a live heap type just made
    // by PyO3 with no instance yet, whose allocation slots are replaced
    // before any object is made (slots are plain fields CPython reads at
    // each allocation and deallocation).
    unsafe {
        (*raw).tp_alloc = Some(alloc::<N>);
        (*raw).tp_free = Some(free::<N>);
    }
}

/// `tp_alloc`: an object from the list when there is one for this exact
/// type, else the interpreter's generic allocation.
///
/// # Safety
///
/// Called by the interpreter (with the GIL) as a type's `tp_alloc`.
unsafe extern "C" fn alloc<const N: usize>(
    subtype: *mut ffi::PyTypeObject,
    nitems: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    let list = &LISTS[N];
    if nitems == 0 && ptr::eq(subtype, list.ty.load(Ordering::Relaxed)) {
        // SAFETY: see `FreeList`'s `Sync` argument.
        let popped = unsafe { (*list.objects.get()).pop() };
        if let Some(object) = popped {
            // SAFETY: `object` is a freed object of this exact type (so of
            // `tp_basicsize` bytes), owned by the list; zeroed and given
            // its type and a reference count, as a fresh allocation.
            unsafe {
                let size = usize::try_from((*subtype).tp_basicsize).unwrap_or(0);
                ptr::write_bytes(object.cast::<u8>(), 0, size);
                return ffi::PyObject_Init(object, subtype);
            }
        }
    }
    // SAFETY: the interpreter's own allocation, with its arguments.
    unsafe { ffi::PyType_GenericAlloc(subtype, nitems) }
}

/// `tp_free`: onto the list when it is this exact type's object, the
/// list has room and the object is untracked; else the interpreter's GC
/// deallocation (the type is a GC type).
///
/// # Safety
///
/// Called by the interpreter (with the GIL) as a type's `tp_free`, on an
/// object whose deallocation is done.
unsafe extern "C" fn free<const N: usize>(raw: *mut c_void) {
    let list = &LISTS[N];
    let object = raw.cast::<ffi::PyObject>();
    // SAFETY: `object` is the object being freed (its type still set),
    // and the list is touched with the GIL held (see `FreeList`).
    unsafe {
        let objects = &mut *list.objects.get();
        if ptr::eq(ffi::Py_TYPE(object), list.ty.load(Ordering::Relaxed))
            && objects.len() < CAPACITY
            && ffi::PyObject_GC_IsTracked(object) == 0
        {
            if objects.capacity() == 0 {
                objects.reserve_exact(CAPACITY);
            }
            objects.push(object);
            return;
        }
        ffi::PyObject_GC_Del(raw);
    }
}
