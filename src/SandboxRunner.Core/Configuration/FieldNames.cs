namespace SandboxRunner.Configuration;

/// <summary>The known field a mistyped one most likely meant, for "did you mean" in a refusal.</summary>
public static class FieldNames
{
    /// <summary>
    /// The known name <paramref name="given"/> is a typo of: the same once case, <c>_</c> and <c>-</c> are ignored
    /// (<c>defaultConcurrency</c>), or one edit apart (two for long names: <c>default_concurency</c>); null when none is.
    /// </summary>
    public static string? Nearest(string given, IEnumerable<string> known)
    {
        if (given.Length > 64)
        {
            return null;
        }

        var squashed = Squash(given);
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var name in known)
        {
            var distance = Squash(name) == squashed ? 0 : Distance(name, given);
            if (distance < bestDistance && distance <= (name.Length >= 12 ? 2 : 1))
            {
                best = name;
                bestDistance = distance;
            }
        }

        return best;
    }

    /// <summary>The refusal of an unknown field: the name it was probably meant to be, then every known one.</summary>
    public static string Unknown(string given, IReadOnlyList<string> known) =>
        $"is not a known field{(Nearest(given, known) is { } near ? $" (did you mean \"{near}\"?)" : "")}; the fields are {string.Join(", ", known)}";

    private static string Squash(string name) => new(name.Where(c => c is not ('_' or '-')).Select(char.ToLowerInvariant).ToArray());

    /// <summary>Edits (insert, delete, replace, swap two neighbours) between two names.</summary>
    private static int Distance(string a, string b)
    {
        if (Math.Abs(a.Length - b.Length) > 2)
        {
            return int.MaxValue;
        }

        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }
}
