namespace SandboxRunner.Policy;

/// <summary>What a <c>sed</c> command's script does beyond editing text.</summary>
/// <param name="Unjudgeable">Why it may run a command (the <c>e</c> command or flag, a script read from a file, a script the audit cannot read), or null.</param>
/// <param name="Writes">Whether it writes a file its script names (<c>w</c>, <c>W</c>, the <c>s///w</c> flag): outside the baseline.</param>
internal sealed record SedFindings(string? Unjudgeable, bool Writes);

/// <summary>
/// Reads GNU sed's command line and script far enough to find the commands that run a program (<c>e</c>, and
/// <c>s///e</c>) or write a file (<c>w</c>, <c>W</c>, <c>s///w</c>). A script it cannot read is unjudgeable, never
/// passed: a misread would hide an <c>e</c>.
/// </summary>
internal static class SedScript
{
    private static readonly HashSet<string> Flags = new(StringComparer.Ordinal)
    {
        "null-data", "zero-terminated", "quiet", "silent", "regexp-extended", "separate", "unbuffered", "binary", "posix", "debug",
        "sandbox", "follow-symlinks", "help", "version",
    };

    /// <param name="command">The words, with the lexer's marks (<see cref="ShellLexer.Unknown"/>) or without.</param>
    public static SedFindings Examine(IReadOnlyList<string> marked)
    {
        if (ScriptWords(marked).Any(ShellLexer.HasUnknown))
        {
            return new SedFindings("sed's script is filled in by bash (a variable, a command's output or a glob)", false);
        }

        var command = marked.Select(ShellLexer.Unmarked).ToList();
        var scripts = new List<string>();
        var operands = new List<string>();
        for (var i = 1; i < command.Count; i++)
        {
            var word = command[i];
            if (word == "--")
            {
                operands.AddRange(command.Skip(i + 1));
                break;
            }

            if (word.StartsWith("--", StringComparison.Ordinal))
            {
                var eq = word.IndexOf('=', StringComparison.Ordinal);
                var name = eq < 0 ? word[2..] : word[2..eq];
                switch (name)
                {
                    case "expression":
                        scripts.Add(eq >= 0 ? word[(eq + 1)..] : i + 1 < command.Count ? command[++i] : "");
                        break;
                    case "file":
                        return new SedFindings("sed --file reads its script from a file the audit cannot see", false);
                    case "line-length":
                        i += eq < 0 ? 1 : 0;
                        break;
                    case "in-place":
                        break;
                    case var flag when Flags.Contains(flag) && eq < 0:
                        break;
                    default:
                        return new SedFindings($"sed option --{name} is not one the audit can read past", false);
                }

                continue;
            }

            if (word.Length < 2 || word[0] != '-')
            {
                operands.Add(word);
                continue;
            }

            for (var j = 1; j < word.Length; j++)
            {
                var c = word[j];
                if (c is 'n' or 'E' or 'r' or 's' or 'u' or 'z' or 'b')
                {
                    continue;
                }

                if (c == 'i')
                {
                    break; // the rest of the word is the backup suffix
                }

                if (c is 'e' or 'l')
                {
                    var value = j + 1 < word.Length ? word[(j + 1)..] : i + 1 < command.Count ? command[++i] : "";
                    if (c == 'e')
                    {
                        scripts.Add(value);
                    }

                    break;
                }

                return c == 'f'
                    ? new SedFindings("sed -f reads its script from a file the audit cannot see", false)
                    : new SedFindings($"sed option -{c} is not one the audit can read past", false);
            }
        }

        if (scripts.Count == 0 && operands.Count > 0)
        {
            scripts.Add(operands[0]);
        }

        var writes = false;
        foreach (var script in scripts)
        {
            var reader = new SedScriptReader(script);
            if (reader.Read() is { } reason)
            {
                return new SedFindings(reason, false);
            }

            writes |= reader.Writes;
        }

        return new SedFindings(null, writes);
    }

    /// <summary>The words that are scripts: each <c>-e</c>/<c>--expression</c> value, else the first operand.</summary>
    private static IEnumerable<string> ScriptWords(IReadOnlyList<string> command)
    {
        var found = false;
        for (var i = 1; i < command.Count; i++)
        {
            var word = ShellLexer.Unmarked(command[i]);
            if (word == "--")
            {
                if (!found && i + 1 < command.Count)
                {
                    yield return command[i + 1];
                }

                yield break;
            }

            if (word is "-e" or "--expression" && i + 1 < command.Count)
            {
                found = true;
                yield return command[++i];
            }
            else if (word.StartsWith("--expression=", StringComparison.Ordinal) || (word.StartsWith("-e", StringComparison.Ordinal) && !word.StartsWith("--", StringComparison.Ordinal)) || (word.StartsWith('-') && !word.StartsWith("--", StringComparison.Ordinal) && word.Contains('e', StringComparison.Ordinal)))
            {
                found = true;
                yield return command[i];
            }
            else if (!found && !word.StartsWith('-'))
            {
                found = true;
                yield return command[i];
            }
        }
    }
}
