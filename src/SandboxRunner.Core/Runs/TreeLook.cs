using SandboxRunner.Boxes;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Platform;

namespace SandboxRunner.Runs;

/// <summary>
/// Look before fetching, for the copy transport: what a stopped box's <c>/workspace</c> holds is listed beside it
/// (<see cref="TreeListing"/>), compared with the host's checkout it was copied from, and only what changed is fetched,
/// each path through the archive API by the same bounded, link-safe extraction as before. A file over
/// <c>max_file_bytes</c> is reported and never read (the archive API would stream every byte of a 40 GB sparse file); a
/// tree over <c>max_files</c> or <c>max_tree_bytes</c> is over its limit before any of it is read.
/// <para>
/// What changed: a path the host lacks or has as another kind, a link with other text, and a file of another size or
/// executable bit, with a modification time other than the upload's (<see cref="TreeArchiveWriter.CheckoutTime"/>), or
/// with a change time after the runner's stamp. The stamp is a root-owned file the runner uploads into CODEX_HOME after the
/// tree, so every uploaded file's change time is before it and anything the agent did to a file after it; nothing in a box
/// sets a change time back, so the most a task can do to the stamp is move it later, which only hides its own changes.
/// </para>
/// </summary>
public static class TreeLook
{
    /// <summary>The stamp's folder and path: CODEX_HOME, which is uploaded after the tree.</summary>
    public const string StampName = ".sandbox-runner-stamp";

    public static string StampPath => $"{Codex.CodexCommandLine.Home}/{StampName}";


    /// <summary>What to delete from the host's checkout, then fetch into it; what was left out; and the limit the tree passed, if any.</summary>
    public sealed record Plan(IReadOnlyList<string> Delete, IReadOnlyList<string> Fetch, IReadOnlyList<TreeFinding> Findings, string? OverLimit);

    /// <summary>One entry of the host's checkout.</summary>
    public sealed record HostEntry(FileType Type, long Size, bool Executable, string? LinkTarget);

    /// <summary>The look's listing of the stopped box, parsed; null when the platform cannot look or the look failed.</summary>
    public static async Task<(List<ListedEntry> Entries, FileTime? Stamp)?> ListAsync(ITaskBox box, long maxFiles, CancellationToken cancellationToken)
    {
        var look = new BesideLook(
            TreeListing.Command(Codex.CodexCommandLine.Workspace, Codex.CodexCommandLine.Home, StampPath),
            TreeListing.OutputFolder, TreeListing.OutputFile, TreeListing.MaxBytes, TimeSpan.FromMinutes(2));
        var listing = await box.LookBesideAsync(look, cancellationToken);
        return listing is null ? null : TreeListing.Parse(listing, Codex.CodexCommandLine.Workspace, StampPath, maxFiles);
    }

    /// <summary>The host's checkout, every entry by its path below <paramref name="root"/>, links never followed.</summary>
    public static Dictionary<string, HostEntry> ScanHost(string root)
    {
        var entries = new Dictionary<string, HostEntry>(StringComparer.Ordinal);
        var pending = new Stack<(string Full, string Relative)>();
        pending.Push((root, ""));
        while (pending.Count > 0)
        {
            var (dir, prefix) = pending.Pop();
            foreach (var entry in new DirectoryInfo(dir).EnumerateFileSystemInfos())
            {
                var relative = prefix + entry.Name;
                var (type, size) = FileKind.Of(entry.FullName);
                entries[relative] = new HostEntry(
                    type, size, (entry.UnixFileMode & UnixFileMode.UserExecute) != 0, type == FileType.Symlink ? entry.LinkTarget : null);
                if (type == FileType.Directory)
                {
                    pending.Push((entry.FullName, relative + "/"));
                }
            }
        }

        return entries;
    }

    /// <summary>
    /// Compares the box's listing with the host's checkout: deletions (topmost), roots to fetch (a new folder whole unless
    /// something under it is left out; more than <see cref="Environments.ChangedTree.MaxRootsPerFolder"/> in one folder as that
    /// folder, on the same condition), findings, and the first limit passed. Linear in the listing and the checkout.
    /// </summary>
    public static Plan PlanOf(IReadOnlyList<ListedEntry> listed, FileTime? stamp, IReadOnlyDictionary<string, HostEntry> host, TaskLimits limits)
    {
        var findings = new List<TreeFinding>();
        void Find(TreeFindingKind kind, string path, string detail)
        {
            // Bounded like the extraction's report: past 1,000 only what matters (the verdict) is kept.
            if (findings.Count < 1000)
            {
                findings.Add(new TreeFinding(kind, path, detail));
            }
        }

        if (listed.Count > limits.MaxFiles)
        {
            return new Plan([], [], [], $"max_files ({limits.MaxFiles})");
        }

        var box = new Dictionary<string, ListedEntry>(StringComparer.Ordinal);
        var left = new HashSet<string>(StringComparer.Ordinal);
        var blocked = new HashSet<string>(StringComparer.Ordinal);
        long bytes = 0;
        foreach (var entry in listed)
        {
            if (!Platform.StrictUtf8.TryDecode(entry.Path, out var path) || path.Split('/').Any(s => s is "" or "." or ".."))
            {
                var parent = DecodablePrefix(entry.Path);
                Block(blocked, parent);
                Find(TreeFindingKind.UnsafeName, StrictUtf8.Printable(entry.Path), "its name is not valid UTF-8; it was not kept");
                continue;
            }

            string? reason = null;
            var kind = TreeFindingKind.UnsafeName;
            if (path.Count(c => c == '/') + 1 > TreeScan.MaxDepth || path.Length > TreeScan.MaxPathChars)
            {
                (kind, reason) = (TreeFindingKind.TooDeep, $"is nested past {TreeScan.MaxDepth} folders or {TreeScan.MaxPathChars} characters; it was not kept");
            }
            else if (entry.Kind == 'f' && entry.Size > limits.MaxFileBytes)
            {
                (kind, reason) = (TreeFindingKind.FileTooLarge, $"is {entry.Size} bytes, over max_file_bytes ({limits.MaxFileBytes}); it was not kept");
            }
            else if (entry.Kind == 'l' && (!Platform.StrictUtf8.TryDecode(entry.LinkTarget, out _) || entry.LinkTarget.Length == 0))
            {
                reason = "is a link whose target is not valid UTF-8; it was not kept";
            }
            else if (entry.Kind is not ('f' or 'd' or 'l'))
            {
                (kind, reason) = (TreeFindingKind.SpecialFile, $"is a {(entry.Kind == 'p' ? "FIFO" : entry.Kind == 's' ? "socket" : "device")}; it was not created on the host");
            }

            if (reason is not null)
            {
                Find(kind, path[..Math.Min(path.Length, 500)], reason);
                Block(blocked, path);
                left.Add(path);
                continue;
            }

            if (entry.Kind == 'f' && (bytes += entry.Size) > limits.MaxTreeBytes)
            {
                return new Plan([], [], findings, $"max_tree_bytes ({limits.MaxTreeBytes})");
            }

            box[path] = entry;
        }

        // Deletions: what the host has that the box has not (or has as another kind, or left out), topmost only.
        var delete = new List<string>();
        var deleted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in host.Keys.Order(StringComparer.Ordinal))
        {
            if (!UnderAny(path, deleted) && (!box.TryGetValue(path, out var there) || KindOf(there) != host[path].Type))
            {
                delete.Add(path);
                deleted.Add(path);
            }
        }

        var roots = new List<string>();
        var rootSet = new HashSet<string>(StringComparer.Ordinal);
        var checkoutTime = FileTime.Of(TreeArchiveWriter.CheckoutTime);
        foreach (var (path, entry) in box.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (UnderAny(path, rootSet))
            {
                continue;
            }

            var before = host.GetValueOrDefault(path);
            var isNew = before is null || deleted.Contains(path) || UnderAny(path, deleted);
            var changed = isNew || entry.Kind switch
            {
                'f' => entry.Size != before!.Size || ((entry.Mode & 0b001_001_001) != 0) != before.Executable
                    || entry.Modified.CompareTo(checkoutTime) != 0 || (stamp is { } s && entry.Changed > s),
                'l' => !Platform.StrictUtf8.TryDecode(entry.LinkTarget, out var target) || target != before!.LinkTarget || (stamp is { } s2 && entry.Changed > s2),
                _ => false,
            };

            // A new folder comes whole unless something under it is left out (then its parts do, and it is made for them).
            if (changed && !(entry.Kind == 'd' && blocked.Contains(path)))
            {
                roots.Add(path);
                rootSet.Add(path);
            }
        }

        return new Plan(delete, Crowded(roots, blocked), findings, null);
    }

    /// <summary>Roots with more than the per-folder bound of siblings fetched as their folder (one archive call), when nothing under it is left out.</summary>
    private static List<string> Crowded(List<string> fetch, HashSet<string> blocked)
    {
        var roots = new HashSet<string>(fetch, StringComparer.Ordinal);
        while (true)
        {
            var crowded = roots.Where(r => r.Contains('/'))
                .GroupBy(r => r[..r.LastIndexOf('/')], StringComparer.Ordinal)
                .Where(g => g.Count() > Environments.ChangedTree.MaxRootsPerFolder && !blocked.Contains(g.Key))
                .Select(g => g.Key)
                .ToList();
            if (crowded.Count == 0)
            {
                return roots.Order(StringComparer.Ordinal).ToList();
            }

            foreach (var folder in crowded)
            {
                roots.RemoveWhere(r => r.StartsWith(folder + "/", StringComparison.Ordinal));
                roots.Add(folder);
            }
        }
    }

    private static FileType KindOf(ListedEntry entry) => entry.Kind switch
    {
        'f' => FileType.Regular,
        'd' => FileType.Directory,
        'l' => FileType.Symlink,
        _ => FileType.Other,
    };

    /// <summary>Marks <paramref name="path"/> and every folder above it: none of them may be fetched whole.</summary>
    private static void Block(HashSet<string> blocked, string path)
    {
        for (var p = path; p.Length > 0 && blocked.Add(p); p = p.Contains('/') ? p[..p.LastIndexOf('/')] : "")
        {
        }
    }

    private static bool UnderAny(string path, HashSet<string> roots)
    {
        for (var slash = path.LastIndexOf('/'); slash > 0; slash = path.LastIndexOf('/', slash - 1))
        {
            if (roots.Contains(path[..slash]))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The folders above a name that is not UTF-8, as far as they are.</summary>
    private static string DecodablePrefix(byte[] path)
    {
        var parts = new List<string>();
        foreach (var segment in path.Split((byte)'/'))
        {
            if (!Platform.StrictUtf8.TryDecode(segment, out var text))
            {
                break;
            }

            parts.Add(text);
        }

        return string.Join('/', parts);
    }

    private static IEnumerable<byte[]> Split(this byte[] bytes, byte separator)
    {
        var start = 0;
        for (var i = 0; i <= bytes.Length; i++)
        {
            if (i == bytes.Length || bytes[i] == separator)
            {
                yield return bytes[start..i];
                start = i + 1;
            }
        }
    }
}
