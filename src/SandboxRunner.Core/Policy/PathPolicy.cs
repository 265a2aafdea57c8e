using Microsoft.Extensions.FileSystemGlobbing;

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
        _matcher.AddIncludePatterns(patterns);
    }

    public IReadOnlyList<string> Patterns { get; }

    /// <summary>Whether a repository-relative, '/'-separated path matches one of the patterns.</summary>
    public bool Allows(string path) => _matcher.Match(path).HasMatches;

    /// <summary>The violations among <paramref name="changedPaths"/>, which are relative to <paramref name="treeRoot"/>.</summary>
    public IReadOnlyList<Violation> Check(string treeRoot, IEnumerable<string> changedPaths)
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
            if (segments.Any(s => s.Equals(".git", StringComparison.OrdinalIgnoreCase)))
            {
                violations.Add(Violation.ForPath(ViolationKind.GitDirectory, path, "nothing under a .git folder may change"));
                continue;
            }

            if (!Allows(path))
            {
                violations.Add(Violation.ForPath(ViolationKind.PathNotAllowed, path, $"matches none of the allowed paths ({string.Join(", ", Patterns)})"));
            }

            if (SymlinkEscape(treeRoot, path) is { } target)
            {
                violations.Add(Violation.ForPath(ViolationKind.SymlinkEscape, path, $"is a symlink to '{target}', outside the worktree"));
            }
        }

        return violations;
    }

    /// <summary>
    /// Whether every path a task pattern can match is matched by one of the config's patterns. Decided
    /// conservatively: the task pattern, read as a literal path, must match a config pattern, and a
    /// <c>**</c> in it must be covered by a <c>**</c> at or before the same depth in that pattern.
    /// </summary>
    public static bool IsNarrowing(string taskPattern, IReadOnlyList<string> configPatterns)
    {
        var taskSegments = taskPattern.Split('/');
        var firstGlobstar = Array.IndexOf(taskSegments, "**");
        foreach (var configPattern in configPatterns)
        {
            var matcher = new Matcher(StringComparison.Ordinal);
            matcher.AddInclude(configPattern);
            if (!matcher.Match(taskPattern).HasMatches)
            {
                continue;
            }

            if (firstGlobstar < 0)
            {
                return true;
            }

            var configGlobstar = Array.IndexOf(configPattern.Split('/'), "**");
            if (configGlobstar >= 0 && configGlobstar <= firstGlobstar)
            {
                return true;
            }
        }

        return false;
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

        return path.Any(char.IsControl) ? "contains a control character" : null;
    }

    /// <summary>
    /// The target of a symlink at <paramref name="path"/> when it leaves the tree, or null. The target is
    /// resolved by reading link texts component by component (never by opening anything through a link),
    /// so a chain of in-tree links that ends outside is caught too.
    /// </summary>
    internal static string? SymlinkEscape(string treeRoot, string path)
    {
        var full = Path.Combine(treeRoot, path);
        if (new FileInfo(full).LinkTarget is not { } target)
        {
            return null;
        }

        var inside = new List<string>(path.Split('/')[..^1]);
        var pending = new LinkedList<string>(target.Split('/'));
        if (Path.IsPathRooted(target))
        {
            return target;
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
                    return target;
                }

                inside.RemoveAt(inside.Count - 1);
                continue;
            }

            inside.Add(segment);
            var next = new FileInfo(Path.Combine([treeRoot, .. inside])).LinkTarget;
            if (next is null)
            {
                continue;
            }

            if (Path.IsPathRooted(next) || ++hops > 40)
            {
                return target;
            }

            inside.RemoveAt(inside.Count - 1);
            foreach (var part in next.Split('/').Reverse())
            {
                pending.AddFirst(part);
            }
        }

        return null;
    }
}
