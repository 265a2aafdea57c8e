using SandboxRunner.Codex;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Platform;
using SandboxRunner.Boxes;

namespace SandboxRunner.Environments;

/// <summary>
/// Brings an environment task's changes back without copying its tree: the container started from an
/// image holding the checkout and the setup's artefacts, so the engine's changes API names exactly what
/// the task added, changed and deleted. The artefacts (<c>node_modules</c>, a venv) are left out, so what
/// a task does to them never reaches files_changed or a patch; the rest is fetched root by root through
/// the archive API into the host's checkout of the base commit, by <see cref="TreeArchive"/>'s bounded,
/// link-safe extraction into an empty folder and a rename into place. A path whose host parents are not
/// plain folders is never written through (it is reported, not kept).
/// </summary>
public static class ChangedTree
{
    /// <summary>An entry the extraction left out, as the harvest reports it; <paramref name="parent"/> prefixes its path.</summary>
    internal static TreeFinding FindingOf(SkippedEntry skipped, string parent = "") => new(
        skipped.Reason switch
        {
            SkipReason.SpecialFile => TreeFindingKind.SpecialFile,
            SkipReason.FileTooLarge => TreeFindingKind.FileTooLarge,
            SkipReason.TooDeep => TreeFindingKind.TooDeep,
            _ => TreeFindingKind.UnsafeName,
        },
        parent.Length == 0 ? skipped.Path : $"{parent}/{skipped.Path}",
        skipped.Detail);

    /// <summary>More changes than this (artefacts included) are not listed: the tree is over its limits.</summary>
    public const int MaxChanges = 200_000;

    /// <summary>Roots fetched one archive call each; past this the task's tree is over its limits.</summary>
    public const int MaxRoots = 20_000;

    /// <summary>
    /// Past this many roots directly in one folder the folder is fetched whole: one archive call instead of
    /// thousands (3,000 new files in a tracked folder, one call each, ran past the 90 s harvest budget).
    /// </summary>
    public const int MaxRootsPerFolder = 64;

    private static readonly string WorkspacePrefix = CodexCommandLine.Workspace + "/";

    /// <summary>What to fetch and delete: topmost added paths, changed leaves, deletions; what git ignores under the artefacts left out.</summary>
    public sealed record Plan(IReadOnlyList<string> Fetch, IReadOnlyList<string> Delete)
    {
        /// <summary>The changes left in the container because they are ignored artefact churn; null when none.</summary>
        public UnharvestedArtifacts? Unharvested { get; init; }
    }

    public static async Task<CopyBack> DownloadAsync(
        ITaskBox box, Worktree worktree, IReadOnlyList<string> artifacts, TaskLimits limits, string staging, CancellationToken cancellationToken)
    {
        var changes = await box.ChangesAsync(MaxChanges, cancellationToken);
        if (changes is null)
        {
            return new CopyBack([], $"the task changed more than {MaxChanges} paths", null);
        }

        var plan = PlanOf(changes, artifacts, await IgnoredUnderArtifactsAsync(worktree, changes, artifacts, cancellationToken));
        if (plan.Fetch.Count > MaxRoots)
        {
            return new CopyBack([], $"the task changed more than {MaxRoots} separate paths outside the setup's artefacts", null);
        }

        var copied = await ApplyAsync(box, worktree, plan.Fetch, plan.Delete, [], limits, staging, cancellationToken);
        return copied with { Unharvested = plan.Unharvested };
    }

    /// <summary>
    /// Deletes <paramref name="delete"/> from the host's checkout, then fetches each of <paramref name="fetch"/> out of the box
    /// into an empty staging folder and renames it into place (bounded, link-safe; a path whose host parents are not plain
    /// folders is reported, never written through). Shared by the environment and copy transports.
    /// </summary>
    internal static async Task<CopyBack> ApplyAsync(
        ITaskBox box, Worktree worktree, IReadOnlyList<string> fetch, IReadOnlyList<string> delete, IReadOnlyList<TreeFinding> found,
        TaskLimits limits, string staging, CancellationToken cancellationToken)
    {
        var findings = new List<TreeFinding>(found);
        foreach (var path in delete)
        {
            if (Unnamed(path) is { } unnamed)
            {
                findings.Add(unnamed);
                continue;
            }

            if (UnsafeParent(worktree.WorkPath, path) is { } blocked)
            {
                findings.Add(new TreeFinding(TreeFindingKind.UnsafeName, path, blocked));
                continue;
            }

            var full = Path.Combine(worktree.WorkPath, path);
            if (FileKind.Of(full).Type == FileType.Directory)
            {
                TreeDeletion.Delete(full);
            }
            else
            {
                File.Delete(full);
            }
        }

        var roots = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in fetch)
        {
            if (Unnamed(path) is { } unnamed)
            {
                findings.Add(unnamed);
            }
            else if (FetchRoot(worktree.WorkPath, path) is var root && seen.Add(root))
            {
                roots.Add(root);
            }
        }

        long bytes = 0, entries = 0;
        var index = 0;
        foreach (var path in roots)
        {
            if (UnsafeParent(worktree.WorkPath, path) is { } blocked)
            {
                findings.Add(new TreeFinding(TreeFindingKind.UnsafeName, path, blocked));
                continue;
            }

            var incoming = Path.Combine(staging, (index++).ToString(System.Globalization.CultureInfo.InvariantCulture));
            Directory.CreateDirectory(incoming);
            var bounds = new ExtractionBounds(limits.MaxTreeBytes - bytes, limits.MaxFiles - entries, limits.MaxFileBytes, TreeScan.MaxDepth, TreeScan.MaxPathChars);
            ExtractionReport report;
            try
            {
                report = await box.GetArchiveAsync(WorkspacePrefix + path,
                    (tar, ct) => TreeArchive.ExtractAsync(tar, incoming, "", bounds, ct), cancellationToken);
            }
            catch (Exception e) when (e is InvalidDataException or IOException or InvalidOperationException or UnauthorizedAccessException)
            {
                return new CopyBack(findings, null, $"copying {path} out of the container failed: {e.Message}");
            }

            bytes += report.Bytes;
            entries += report.Entries;
            var parent = Path.GetDirectoryName(path) ?? "";
            findings.AddRange(report.Skipped.Select(s => FindingOf(s, parent)));
            if (report.OverLimit is { } over)
            {
                return new CopyBack(findings, over, null);
            }

            var name = Path.GetFileName(path);
            var fetched = Path.Combine(incoming, name);
            var target = Path.Combine(worktree.WorkPath, path);
            var kind = FileKind.Of(target).Type;
            if (kind == FileType.Directory)
            {
                TreeDeletion.Delete(target);
            }
            else if (kind != FileType.Missing)
            {
                File.Delete(target);
            }

            // The archive holds the path itself (skipped only when its own name was unsafe or it was a special file).
            switch (FileKind.Of(fetched).Type)
            {
                case FileType.Directory:
                    Directory.Move(fetched, target);
                    break;
                case FileType.Missing:
                    break;
                case FileType.Symlink:
                    // File.Move follows a link to check its source exists, so a link to a folder or to nothing would
                    // fail the whole harvest; the link is made again from its text instead (never resolved).
                    File.CreateSymbolicLink(target, new FileInfo(fetched).LinkTarget!);
                    break;
                default:
                    File.Move(fetched, target);
                    break;
            }

            TreeDeletion.Delete(incoming);
        }

        return new CopyBack(findings, null, null);
    }

    /// <summary>
    /// The changed paths under setup's artefacts that the base commit's <c>.gitignore</c> ignores: the only ones
    /// left in the container (dependency churn in <c>node_modules/</c>). The rest of a task's work under an
    /// artefact (a file in an untracked <c>src/lib/</c> setup made) comes back like any other change.
    /// </summary>
    private static async Task<IReadOnlySet<string>> IgnoredUnderArtifactsAsync(
        Worktree worktree, IReadOnlyList<PathChange> changes, IReadOnlyList<string> artifacts, CancellationToken cancellationToken)
    {
        var artifactSet = new HashSet<string>(artifacts.Select(a => a.TrimEnd('/')), StringComparer.Ordinal);
        var folders = new HashSet<string>(artifacts.Where(a => a.EndsWith('/')).Select(a => a.TrimEnd('/')), StringComparer.Ordinal);
        var asked = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var change in changes)
        {
            if (Relative(change.Path) is { } relative && UnderAny(relative, artifactSet))
            {
                // A folder artefact is asked about as a folder: "node_modules/" matches only a folder, and the checkout has none.
                asked[folders.Contains(relative) ? relative + "/" : relative] = relative;
            }
        }

        var ignored = await worktree.IgnoredAtBaseAsync(asked.Keys, cancellationToken);
        return asked.Where(kv => ignored.Contains(kv.Key)).Select(kv => kv.Value).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>A change list path as a path of the tree, or null when it is outside <c>/workspace</c> or not a plain relative path.</summary>
    private static string? Relative(string path)
    {
        if (!path.StartsWith(WorkspacePrefix, StringComparison.Ordinal))
        {
            return null;
        }

        var relative = path[WorkspacePrefix.Length..].TrimEnd('/');
        return relative.Length == 0 || relative.Split('/').Any(s => s is "" or "." or "..") ? null : relative;
    }

    /// <summary>
    /// The roots to fetch and the paths to delete, from the engine's change list (which names every parent
    /// of a change as changed too): an added path under another added one comes with it; a changed folder
    /// with changed children is only their parent; artefacts and what lies under them are left out.
    /// </summary>
    public static Plan PlanOf(IReadOnlyList<PathChange> changes, IReadOnlyList<string> artifacts, IReadOnlySet<string> ignoredUnderArtifacts)
    {
        var artifactSet = new HashSet<string>(artifacts.Select(a => a.TrimEnd('/')), StringComparer.Ordinal);
        var relevant = new SortedDictionary<string, PathChangeKind>(StringComparer.Ordinal);
        var left = new SortedDictionary<string, PathChangeKind>(StringComparer.Ordinal);
        foreach (var change in changes)
        {
            if (Relative(change.Path) is not { } relative)
            {
                continue;
            }

            // Under an artefact, what git ignores at the base stays in the container (and is counted); the rest is work.
            (UnderAny(relative, artifactSet) && ignoredUnderArtifacts.Contains(relative) ? left : relevant)[relative] = change.Kind;
        }

        var (fetch, delete) = Roots(relevant);
        var (leftAdded, leftDeleted) = Roots(left);
        var notKept = leftAdded.Concat(leftDeleted).Order(StringComparer.Ordinal).ToList();
        return new Plan(Crowded(fetch, artifactSet), delete)
        {
            Unharvested = notKept.Count == 0 ? null : new UnharvestedArtifacts(notKept.Count, notKept.Take(5).ToList()),
        };
    }

    /// <summary>Topmost added paths and changed leaves (to fetch), and deletions, of a sorted change list.</summary>
    private static (List<string> Fetch, List<string> Delete) Roots(SortedDictionary<string, PathChangeKind> changes)
    {
        var added = changes.Where(kv => kv.Value == PathChangeKind.Added).Select(kv => kv.Key).ToHashSet(StringComparer.Ordinal);
        var fetch = new List<string>();
        var delete = new List<string>();
        var ordered = changes.Keys.ToList();
        for (var i = 0; i < ordered.Count; i++)
        {
            var path = ordered[i];
            if (UnderAny(path, added, includeSelf: false))
            {
                continue;
            }

            switch (changes[path])
            {
                case PathChangeKind.Deleted:
                    delete.Add(path);
                    break;
                case PathChangeKind.Added:
                    fetch.Add(path);
                    break;
                default:
                    // Sorted order puts a folder's children right after it ('/' sorts before most names, so scan the run).
                    if (!HasChild(ordered, i))
                    {
                        fetch.Add(path);
                    }

                    break;
            }
        }

        return (fetch, delete);
    }

    /// <summary>
    /// Roots with more than <see cref="MaxRootsPerFolder"/> siblings replaced by their folder, deepest first
    /// (the archive of a changed folder is its whole current content). A folder that is, holds or lies under an
    /// artefact is never fetched whole, so setup's own files never come back as the task's; nor is the workspace itself.
    /// </summary>
    private static List<string> Crowded(List<string> fetch, IReadOnlySet<string> artifacts)
    {
        var roots = new HashSet<string>(fetch, StringComparer.Ordinal);
        while (true)
        {
            var crowded = roots.Where(r => r.Contains('/'))
                .GroupBy(r => r[..r.LastIndexOf('/')], StringComparer.Ordinal)
                .Where(g => g.Count() > MaxRootsPerFolder && !UnderAny(g.Key, artifacts) && !artifacts.Any(a => a.StartsWith(g.Key + "/", StringComparison.Ordinal)))
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

    private static bool HasChild(List<string> ordered, int index)
    {
        var prefix = ordered[index] + "/";
        for (var j = index + 1; j < ordered.Count; j++)
        {
            if (ordered[j].StartsWith(prefix, StringComparison.Ordinal))
            {
                return true;
            }

            // Names that sort between "dir" and "dir/..." ("dir-x", "dir.y") share the stem; past it, no child can follow.
            if (!ordered[j].StartsWith(ordered[index], StringComparison.Ordinal))
            {
                return false;
            }
        }

        return false;
    }

    private static bool UnderAny(string path, IReadOnlySet<string> roots, bool includeSelf = true)
    {
        if (includeSelf && roots.Contains(path))
        {
            return true;
        }

        for (var slash = path.LastIndexOf('/'); slash > 0; slash = path.LastIndexOf('/', slash - 1))
        {
            if (roots.Contains(path[..slash]))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The engine's change list is JSON: a name that is not UTF-8 arrives with U+FFFD in place of its bad
    /// bytes, so it names no file the archive API could fetch and none the host could delete.
    /// </summary>
    private static TreeFinding? Unnamed(string path) => path.Contains('\uFFFD', StringComparison.Ordinal)
        ? new TreeFinding(TreeFindingKind.UnsafeName, path, "its name is not valid UTF-8 (or holds U+FFFD); it was not kept")
        : null;

    /// <summary>
    /// What to fetch for a change: the path itself, or its topmost parent that the host has as a file or link
    /// (the task made it a folder, so it comes back whole). A parent the host lacks is made as a folder: the
    /// run image had it (an empty folder setup made, which git neither tracks nor lists) and the checkout not.
    /// </summary>
    private static string FetchRoot(string root, string relative)
    {
        var segments = relative.Split('/');
        var path = root;
        for (var i = 0; i < segments.Length - 1; i++)
        {
            path = Path.Combine(path, segments[i]);
            switch (FileKind.Of(path).Type)
            {
                case FileType.Directory:
                    break;
                case FileType.Missing:
                    Directory.CreateDirectory(path);
                    break;
                default:
                    return string.Join('/', segments[..(i + 1)]);
            }
        }

        return relative;
    }

    /// <summary>Null when every parent of <paramref name="relative"/> in the host tree is a plain folder (never a link or file).</summary>
    private static string? UnsafeParent(string root, string relative)
    {
        var segments = relative.Split('/');
        var path = root;
        for (var i = 0; i < segments.Length - 1; i++)
        {
            path = Path.Combine(path, segments[i]);
            var type = FileKind.Of(path).Type;
            if (type != FileType.Directory)
            {
                return type == FileType.Missing
                    ? $"lies under '{string.Join('/', segments[..(i + 1)])}', which the checkout does not have as a folder; it was not kept"
                    : $"lies under '{string.Join('/', segments[..(i + 1)])}', which is a {type.ToString().ToLowerInvariant()} in the checkout; nothing is written through it";
            }
        }

        return null;
    }
}
