using Microsoft.Extensions.FileSystemGlobbing;
using SandboxRunner.Configuration;

namespace SandboxRunner.Policy;

/// <summary>
/// Which paths a task may change. Checked against the paths found changed in the task's tree (never the
/// agent's claims), with Microsoft.Extensions.FileSystemGlobbing patterns relative to the repository root.
/// Dotfiles are ordinary paths: <c>.env</c> must be allowed like any other file.
/// </summary>
public sealed class PathPolicy
{
    private readonly Matcher _matcher;

    public PathPolicy(IReadOnlyList<string> patterns)
    {
        Patterns = patterns;
        _matcher = new Matcher(StringComparison.Ordinal);
        _matcher.AddIncludePatterns(GlobPatterns.ExpandAll(patterns));
    }

    public IReadOnlyList<string> Patterns { get; }

    /// <summary>Whether a repository-relative, '/'-separated path matches one of the patterns.</summary>
    public bool Allows(string path) => _matcher.Match(path).HasMatches;

    /// <summary>The violations among <paramref name="changedPaths"/>, which are relative to <paramref name="treeRoot"/>.</summary>
    public IReadOnlyList<Violation> Check(string treeRoot, IEnumerable<string> changedPaths) =>
        Check(changedPaths, DiskLinks(treeRoot));

    /// <summary>A link reader over a folder on disk: the link text at a tree-relative path, never following it.</summary>
    public static Func<string, string?> DiskLinks(string treeRoot) => relative => new FileInfo(Path.Combine(treeRoot, relative)).LinkTarget;

    /// <summary>
    /// The violations among <paramref name="changedPaths"/>, with links read by <paramref name="readLink"/>
    /// (tree-relative path to link text, null when it is not a link): from disk after a task, or from a
    /// commit's tree when a branch is judged again before it is applied.
    /// </summary>
    public IReadOnlyList<Violation> Check(IEnumerable<string> changedPaths, Func<string, string?> readLink)
    {
        var violations = new List<Violation>();
        foreach (var path in changedPaths)
        {
            if (UnsafePathRule(path) is { } unsafeRule)
            {
                violations.Add(Violation.ForPath(ViolationKind.UnsafePath, path, unsafeRule));
                continue;
            }

            var segments = path.Split('/');
            if (segments.Any(IsGitFolderName))
            {
                violations.Add(Violation.ForPath(ViolationKind.GitDirectory, path, "nothing under a .git folder may change"));
                continue;
            }

            if (LookAlikeRule(segments) is { } lookAlike)
            {
                violations.Add(Violation.ForPath(ViolationKind.UnsafePath, path, lookAlike));
                continue;
            }

            if (GitControlFiles.Contains(segments[^1]))
            {
                violations.Add(Violation.ForPath(ViolationKind.GitControlFile, path,
                    $"is a git control file ({segments[^1]} changes how git reads, diffs or fetches the tree); review and apply it by hand"));
            }

            if (!Allows(path))
            {
                violations.Add(Violation.ForPath(ViolationKind.PathNotAllowed, path, $"matches none of the allowed paths ({string.Join(", ", Patterns)})"));
            }

            if (SymlinkEscape(readLink, path) is { } target)
            {
                violations.Add(Violation.ForPath(ViolationKind.SymlinkEscape, path, $"is a symlink to '{target}', outside the worktree"));
            }
            else if (ResolveLink(readLink, path) is { } resolved)
            {
                // A link into .git or to a path the task may not change is a way to change it after apply.
                if (resolved.Split('/').Any(IsGitFolderName))
                {
                    violations.Add(Violation.ForPath(ViolationKind.GitDirectory, path, $"is a symlink into a .git folder ('{resolved}')"));
                }
                else if (resolved.Length > 0 && !Allows(resolved))
                {
                    violations.Add(Violation.ForPath(ViolationKind.PathNotAllowed, path, $"is a symlink to '{resolved}', which matches none of the allowed paths"));
                }
            }
        }

        return violations;
    }

    /// <summary>
    /// Whether every path a task pattern can match is matched by one of the config's patterns. Decided
    /// conservatively, by sampling: the task pattern is normalised the way the globbing library reads it
    /// (<c>\</c> is a separator, a trailing <c>/</c> means <c>/**</c>), each <c>**</c> in it is expanded to zero,
    /// one and three folders, and every expansion, read as a literal path (so a <c>*</c> in it only matches a
    /// config <c>*</c>), must be matched by the same config pattern.
    /// </summary>
    public static bool IsNarrowing(string taskPattern, IReadOnlyList<string> configPatterns)
    {
        var expandedConfig = GlobPatterns.ExpandAll(configPatterns);
        return GlobPatterns.Expand(taskPattern).All(task => IsNarrowingOne(task, expandedConfig));
    }

    private static bool IsNarrowingOne(string taskPattern, IReadOnlyList<string> configPatterns)
    {
        var normalized = taskPattern.Replace('\\', '/');
        if (normalized.EndsWith('/'))
        {
            normalized += "**";
        }

        var samples = Expand(normalized.Split('/', StringSplitOptions.RemoveEmptyEntries)).ToList();
        return configPatterns.Any(configPattern =>
        {
            var matcher = new Matcher(StringComparison.Ordinal);
            matcher.AddInclude(configPattern);
            return samples.All(sample => matcher.Match(sample).HasMatches);
        });
    }

    /// <summary>The task pattern with each <c>**</c> replaced by sample folders; a trailing one by sample files.</summary>
    private static IEnumerable<string> Expand(string[] segments)
    {
        var globstar = Array.IndexOf(segments, "**");
        if (globstar < 0)
        {
            yield return string.Join('/', segments);
            yield break;
        }

        var before = segments[..globstar];
        var after = segments[(globstar + 1)..];
        string[][] fillings = after.Length == 0 ? [["d1"], ["d1", "d2", "d3"]] : [[], ["d1"], ["d1", "d2", "d3"]];
        foreach (var filling in fillings)
        {
            foreach (var rest in Expand(after))
            {
                yield return string.Join('/', before.Concat(filling).Append(rest).Where(s => s.Length > 0));
            }
        }
    }

    /// <summary>Files in the tree that tell git how to read it: changing them is changing git's behaviour for whoever applies the patch.</summary>
    private static readonly HashSet<string> GitControlFiles = new(StringComparer.OrdinalIgnoreCase) { ".gitattributes", ".gitmodules" };

    /// <summary>`.git` as git itself would take it on some filesystem: any case, NTFS's trailing dots and spaces.</summary>
    private static bool IsGitFolderName(string segment) =>
        segment.TrimEnd('.', ' ').Equals(".git", StringComparison.OrdinalIgnoreCase)
        || segment.Equals("git~1", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Names that look like other names to a person or to another filesystem: invisible format characters
    /// (zero-width joiners, bidi controls) anywhere, and segments that read as <c>.git</c> once normalised
    /// (full-width letters, ligatures), which HFS+ and some tools would fold into it.
    /// </summary>
    internal static string? LookAlikeRule(IReadOnlyList<string> segments)
    {
        foreach (var segment in segments)
        {
            if (segment.Any(c => char.GetUnicodeCategory(c) == System.Globalization.UnicodeCategory.Format))
            {
                return $"contains an invisible format character (U+{(int)segment.First(c => char.GetUnicodeCategory(c) == System.Globalization.UnicodeCategory.Format):X4})";
            }

            if (!segment.All(char.IsAscii))
            {
                string folded;
                try
                {
                    folded = segment.Normalize(System.Text.NormalizationForm.FormKC);
                }
                catch (ArgumentException)
                {
                    return "is not valid Unicode";
                }

                if (IsGitFolderName(folded) || GitControlFiles.Contains(folded))
                {
                    return $"reads as '{folded}' once normalised";
                }
            }
        }

        return null;
    }

    internal static string? UnsafePathRule(string path)
    {
        if (path.Length == 0)
        {
            return "is empty";
        }

        if (path.StartsWith('/') || path.StartsWith('\\') || (path.Length > 1 && path[1] == ':'))
        {
            return "is an absolute path";
        }

        if (path.Split('/', '\\').Any(s => s is ".." or "."))
        {
            return "contains a '.' or '..' segment";
        }

        if (path.Contains('\uFFFD', StringComparison.Ordinal))
        {
            // git reported bytes that are not UTF-8: the name cannot be shown or checked faithfully.
            return "contains bytes that are not valid UTF-8";
        }

        return path.Any(char.IsControl) ? "contains a control character" : null;
    }

    /// <summary>
    /// The target of a symlink at <paramref name="path"/> when it leaves the tree, or null. The target is
    /// resolved by reading link texts component by component (never by opening anything through a link),
    /// so a chain of in-tree links that ends outside is caught too.
    /// </summary>
    internal static string? SymlinkEscape(string treeRoot, string path) => SymlinkEscape(DiskLinks(treeRoot), path);

    /// <summary>Where an in-tree symlink at <paramref name="path"/> leads, tree-relative; null when it is no link, escapes, or loops.</summary>
    internal static string? ResolveLink(Func<string, string?> readLink, string path) =>
        Resolve(readLink, path) is (false, { } resolved) ? resolved : null;

    internal static string? SymlinkEscape(Func<string, string?> readLink, string path) =>
        Resolve(readLink, path) is (true, { } target) ? target : null;

    /// <summary>(escapes, link text) when the link leaves the tree; (false, resolved path) when it stays; (false, null) otherwise.</summary>
    private static (bool Escapes, string? Where) Resolve(Func<string, string?> readLink, string path)
    {
        if (readLink(path) is not { } target)
        {
            return (false, null);
        }

        var inside = new List<string>(path.Split('/')[..^1]);
        var pending = new LinkedList<string>(target.Split('/'));
        if (Path.IsPathRooted(target))
        {
            return (true, target);
        }

        for (var hops = 0; pending.Count > 0;)
        {
            var segment = pending.First!.Value;
            pending.RemoveFirst();
            if (segment is "" or ".")
            {
                continue;
            }

            if (segment == "..")
            {
                if (inside.Count == 0)
                {
                    return (true, target);
                }

                inside.RemoveAt(inside.Count - 1);
                continue;
            }

            inside.Add(segment);
            var next = readLink(string.Join('/', inside));
            if (next is null)
            {
                continue;
            }

            if (Path.IsPathRooted(next))
            {
                return (true, target);
            }

            if (++hops > 40)
            {
                // The kernel gives up after 40 links too (ELOOP): a loop leads nowhere, so it escapes nowhere.
                return (false, null);
            }

            inside.RemoveAt(inside.Count - 1);
            foreach (var part in next.Split('/').Reverse())
            {
                pending.AddFirst(part);
            }
        }

        return (false, string.Join('/', inside));
    }
}
