using ICSharpCode.SharpZipLib.Tar;

namespace SandboxRunner.Boxes;

/// <summary>A file the archive adds that is not on disk (say, a git <c>shallow</c> file), at a path below the root.</summary>
public sealed record ExtraFile(string Path, byte[] Content)
{
    /// <summary>Owned by root and read-only instead of by the archive's owner: a file the box's user cannot change (the look's stamp).</summary>
    public bool RootOwned { get; init; }
}

/// <summary>
/// Writes a host folder the runner made itself (a fresh checkout, a CODEX_HOME) as a tar for the engine's
/// archive endpoint: the root folder as <c>./</c> and everything under it owned by
/// <paramref name="uid"/>:<paramref name="gid"/> (the engine applies the headers' owner, so the folder is
/// the sandbox user's inside), links as links, never followed.
/// </summary>
public static class TreeArchiveWriter
{
    /// <summary>
    /// The modification time of a checkout written into an image (2000-01-01, after zip's 1980 floor). The engine's
    /// change list calls a file unchanged when its size is the same and its mtime falls in the same second as the
    /// image's copy whose mtime has no sub-second part (moby's <c>sameFsTimeSpec</c>), and image layers keep whole
    /// seconds only. Stamped with the time of the upload, a same-size edit made within that second was never
    /// listed, so never harvested; no task's clock reaches this second.
    /// </summary>
    public static readonly DateTime CheckoutTime = new(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    /// <summary>Writes <paramref name="folder"/> with every entry stamped <paramref name="modTime"/>.</summary>
    public static async Task WriteAsync(
        Stream output, string folder, int uid, int gid, IReadOnlyList<ExtraFile> extras, DateTime modTime, CancellationToken cancellationToken)
    {
        await using var tar = new TarOutputStream(output, System.Text.Encoding.UTF8) { IsStreamOwner = false };
        await PutAsync(tar, "./", TarHeader.LF_DIR, 0, 0b111_101_101, uid, gid, null, modTime, cancellationToken);
        await PutFolderAsync(tar, folder, "", _ => false, uid, gid, modTime, cancellationToken);
        await FinishAsync(tar, extras, uid, gid, modTime, cancellationToken);
    }

    /// <summary>
    /// Writes a commit's tree as <paramref name="archive"/> streams it (<c>git archive</c>, trusted: the runner's own git on the
    /// object store), each entry owned by <paramref name="uid"/>:<paramref name="gid"/> and stamped <paramref name="modTime"/>,
    /// files 0644 or 0755 as a checkout makes them; then <paramref name="gitDir"/> as <c>.git/</c> (its top-level names in
    /// <paramref name="leaveOut"/> left out), then <paramref name="extras"/>. No file of a checkout is read.
    /// </summary>
    public static async Task WriteFromArchiveAsync(
        Stream output, Func<Func<Stream, CancellationToken, Task>, CancellationToken, Task> archive, string gitDir, IReadOnlySet<string> leaveOut,
        int uid, int gid, IReadOnlyList<ExtraFile> extras, DateTime modTime, CancellationToken cancellationToken) =>
        await WriteFromArchiveAsync(output, archive, gitDir, leaveOut, [], null, uid, gid, extras, modTime, cancellationToken);

    /// <summary>
    /// <see cref="WriteFromArchiveAsync(Stream, Func{Func{Stream, CancellationToken, Task}, CancellationToken, Task}, string, IReadOnlySet{string}, int, int, IReadOnlyList{ExtraFile}, DateTime, CancellationToken)"/>,
    /// with <paramref name="folders"/> (host folders the runner made, each below its prefix) written after <c>.git/</c>, and every
    /// entry written told to <paramref name="record"/> (its path below the root, kind, size, executable bit and link text): what
    /// the box was given, to compare its tree with afterwards. <paramref name="leaveOut"/> names paths below <c>.git/</c>.
    /// </summary>
    public static async Task WriteFromArchiveAsync(
        Stream output, Func<Func<Stream, CancellationToken, Task>, CancellationToken, Task> archive, string gitDir, IReadOnlySet<string> leaveOut,
        IReadOnlyList<(string Folder, string Prefix)> folders, Action<string, Platform.FileType, long, bool, string?>? record,
        int uid, int gid, IReadOnlyList<ExtraFile> extras, DateTime modTime, CancellationToken cancellationToken)
    {
        record ??= static (_, _, _, _, _) => { };
        await using var tar = new TarOutputStream(output, System.Text.Encoding.UTF8) { IsStreamOwner = false };
        await PutAsync(tar, "./", TarHeader.LF_DIR, 0, 0b111_101_101, uid, gid, null, modTime, cancellationToken);
        await archive(async (stream, ct) =>
        {
            await using var reader = new System.Formats.Tar.TarReader(stream, leaveOpen: true);
            while (await reader.GetNextEntryAsync(copyData: false, ct) is { } entry)
            {
                var name = entry.Name.StartsWith("./", StringComparison.Ordinal) ? entry.Name[2..] : entry.Name;
                switch (entry.EntryType)
                {
                    case System.Formats.Tar.TarEntryType.Directory when name.Trim('/').Length > 0:
                        await PutAsync(tar, name.TrimEnd('/') + "/", TarHeader.LF_DIR, 0, 0b111_101_101, uid, gid, null, modTime, ct);
                        record(name.TrimEnd('/'), Platform.FileType.Directory, 0, true, null);
                        break;
                    case System.Formats.Tar.TarEntryType.SymbolicLink:
                        await PutAsync(tar, name, TarHeader.LF_SYMLINK, 0, 0b111_111_111, uid, gid, entry.LinkName, modTime, ct);
                        record(name, Platform.FileType.Symlink, 0, true, entry.LinkName);
                        break;
                    case System.Formats.Tar.TarEntryType.RegularFile or System.Formats.Tar.TarEntryType.V7RegularFile:
                        var executable = (entry.Mode & UnixFileMode.UserExecute) != 0;
                        await PutAsync(tar, name, TarHeader.LF_NORMAL, entry.Length, executable ? 0b111_101_101 : 0b110_100_100, uid, gid, null, modTime, ct);
                        record(name, Platform.FileType.Regular, entry.Length, executable, null);
                        if (entry.DataStream is { } data)
                        {
                            await data.CopyToAsync(tar, ct);
                        }

                        await tar.CloseEntryAsync(ct);
                        break;
                }
            }
        }, cancellationToken);
        await PutAsync(tar, ".git/", TarHeader.LF_DIR, 0, 0b111_101_101, uid, gid, null, modTime, cancellationToken);
        record(".git", Platform.FileType.Directory, 0, true, null);
        await PutFolderAsync(tar, gitDir, ".git/", leaveOut.Contains, uid, gid, modTime, cancellationToken, record);
        foreach (var (folder, prefix) in folders)
        {
            await PutFolderAsync(tar, folder, prefix, _ => false, uid, gid, modTime, cancellationToken, record);
        }

        foreach (var extra in extras)
        {
            record(extra.Path, Platform.FileType.Regular, extra.Content.Length, false, null);
        }

        await FinishAsync(tar, extras, uid, gid, modTime, cancellationToken);
    }

    /// <summary>Everything under <paramref name="folder"/>, named below <paramref name="prefix"/>; links as links, never followed.</summary>
    private static async Task PutFolderAsync(
        TarOutputStream tar, string folder, string prefix, Func<string, bool> leaveOut, int uid, int gid, DateTime modTime, CancellationToken cancellationToken,
        Action<string, Platform.FileType, long, bool, string?>? record = null)
    {
        record ??= static (_, _, _, _, _) => { };
        var buffer = new byte[81920];
        var pending = new Stack<(string Full, string Relative)>();
        pending.Push((folder, prefix));
        while (pending.Count > 0)
        {
            var (dir, at) = pending.Pop();
            foreach (var entry in new DirectoryInfo(dir).EnumerateFileSystemInfos())
            {
                var name = at + entry.Name;
                if (leaveOut(name[prefix.Length..]))
                {
                    continue;
                }

                var mode = (int)entry.UnixFileMode & 0b111_111_111;
                if (entry.LinkTarget is { } target)
                {
                    await PutAsync(tar, name, TarHeader.LF_SYMLINK, 0, 0b111_111_111, uid, gid, target, modTime, cancellationToken);
                    record(name, Platform.FileType.Symlink, 0, true, target);
                }
                else if (entry is DirectoryInfo)
                {
                    await PutAsync(tar, name + "/", TarHeader.LF_DIR, 0, mode, uid, gid, null, modTime, cancellationToken);
                    record(name, Platform.FileType.Directory, 0, true, null);
                    pending.Push((entry.FullName, name + "/"));
                }
                else if (entry is FileInfo file && (entry.Attributes & FileAttributes.Device) == 0)
                {
                    await using var source = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
                    await PutAsync(tar, name, TarHeader.LF_NORMAL, source.Length, mode, uid, gid, null, modTime, cancellationToken);
                    record(name, Platform.FileType.Regular, source.Length, (mode & 0b001_000_000) != 0, null);
                    int read;
                    long left = source.Length;
                    while (left > 0 && (read = await source.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), cancellationToken)) > 0)
                    {
                        await tar.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                        left -= read;
                    }

                    await tar.CloseEntryAsync(cancellationToken);
                }
            }
        }
    }

    private static async Task FinishAsync(TarOutputStream tar, IReadOnlyList<ExtraFile> extras, int uid, int gid, DateTime modTime, CancellationToken cancellationToken)
    {
        foreach (var extra in extras)
        {
            await PutAsync(
                tar, extra.Path, TarHeader.LF_NORMAL, extra.Content.Length, extra.RootOwned ? 0b100_100_100 : 0b110_100_100,
                extra.RootOwned ? 0 : uid, extra.RootOwned ? 0 : gid, null, modTime, cancellationToken);
            await tar.WriteAsync(extra.Content, cancellationToken);
            await tar.CloseEntryAsync(cancellationToken);
        }

        await tar.FinishAsync(cancellationToken);
    }

    private static Task PutAsync(
        TarOutputStream tar, string name, byte type, long size, int mode, int uid, int gid, string? link, DateTime modTime, CancellationToken cancellationToken) =>
        Platform.TarEntries.PutAsync(tar, name, type, size, mode, uid, gid, link, modTime, cancellationToken);
}
