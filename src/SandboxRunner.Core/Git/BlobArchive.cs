using System.Globalization;
using System.Text;
using ICSharpCode.SharpZipLib.Tar;

namespace SandboxRunner.Git;

/// <summary>One path a commit tracks: its mode (<c>100644</c>, <c>100755</c>, <c>120000</c> for a link) and blob id.</summary>
public sealed record TrackedPath(string Path, string Mode, string Oid)
{
    public bool IsLink => Mode == "120000";

    /// <summary>A file or link; submodules (<c>160000</c>) have no blob to write.</summary>
    public bool HasBlob => Mode is "100644" or "100755" or "120000";
}

/// <summary>The tracked paths put into an archive were over its byte limit.</summary>
public sealed class BlobArchiveLimitException(long limit) : Exception($"over {limit} bytes")
{
    public long Limit { get; } = limit;
}

/// <summary>
/// Writes chosen tracked paths of a commit as a tar, straight from the object store (one <c>git cat-file
/// --batch</c>), without a checkout: exactly the files a setup may see, or a Dockerfile's build context with
/// <c>.dockerignore</c> applied. Nothing of the repository's attributes applies (no export-subst, no
/// export-ignore, no filters): the bytes are the blobs the key was computed from. Every parent folder gets an
/// entry of its own, owned like the files, so a non-root owner can write beside them.
/// </summary>
public static class BlobArchive
{
    public static async Task WriteAsync(
        Stream output, GitCli git, HostRepository repository, IReadOnlyList<TrackedPath> paths, int uid, int gid, long maxBytes, string scratchFile, CancellationToken cancellationToken)
    {
        var entries = paths.Where(p => p.HasBlob).OrderBy(p => p.Path, StringComparer.Ordinal).ToList();
        try
        {
            if (entries.Count > 0)
            {
                var request = Encoding.ASCII.GetBytes(string.Concat(entries.Select(e => e.Oid + "\n")));
                try
                {
                    await git.RunAsync(new GitCall(repository.Root, ["cat-file", "--batch"])
                    {
                        Stdin = request,
                        StdoutFile = scratchFile,
                        MaxStdoutBytes = maxBytes + (entries.Count * 64L),
                    }, cancellationToken);
                }
                catch (GitOutputLimitException)
                {
                    throw new BlobArchiveLimitException(maxBytes);
                }
            }

            await using var tar = new TarOutputStream(output, Encoding.UTF8) { IsStreamOwner = false };
            var folders = new HashSet<string>(StringComparer.Ordinal);
            if (entries.Count > 0)
            {
                await using var blobs = new FileStream(scratchFile, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, useAsync: true);
                var buffer = new byte[81920];
                foreach (var entry in entries)
                {
                    var size = await ReadHeaderAsync(blobs, entry.Oid, cancellationToken);
                    foreach (var folder in Parents(entry.Path).Where(folders.Add))
                    {
                        await PutAsync(tar, folder + "/", TarHeader.LF_DIR, 0, 0b111_101_101, uid, gid, null, cancellationToken);
                    }

                    if (entry.IsLink)
                    {
                        var target = new byte[size];
                        await blobs.ReadExactlyAsync(target, cancellationToken);
                        await PutAsync(tar, entry.Path, TarHeader.LF_SYMLINK, 0, 0b111_111_111, uid, gid, Encoding.UTF8.GetString(target), cancellationToken);
                    }
                    else
                    {
                        await PutAsync(tar, entry.Path, TarHeader.LF_NORMAL, size, entry.Mode == "100755" ? 0b111_101_101 : 0b110_100_100, uid, gid, null, cancellationToken);
                        for (var left = size; left > 0;)
                        {
                            var read = await blobs.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), cancellationToken);
                            if (read == 0)
                            {
                                throw new InvalidDataException($"git cat-file ended inside {entry.Path}");
                            }

                            await tar.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                            left -= read;
                        }

                        await tar.CloseEntryAsync(cancellationToken);
                    }

                    // The newline cat-file puts after each object.
                    blobs.ReadByte();
                }
            }

            await tar.FinishAsync(cancellationToken);
        }
        finally
        {
            File.Delete(scratchFile);
        }
    }

    /// <summary>Reads <c>&lt;oid&gt; blob &lt;size&gt;\n</c> and returns the size; anything else (a missing object) is an error.</summary>
    private static async Task<long> ReadHeaderAsync(Stream blobs, string oid, CancellationToken cancellationToken)
    {
        var line = new StringBuilder();
        var one = new byte[1];
        while (true)
        {
            if (await blobs.ReadAsync(one, cancellationToken) == 0)
            {
                throw new InvalidDataException($"git cat-file ended before object {oid}");
            }

            if (one[0] == '\n')
            {
                break;
            }

            if (line.Length > 200)
            {
                throw new InvalidDataException($"git cat-file wrote no header for object {oid}");
            }

            line.Append((char)one[0]);
        }

        var fields = line.ToString().Split(' ');
        return fields.Length == 3 && fields[0] == oid && fields[1] == "blob" && long.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var size)
            ? size
            : throw new InvalidDataException($"git cat-file answered '{line}' for object {oid}");
    }

    private static IEnumerable<string> Parents(string path)
    {
        for (var slash = path.IndexOf('/'); slash > 0; slash = path.IndexOf('/', slash + 1))
        {
            yield return path[..slash];
        }
    }

    // Every blob view is stamped alike, so the same blobs make the same archive.
    private static Task PutAsync(TarOutputStream tar, string name, byte type, long size, int mode, int uid, int gid, string? link, CancellationToken cancellationToken) =>
        Platform.TarEntries.PutAsync(tar, name, type, size, mode, uid, gid, link, DateTime.UnixEpoch.AddYears(30), cancellationToken);
}
