using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace SandboxRunner.Platform;

/// <summary>
/// Opens a file an agent may have planted: never through a symlink (<c>O_NOFOLLOW</c>) and never blocking
/// on a FIFO (<c>O_NONBLOCK</c>), which a plain open would wait on forever.
/// </summary>
public static class UntrustedFile
{
    /// <param name="followLinks">For a path the user named (a tasks file): links are followed, FIFOs still never block.</param>
    public static FileStream? OpenRead(string path, bool followLinks = false)
    {
        var handle = new SafeFileHandle(NativeMethods.open(path, followLinks ? Flags & ~NoFollow : Flags), ownsHandle: true);
        if (handle.IsInvalid)
        {
            handle.Dispose();
            return null;
        }

        return new FileStream(handle, FileAccess.Read, bufferSize: 0);
    }

    private static int NoFollow => OperatingSystem.IsMacOS() ? 0x0100 : 0x20000;

    private static int Flags => OperatingSystem.IsMacOS()
        ? 0x0004 | 0x0100 | 0x1000000 // O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC
        : 0x0800 | 0x20000 | 0x80000; // O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC (O_RDONLY is 0)

    private static class NativeMethods
    {
        [DllImport("libc", SetLastError = true, CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
        public static extern nint open(string path, int flags);
    }
}
