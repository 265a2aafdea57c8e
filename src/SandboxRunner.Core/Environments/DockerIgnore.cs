using System.Text;
using System.Text.RegularExpressions;

namespace SandboxRunner.Environments;

/// <summary>
/// A build context's <c>.dockerignore</c>, matched as the docker CLI of Docker 20.10 matches it
/// (<c>pkg/fileutils</c>, <c>builder/dockerignore</c>): one pattern a line, <c>#</c> comments, surrounding spaces
/// trimmed, a leading <c>/</c> dropped and the pattern cleaned like a path; <c>*</c> and <c>?</c> match within one path
/// segment, <c>**</c> any number of segments, <c>[...]</c> a class, <c>\</c> escapes; <c>!</c> re-includes. The last
/// pattern that matches a path or one of its parent folders decides. What is excluded is not sent to the engine,
/// so neither a <c>COPY</c> nor the cache key sees it.
/// </summary>
public sealed class DockerIgnore
{
    private readonly IReadOnlyList<(Regex Pattern, bool Exclusion)> _patterns;

    private DockerIgnore(IReadOnlyList<(Regex, bool)> patterns) => _patterns = patterns;

    public static DockerIgnore None { get; } = new([]);

    public static DockerIgnore Parse(string text)
    {
        var patterns = new List<(Regex, bool)>();
        foreach (var raw in text.TrimStart('\uFEFF').Split('\n'))
        {
            if (raw.StartsWith('#'))
            {
                continue;
            }

            var pattern = raw.Trim();
            if (pattern.Length == 0)
            {
                continue;
            }

            var exclusion = pattern[0] == '!';
            if (exclusion)
            {
                pattern = pattern[1..].Trim();
            }

            if (pattern.Length > 0)
            {
                pattern = Clean(pattern);
                if (pattern.Length > 1 && pattern[0] == '/')
                {
                    pattern = pattern[1..];
                }
            }

            if (Compile(pattern) is { } regex)
            {
                patterns.Add((regex, exclusion));
            }
        }

        return new DockerIgnore(patterns);
    }

    /// <summary>Whether <paramref name="path"/> (relative, <c>/</c>-separated) is left out of the context.</summary>
    public bool Excludes(string path)
    {
        var parents = path.Split('/')[..^1];
        var matched = false;
        foreach (var (pattern, exclusion) in _patterns)
        {
            // An inclusion cannot change a path already excluded, nor an exclusion one not yet excluded.
            if (exclusion != matched)
            {
                continue;
            }

            var match = pattern.IsMatch(path);
            for (var i = 1; !match && i <= parents.Length; i++)
            {
                match = pattern.IsMatch(string.Join('/', parents[..i]));
            }

            if (match)
            {
                matched = !exclusion;
            }
        }

        return matched;
    }

    /// <summary>Go's <c>filepath.Clean</c>: repeated slashes, <c>.</c> segments and <c>..</c> after a name removed.</summary>
    private static string Clean(string path)
    {
        var rooted = path.StartsWith('/');
        var segments = new List<string>();
        foreach (var segment in path.Split('/'))
        {
            if (segment is "" or ".")
            {
                continue;
            }

            if (segment == ".." && segments.Count > 0 && segments[^1] != "..")
            {
                segments.RemoveAt(segments.Count - 1);
            }
            else if (segment != ".." || !rooted)
            {
                segments.Add(segment);
            }
        }

        var cleaned = string.Join('/', segments);
        return rooted ? "/" + cleaned : cleaned.Length == 0 ? "." : cleaned;
    }

    /// <summary>The pattern as a whole-path regular expression, or null when it cannot be one (a bad class: Docker refuses the file).</summary>
    private static Regex? Compile(string pattern)
    {
        var regex = new StringBuilder("^");
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            switch (c)
            {
                case '*' when i + 1 < pattern.Length && pattern[i + 1] == '*':
                    i++;
                    if (i + 1 < pattern.Length && pattern[i + 1] == '/')
                    {
                        i++;
                    }

                    regex.Append(i + 1 >= pattern.Length ? ".*" : "(.*/)?");
                    break;
                case '*':
                    regex.Append("[^/]*");
                    break;
                case '?':
                    regex.Append("[^/]");
                    break;
                case '\\' when i + 1 < pattern.Length:
                    regex.Append(Regex.Escape(pattern[++i].ToString()));
                    break;
                case '[' or ']':
                    regex.Append(c);
                    break;
                default:
                    regex.Append(Regex.Escape(c.ToString()));
                    break;
            }
        }

        try
        {
            return new Regex(regex.Append('$').ToString(), RegexOptions.CultureInvariant | RegexOptions.NonBacktracking);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }
}
