
namespace SandboxRunner.Boxes;

/// <summary>What an extraction may write: past any of these it stops, and the report names the bound.</summary>
public sealed record ExtractionBounds(long MaxBytes, long MaxEntries, long MaxFileBytes, int MaxDepth, int MaxPathChars)
{
    /// <summary>The field name each bound is configured as, for the report.</summary>
    public string Describe(string bound) => bound switch
    {
        nameof(MaxBytes) => $"max_tree_bytes ({MaxBytes})",
        nameof(MaxEntries) => $"max_files ({MaxEntries})",
        _ => bound,
    };
}

public enum SkipReason
{
    /// <summary>A FIFO, socket or device: never created on the host.</summary>
    SpecialFile,

    /// <summary>A file over the per-file bound: its bytes were not written.</summary>
    FileTooLarge,

    /// <summary>Nested past the depth or path-length bound.</summary>
    TooDeep,

    /// <summary>A name that is not UTF-8, absolute, with <c>..</c>, through a link or a file, a duplicate, or a hard link out of the tree.</summary>
    UnsafeName,
}

/// <summary>One entry the extraction did not write, and why.</summary>
public sealed record SkippedEntry(SkipReason Reason, string Path, string Detail);

/// <summary>What an extraction wrote and skipped; <see cref="OverLimit"/> set means it stopped there and the tree is incomplete.</summary>
public sealed record ExtractionReport(long Entries, long Bytes, IReadOnlyList<SkippedEntry> Skipped, string? OverLimit);

/// <summary>
/// Extracts a tar of a container's folder into an empty host folder without trusting one byte of it:
/// names are checked as bytes (UTF-8, relative, no <c>.</c> or <c>..</c> segments, within depth and length);
/// every parent must be a folder this extraction made (so nothing is written through a link, a planted
/// file, or outside the folder); links are created as links and never followed; a hard link becomes a
/// copy of a file extracted earlier, never a link to anything else; FIFOs, sockets and devices are not
/// created; nothing takes the archive's owner or set-id bits. Bytes, entries and each file are bounded.
/// What the destination already held (the runner's own checkout) ends as the archive says, with unchanged
/// files left as they were (see <see cref="ExistingTree"/>).
/// </summary>
public static class TreeArchive
{

    /// <summary>Files up to this size are compared with the one already there; a larger one is always rewritten.</summary>
    private const int CompareLimit = 1024 * 1024;

    private enum Made { Directory, File, Link }

    /// <summary>
    /// Extracts <paramref name="tar"/> into <paramref name="destination"/>, which must exist and hold nothing
    /// but what the runner wrote there itself: whatever the archive does not hold is removed from it.
    /// <paramref name="rootName"/> is the archived folder's own name, which the engine puts first in every
    /// path (<c>workspace/src/a.c</c>); entries outside it are refused. An empty <paramref name="rootName"/>
    /// keeps the archived path itself: a single file's archive, or a folder extracted under its own name.
    /// </summary>
    public static async Task<ExtractionReport> ExtractAsync(
        Stream tar, string destination, string rootName, ExtractionBounds bounds, CancellationToken cancellationToken)
    {
        var reader = new TarReader(tar);
        var existing = ExistingTree.Scan(destination);
        var made = new Dictionary<string, Made>(StringComparer.Ordinal) { [""] = Made.Directory };
        var skipped = new List<SkippedEntry>();
        long entries = 0, bytes = 0;
        void Skip(SkipReason reason, string path, string detail)
        {
            // The report stays bounded too: past 1,000 skips only the count grows.
            if (skipped.Count < 1000)
            {
                skipped.Add(new SkippedEntry(reason, path, detail));
            }
        }

        while (await reader.NextAsync(cancellationToken) is { } item)
        {
            if (++entries > bounds.MaxEntries)
            {
                return new ExtractionReport(entries, bytes, skipped, bounds.Describe(nameof(bounds.MaxEntries)));
            }

            if (!Platform.StrictUtf8.TryDecode(item.Name, out var rawName))
            {
                Skip(SkipReason.UnsafeName, Platform.StrictUtf8.Printable(item.Name), "its name is not valid UTF-8");
                continue;
            }

            var relative = Relative(rawName, rootName, out var problem);
            if (relative is null)
            {
                Skip(SkipReason.UnsafeName, rawName, problem!);
                continue;
            }

            if (relative.Length == 0)
            {
                continue;
            }

            var segments = relative.Split('/');
            if (segments.Length > bounds.MaxDepth || relative.Length > bounds.MaxPathChars)
            {
                Skip(SkipReason.TooDeep, relative[..Math.Min(relative.Length, 500)], $"is nested past {bounds.MaxDepth} folders or {bounds.MaxPathChars} characters; it was not kept");
                continue;
            }

            if (made.TryGetValue(relative, out var already) && !(already == Made.Directory && item.Type == '5'))
            {
                Skip(SkipReason.UnsafeName, relative, "appears twice in the archive; the second was not kept");
                continue;
            }

            if (EnsureParents(destination, segments, made, existing) is { } blocked)
            {
                Skip(SkipReason.UnsafeName, relative, blocked);
                continue;
            }

            var full = Path.Combine(destination, relative);
            switch (item.Type)
            {
                case '5':
                    var folderBefore = existing.Take(relative);
                    if (folderBefore?.Kind == ExistingTree.Kind.Directory)
                    {
                        made[relative] = Made.Directory;
                        break;
                    }

                    existing.Remove(relative, folderBefore);
                    Directory.CreateDirectory(full, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
                    made[relative] = Made.Directory;
                    break;
                case '0' or '7':
                    if (item.Size > bounds.MaxFileBytes)
                    {
                        Skip(SkipReason.FileTooLarge, relative, $"is {item.Size} bytes, over max_file_bytes ({bounds.MaxFileBytes}); it was not kept");
                        continue;
                    }

                    if ((bytes += item.Size) > bounds.MaxBytes)
                    {
                        return new ExtractionReport(entries, bytes, skipped, bounds.Describe(nameof(bounds.MaxBytes)));
                    }

                    await WriteFileAsync(reader, item, full, existing.Take(relative), existing, relative, cancellationToken);
                    made[relative] = Made.File;
                    break;
                case '2':
                    if (!Platform.StrictUtf8.TryDecode(item.LinkName, out var target) || target.Length == 0 || target.Contains('\0'))
                    {
                        Skip(SkipReason.UnsafeName, relative, "is a link whose target is not valid UTF-8");
                        continue;
                    }

                    // The link text is kept as written: the path policy judges where it points, and nothing
                    // here ever resolves it.
                    var linkBefore = existing.Take(relative);
                    if (linkBefore?.Kind == ExistingTree.Kind.Link && new FileInfo(full).LinkTarget == target)
                    {
                        made[relative] = Made.Link;
                        break;
                    }

                    existing.Remove(relative, linkBefore);
                    File.CreateSymbolicLink(full, target);
                    made[relative] = Made.Link;
                    break;
                case '1':
                    var source = Platform.StrictUtf8.TryDecode(item.LinkName, out var linkName) ? Relative(linkName, rootName, out _) : null;
                    if (source is null || !made.TryGetValue(source, out var kind) || kind != Made.File)
                    {
                        Skip(SkipReason.UnsafeName, relative, "is a hard link to something other than a file of the tree extracted before it");
                        continue;
                    }

                    var length = new FileInfo(Path.Combine(destination, source)).Length;
                    if ((bytes += length) > bounds.MaxBytes)
                    {
                        return new ExtractionReport(entries, bytes, skipped, bounds.Describe(nameof(bounds.MaxBytes)));
                    }

                    existing.Remove(relative, existing.Take(relative));
                    File.Copy(Path.Combine(destination, source), full, overwrite: false);
                    made[relative] = Made.File;
                    break;
                case '3' or '4' or '6':
                    Skip(SkipReason.SpecialFile, relative, $"is a {(item.Type == '6' ? "FIFO" : "device")}; it was not created on the host");
                    break;
                default:
                    Skip(SkipReason.SpecialFile, relative, $"has tar type '{Platform.StrictUtf8.Printable([(byte)item.Type])}', which the runner does not extract");
                    break;
            }
        }

        existing.RemoveRest();
        return new ExtractionReport(entries, bytes, skipped, null);
    }

    /// <summary>
    /// Writes a file entry, or leaves the file already there when it has the same bytes and executable bit.
    /// What was there is never written through: it is removed, and the file is created anew.
    /// </summary>
    private static async Task WriteFileAsync(
        TarReader reader, TarItem item, string full, ExistingTree.Entry? before, ExistingTree existing, string relative, CancellationToken cancellationToken)
    {
        var executable = (item.Mode & 0b001_001_001) != 0;
        if (before is { Kind: ExistingTree.Kind.File } old && old.Length == item.Size && old.Executable == executable && item.Size <= CompareLimit)
        {
            var content = new byte[item.Size];
            await reader.CopyContentAsync(item.Size, new MemoryStream(content), cancellationToken);
            var onDisk = await File.ReadAllBytesAsync(full, cancellationToken);
            if (content.AsSpan().SequenceEqual(onDisk))
            {
                return;
            }

            existing.Remove(relative, before);
            await using var rewritten = CreateNew(full, item.Mode);
            await rewritten.WriteAsync(content, cancellationToken);
            return;
        }

        existing.Remove(relative, before);
        await using var file = CreateNew(full, item.Mode);
        await reader.CopyContentAsync(item.Size, file, cancellationToken);
    }

    /// <summary>
    /// The entry's path below the archived folder, or null with the reason. Engines write <c>workspace</c>,
    /// <c>workspace/a</c>; some tools add <c>./</c>. A trailing slash marks a folder.
    /// </summary>
    private static string? Relative(string name, string rootName, out string? problem)
    {
        problem = null;
        if (name.StartsWith('/'))
        {
            problem = "is an absolute path";
            return null;
        }

        var trimmed = name.StartsWith("./", StringComparison.Ordinal) ? name[2..] : name;
        trimmed = trimmed.TrimEnd('/');
        string relative;
        if (rootName.Length == 0)
        {
            // The archived path itself is kept (a single file, or a folder under its own name).
            relative = trimmed;
        }
        else if (trimmed == rootName)
        {
            return "";
        }
        else if (!trimmed.StartsWith(rootName + "/", StringComparison.Ordinal))
        {
            problem = $"is outside the archived folder '{rootName}'";
            return null;
        }
        else
        {
            relative = trimmed[(rootName.Length + 1)..];
        }

        if (relative.Split('/').Any(s => s is "" or "." or ".."))
        {
            problem = "has an empty, '.' or '..' segment";
            return null;
        }

        return relative;
    }

    /// <summary>Makes missing parents; refuses when one is anything but a folder this extraction made.</summary>
    private static string? EnsureParents(string destination, string[] segments, Dictionary<string, Made> made, ExistingTree existing)
    {
        var path = "";
        for (var i = 0; i < segments.Length - 1; i++)
        {
            path = i == 0 ? segments[0] : path + "/" + segments[i];
            if (made.TryGetValue(path, out var kind))
            {
                if (kind != Made.Directory)
                {
                    return $"lies under '{path}', which is a {(kind == Made.Link ? "link" : "file")}; nothing is written through it";
                }

                continue;
            }

            // A folder already there stays; anything else there goes first.
            var before = existing.Take(path);
            if (before?.Kind != ExistingTree.Kind.Directory)
            {
                existing.Remove(path, before);
                Directory.CreateDirectory(Path.Combine(destination, path));
            }

            made[path] = Made.Directory;
        }

        return null;
    }

    /// <summary>O_CREAT|O_EXCL: a name that exists (a link included) is never opened, so nothing is written through one.</summary>
    private static FileStream CreateNew(string path, int mode) =>
        new(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Options = FileOptions.Asynchronous,
            // Only the executable bit matters to git; owner, set-id and sticky bits are never taken.
            UnixCreateMode = (mode & 0b001_001_001) != 0
                ? UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute
                : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
        });

}
