namespace SandboxRunner.Configuration;

/// <summary>
/// The path patterns of the config and of tasks (<c>default_allowed_paths</c>, <c>allowed_paths</c>,
/// <c>cache_keys</c>) as users write them. Microsoft.Extensions.FileSystemGlobbing reads <c>*</c> and <c>**</c>
/// only, so brace alternatives (<c>src/*.{js,ts}</c>) are expanded here into the patterns it reads, and a
/// <c>?</c>, which it would take for a literal character, is refused where the config is read.
/// </summary>
public static class GlobPatterns
{
    /// <summary>Most patterns one pattern's braces may expand into.</summary>
    public const int MaxExpansions = 64;

    /// <summary>Why <paramref name="pattern"/> cannot be read as the user meant it, or null.</summary>
    public static string? Problem(string pattern)
    {
        var depth = 0;
        foreach (var c in pattern)
        {
            depth += c switch { '{' => 1, '}' => -1, _ => 0 };
            if (depth < 0)
            {
                return "has a '}' without its '{'; braces list alternatives, as in src/*.{js,ts}";
            }
        }

        if (depth > 0)
        {
            return "has a '{' without its '}'; braces list alternatives, as in src/*.{js,ts}";
        }

        if (pattern.Contains('?', StringComparison.Ordinal))
        {
            return "uses '?', which the path matcher reads as a literal '?', not as any one character; use '*' (src/file*.js)";
        }

        return Expand(pattern, MaxExpansions + 1).Count > MaxExpansions ? $"has braces that expand to more than {MaxExpansions} patterns; list fewer alternatives" : null;
    }

    /// <summary>The patterns <paramref name="pattern"/>'s braces stand for (itself when it has none), at most <paramref name="limit"/>.</summary>
    public static IReadOnlyList<string> Expand(string pattern, int limit = MaxExpansions)
    {
        var expanded = new List<string>();
        ExpandInto(pattern, 0, expanded, limit);
        return expanded;
    }

    /// <summary>Every pattern of <paramref name="patterns"/>, expanded.</summary>
    public static IReadOnlyList<string> ExpandAll(IEnumerable<string> patterns) => patterns.SelectMany(p => Expand(p)).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>Expands the first brace group at or after <paramref name="from"/> that lists alternatives; a group without a comma is literal, as in bash.</summary>
    private static void ExpandInto(string pattern, int from, List<string> expanded, int limit)
    {
        for (var open = pattern.IndexOf('{', from); open >= 0 && expanded.Count < limit; open = pattern.IndexOf('{', open + 1))
        {
            var alternatives = new List<string>();
            var start = open + 1;
            var depth = 0;
            var close = -1;
            for (var i = open + 1; i < pattern.Length && close < 0; i++)
            {
                switch (pattern[i])
                {
                    case '{':
                        depth++;
                        break;
                    case '}' when depth > 0:
                        depth--;
                        break;
                    case '}':
                        alternatives.Add(pattern[start..i]);
                        close = i;
                        break;
                    case ',' when depth == 0:
                        alternatives.Add(pattern[start..i]);
                        start = i + 1;
                        break;
                }
            }

            if (close < 0)
            {
                break;
            }

            if (alternatives.Count > 1)
            {
                foreach (var alternative in alternatives)
                {
                    // What precedes the group has no alternatives left, so the next expansion starts where this one did.
                    ExpandInto(pattern[..open] + alternative + pattern[(close + 1)..], open, expanded, limit);
                }

                return;
            }
        }

        if (expanded.Count < limit)
        {
            expanded.Add(pattern);
        }
    }
}
