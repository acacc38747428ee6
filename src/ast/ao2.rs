//! Owned references to Asterisk's reference-counted (ao2) objects.

use std::ptr::NonNull;

use super::sys;

/// One reference to an ao2 object, given back when dropped.
pub struct Ao2<T> {
    ptr: NonNull<T>,
}

impl<T> Ao2<T> {
    /// Takes over a reference that Asterisk handed to the caller.
    ///
    /// # Safety
    /// `ptr` is NULL or an ao2 object carrying one reference that now belongs
    /// to the returned value.
    pub unsafe fn take(ptr: *mut T) -> Option<Ao2<T>> {
        NonNull::new(ptr).map(|ptr| Ao2 { ptr })
    }
}

impl<T> std::ops::Deref for Ao2<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: we hold a reference, so the object is alive; ao2 objects
        // are not moved while referenced.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> Drop for Ao2<T> {
    fn drop(&mut self) {
        // SAFETY: this value owns exactly one reference (see `take`), given
        // back exactly once here.
        unsafe { sys::res_cluster_ao2_ref(self.ptr.as_ptr().cast(), -1) };
    }
}
