// The C library's heap. glibc keeps freed memory for reuse and gives it back to the kernel
// only from the top of the heap; memory freed between blocks still in use stays resident.
// Job records are many small blocks interleaved with longer-lived ones, so once retention
// drops thousands of them the resident size would stay at its high-water mark.
#pragma once

namespace wa::core {

// Hands the heap's whole free pages back to the kernel (glibc malloc_trim). True if some
// were released; always false on a C library without it. It walks the free lists and
// madvises every free run of pages, milliseconds on a heap of hundreds of MB: call it after
// much was freed, on a slow timer, never per request.
bool releaseFreeHeapPages();

}  // namespace wa::core
