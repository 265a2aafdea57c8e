using System.Runtime.InteropServices;

namespace SandboxRunner.Platform;

public enum FileType { Missing, Regular, Directory, Symlink, Fifo, Socket, CharacterDevice, BlockDevice, Other }

/// <summary>
/// What a path is, without following it: .NET reports FIFOs, sockets and devices as ordinary files, and
/// opening one of those can block forever. <c>statx</c> has one layout on every Linux architecture.
/// </summary>
public static class FileKind
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxType = 0x1;
    private const uint StatxSize = 0x200;

    /// <summary>What <paramref name="path"/> is; a link is reported as one unless <paramref name="followLinks"/> (a path the user gave).</summary>
    public static (FileType Type, long Size) Of(string path, bool followLinks = false)
    {
        Span<byte> buffer = stackalloc byte[256];
        if (NativeMethods.statx(AtFdCwd, path, followLinks ? 0 : AtSymlinkNoFollow, StatxType | StatxSize, ref MemoryMarshal.GetReference(buffer)) != 0)
        {
            return (FileType.Missing, 0);
        }

        var mode = BitConverter.ToUInt16(buffer[28..30]);
        var size = BitConverter.ToInt64(buffer[40..48]);
        var type = (mode & 0xF000) switch
        {
            0x8000 => FileType.Regular,
            0x4000 => FileType.Directory,
            0xA000 => FileType.Symlink,
            0x1000 => FileType.Fifo,
            0xC000 => FileType.Socket,
            0x2000 => FileType.CharacterDevice,
            0x6000 => FileType.BlockDevice,
            _ => FileType.Other,
        };
        return (type, size);
    }

    /// <summary>The type as an error message names it ("FIFO", "character device").</summary>
    public static string Describe(FileType type) => type switch
    {
        FileType.Fifo => "FIFO",
        FileType.CharacterDevice => "character device",
        FileType.BlockDevice => "block device",
        FileType.Symlink => "symbolic link",
        FileType.Directory => "folder",
        FileType.Regular => "regular file",
        _ => type.ToString().ToLowerInvariant(),
    };

    private static class NativeMethods
    {
        [DllImport("libc", SetLastError = true, CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
        public static extern int statx(int dirfd, string path, int flags, uint mask, ref byte buffer);
    }
}
