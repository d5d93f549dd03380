/*
 * The preload library's DSO handle, in place of the C start files'.
 *
 * liballoctag-preload.so is linked without the start files (crti, crtbeginS,
 * crtendS, crtn: -nostartfiles, CMakeLists.txt).  What they would add costs
 * every process start four symbol lookups through the whole lookup scope,
 * three of them for weak symbols no object defines (_ITM_registerTMCloneTable,
 * _ITM_deregisterTMCloneTable, __gmon_start__: transactional-memory clone
 * tables and gprof's hook, neither used here) and one for __cxa_finalize,
 * which their destructor calls to run the handlers registered under the
 * library's handle when it is unloaded.  The library is never unloaded
 * (-z nodelete: an allocator whose blocks are still live cannot be), so that
 * destructor has nothing to do.
 *
 * What remains needed is the handle itself: pthread_atfork (libc_nonshared.a)
 * registers fork handlers under __dso_handle, the address that identifies
 * this object.  crtbeginS.o defines it the same way: hidden, pointing at
 * itself.
 */
__attribute__((visibility("hidden"))) void *__dso_handle = &__dso_handle;
