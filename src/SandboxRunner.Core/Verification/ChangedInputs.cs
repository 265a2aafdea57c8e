using SandboxRunner.Policy;

namespace SandboxRunner.Verification;

/// <summary>
/// Which of a task's changed paths a verify command's meaning depends on: those the plan's input globs match,
/// and those the verify commands name themselves (<c>bash scripts/test.sh</c> names the script,
/// <c>pytest tests/unit</c> everything under that folder). Judged by words only: a command is never run to
/// find out what it reads.
/// </summary>
public static class ChangedInputs
{
    public static IReadOnlyList<string> Find(IReadOnlyList<string> changedFiles, VerifyPlan plan)
    {
        if (!plan.Any || changedFiles.Count == 0)
        {
            return [];
        }

        var (named, globs) = NamedBy(plan.Commands);
        var matcher = new PathPolicy([.. plan.Inputs, .. globs]);
        return changedFiles
            .Where(path => matcher.Allows(path) || named.Any(n => path == n || path.StartsWith(n + "/", StringComparison.Ordinal)))
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>
    /// The repository-relative paths and globs the commands' words name: every word that could be a path in the
    /// tree (not an option, not a URL, not absolute, no <c>..</c>), and the value of <c>--option=value</c>.
    /// </summary>
    internal static (IReadOnlyList<string> Paths, IReadOnlyList<string> Globs) NamedBy(IReadOnlyList<string> commands)
    {
        var paths = new HashSet<string>(StringComparer.Ordinal);
        var globs = new HashSet<string>(StringComparer.Ordinal);
        foreach (var command in commands)
        {
            foreach (var word in ShellCommand.Parse(command).SimpleCommands.SelectMany(c => c))
            {
                var candidate = word.StartsWith('-') ? word.IndexOf('=', StringComparison.Ordinal) is var eq and > 0 ? word[(eq + 1)..] : "" : word;
                if (PathOf(candidate) is not { } path)
                {
                    continue;
                }

                (path.AsSpan().IndexOfAny('*', '?', '[') >= 0 ? globs : paths).Add(path);
            }
        }

        return (paths.ToList(), globs.ToList());
    }

    private static string? PathOf(string word)
    {
        while (word.StartsWith("./", StringComparison.Ordinal))
        {
            word = word[2..];
        }

        word = word.TrimEnd('/');
        if (word.Length == 0 || word == "." || word.Contains("://", StringComparison.Ordinal) || word.Contains('$') || word.Any(char.IsControl))
        {
            return null;
        }

        // Only what could name a path inside the tree: relative, without a '..' segment.
        return word.StartsWith('/') || word.StartsWith('~') || word.Split('/').Contains("..") ? null : word;
    }
}
