using SandboxRunner.Git;

namespace SandboxRunner.Environments;

/// <summary>
/// What a failed setup is told about the files it sees: only those <c>cache_keys</c> matches. When its log names
/// a path the repository has at the base commit but the view left out (<c>cannot open 'src/calc/__init__.py'</c>),
/// the message names that path and the option to extend; otherwise it says what setup saw and the same fix.
/// </summary>
public static class SetupView
{
    private static readonly char[] Separators = [' ', '\t', '\'', '"', '`', '(', ')', '[', ']', '{', '}', ',', ';', '=', '<', '>', '|'];

    public static string Hint(string name, IReadOnlyList<TrackedPath> view, BaseTree tree, IReadOnlyList<string> tail)
    {
        var field = $"{SetupKey.FieldOf(name)}.cache_keys";
        var sees = view.Count == 0
            ? "no file of the repository"
            : $"only the {view.Count} file(s) {field} matches ({string.Join(", ", view.Take(5).Select(f => f.Path))}{(view.Count > 5 ? ", ..." : "")})";
        var missing = Missing(tail, view, tree).Take(3).ToList();
        return missing.Count > 0
            ? $"Setup sees {sees}. Its log names {string.Join(", ", missing.Select(m => $"'{m}'"))}, which the repository has at the base commit but {field} does not cover: add it (or a glob that matches it) to {field}."
            : $"Setup sees {sees}; if a command needed another file of the repository, add it (or a glob that matches it) to {field}.";
    }

    /// <summary>Paths in the log's last lines that the base commit tracks (a file, or a folder holding files) but the view does not hold.</summary>
    internal static IEnumerable<string> Missing(IReadOnlyList<string> tail, IReadOnlyList<TrackedPath> view, BaseTree tree)
    {
        var seen = view.Select(f => f.Path).ToHashSet(StringComparer.Ordinal);
        var folders = new Lazy<HashSet<string>>(() => tree.Tracked.Keys.SelectMany(Parents).ToHashSet(StringComparer.Ordinal));
        var found = new HashSet<string>(StringComparer.Ordinal);
        foreach (var token in tail.SelectMany(line => line.Split(Separators, StringSplitOptions.RemoveEmptyEntries)))
        {
            var path = token.TrimEnd('.', ':', '!', '?');
            foreach (var prefix in (string[])["/workspace/", "./"])
            {
                if (path.StartsWith(prefix, StringComparison.Ordinal))
                {
                    path = path[prefix.Length..];
                }
            }

            path = path.TrimEnd('/');
            var inRepository = tree.Tracked.ContainsKey(path) && !seen.Contains(path) || (path.Length > 0 && folders.Value.Contains(path) && !seen.Any(s => s.StartsWith(path + "/", StringComparison.Ordinal)));
            if (inRepository && found.Add(path))
            {
                yield return path;
            }
        }
    }

    private static IEnumerable<string> Parents(string path)
    {
        for (var slash = path.IndexOf('/'); slash > 0; slash = path.IndexOf('/', slash + 1))
        {
            yield return path[..slash];
        }
    }
}
