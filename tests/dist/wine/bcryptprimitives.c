/* Wine 8.0 (Debian 12) lacks bcryptprimitives.dll, which Rust's standard
 * library imports for ProcessPrng; Windows 10 and later ship it. This stand-in
 * exists only for running the Windows test binaries under that Wine. */
#include <windows.h>
#include <ntsecapi.h>
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!RtlGenRandom(data, n)) return FALSE;
        data += n;
        len -= n;
    }
    return TRUE;
}
